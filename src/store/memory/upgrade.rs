//! The storage format gate in the embedded store: one process, so its announcements are
//! its own; it keeps the same rules as Redis so the conformance suite holds both to them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::store::format::{refusers, FinalizeOutcome, FormatStatus, ReplicaFormat, StorageFormat};
use crate::store::{StoreError, UpgradeStore};

#[async_trait]
impl UpgradeStore for MemoryStore {
    async fn announce_format(&self, replica: &ReplicaFormat) -> Result<StorageFormat, StoreError> {
        let mut formats = self.formats();
        formats.replicas.retain(|r| r.replica != replica.replica);
        formats.replicas.push(replica.clone());
        self.format_gate.follow(formats.write);
        Ok(formats.write)
    }

    async fn format_status(&self, now: DateTime<Utc>) -> Result<FormatStatus, StoreError> {
        let formats = self.formats();
        let announced = formats.replicas.iter().cloned();
        Ok(FormatStatus::live(formats.write, announced, now))
    }

    async fn finalize_format(
        &self,
        format: StorageFormat,
        now: DateTime<Utc>,
    ) -> Result<FinalizeOutcome, StoreError> {
        let mut formats = self.formats();
        formats.replicas.retain(|r| r.alive(now));
        let refused = refusers(formats.replicas.iter().cloned(), format, now);
        if !refused.is_empty() {
            return Ok(FinalizeOutcome::Refused { replicas: refused });
        }
        formats.write = formats.write.max(format);
        self.format_gate.follow(formats.write);
        Ok(FinalizeOutcome::Finalized {
            write: formats.write,
        })
    }
}
