//! The release and storage-format gauges: which version each replica runs, which format
//! it reads and which the deployment writes (`store::format`).

use prometheus::{IntGaugeVec, Opts, Registry};

#[derive(Clone)]
pub struct UpgradeMetrics {
    storage_format: IntGaugeVec,
}

impl UpgradeMetrics {
    pub fn register(registry: &Registry, version: &str) -> Result<Self, prometheus::Error> {
        let build_info = IntGaugeVec::new(
            Opts::new(
                "switchboard_build_info",
                "Always 1; the label names this replica's release.",
            ),
            &["version"],
        )?;
        registry.register(Box::new(build_info.clone()))?;
        build_info.with_label_values(&[version]).set(1);
        let storage_format = IntGaugeVec::new(
            Opts::new(
                "switchboard_storage_format",
                "Storage formats: the newest this replica reads (state=read) and the one the deployment writes (state=write); write below read until an operator finalizes.",
            ),
            &["state"],
        )?;
        registry.register(Box::new(storage_format.clone()))?;
        let m = Self { storage_format };
        m.formats(crate::store::format::NEWEST, crate::store::format::PREVIOUS);
        Ok(m)
    }

    pub fn formats(&self, read: u32, write: u32) {
        self.storage_format
            .with_label_values(&["read"])
            .set(i64::from(read));
        self.storage_format
            .with_label_values(&["write"])
            .set(i64::from(write));
    }
}
