//! The data lifecycle's metrics (CONTRACT "Data lifecycle (v3)"): conversations moved
//! to the archive and how far behind the move is, what was redacted, erasures finished.

use prometheus::{Gauge, IntCounter, IntCounterVec, Opts, Registry};

/// What a redaction removed: a card number masked in a text, or a whole entry.
pub const REDACTION_KINDS: [&str; 2] = ["card_number", "message"];

#[derive(Clone)]
pub struct RetentionMetrics {
    archived: IntCounter,
    lag: Gauge,
    redactions: IntCounterVec,
    erasures: IntCounter,
}

impl RetentionMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let archived = IntCounter::new(
            "switchboard_archived_conversations_total",
            "Conversations this replica moved from Redis to the archive tier.",
        )?;
        registry.register(Box::new(archived.clone()))?;
        let lag = Gauge::new(
            "switchboard_archive_lag_seconds",
            "How far past its due time the oldest conversation waiting to be archived is (0: none late).",
        )?;
        registry.register(Box::new(lag.clone()))?;
        let redactions = IntCounterVec::new(
            Opts::new(
                "switchboard_redactions_total",
                "Card numbers masked in texts (card_number) and entries redacted (message).",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(redactions.clone()))?;
        for kind in REDACTION_KINDS {
            redactions.with_label_values(&[kind]);
        }
        let erasures = IntCounter::new(
            "switchboard_erasures_total",
            "Customers' erasures this replica finished.",
        )?;
        registry.register(Box::new(erasures.clone()))?;
        Ok(Self {
            archived,
            lag,
            redactions,
            erasures,
        })
    }

    /// Counts an entry redacted on request.
    pub fn entry_redacted(&self) {
        self.redactions
            .with_label_values(&[REDACTION_KINDS[1]])
            .inc();
    }

    /// Counts `n` card numbers masked.
    pub fn cards_masked(&self, n: usize) {
        if n > 0 {
            self.redactions
                .with_label_values(&[REDACTION_KINDS[0]])
                .inc_by(n as u64);
        }
    }

    pub fn erased(&self) {
        self.erasures.inc();
    }

    pub fn archived(&self, n: usize) {
        self.archived.inc_by(n as u64);
    }

    pub fn lag(&self, seconds: f64) {
        self.lag.set(seconds.max(0.0));
    }
}
