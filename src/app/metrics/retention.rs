//! The archive tier's metrics (CONTRACT "Data lifecycle (v3)"): conversations moved, and
//! how far behind the move is.

use prometheus::{Gauge, IntCounter, Registry};

#[derive(Clone)]
pub struct RetentionMetrics {
    archived: IntCounter,
    lag: Gauge,
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
        Ok(Self { archived, lag })
    }

    pub fn archived(&self, n: usize) {
        self.archived.inc_by(n as u64);
    }

    pub fn lag(&self, seconds: f64) {
        self.lag.set(seconds.max(0.0));
    }
}
