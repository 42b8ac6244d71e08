//! The event export's webhook (CONTRACT "Event export (v3)"): events delivered, and pages
//! the outbox gave up on after its retries (dead letters: the consumer misses them
//! until it reads the pull API from an earlier cursor).

use prometheus::{IntCounter, Registry};

#[derive(Clone)]
pub struct ExportMetrics {
    delivered: IntCounter,
    dead_letters: IntCounter,
}

impl ExportMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let delivered = IntCounter::new(
            "switchboard_export_pages_delivered_total",
            "Pages of feed events the export webhook took (2xx).",
        )?;
        let dead_letters = IntCounter::new(
            "switchboard_export_dead_letters_total",
            "Pages of feed events the export webhook never took, its retries spent.",
        )?;
        registry.register(Box::new(delivered.clone()))?;
        registry.register(Box::new(dead_letters.clone()))?;
        Ok(Self {
            delivered,
            dead_letters,
        })
    }

    pub fn delivered(&self) {
        self.delivered.inc();
    }

    pub fn dead_letter(&self) {
        self.dead_letters.inc();
    }
}
