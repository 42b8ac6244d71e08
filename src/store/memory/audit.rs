//! The audit trail in the embedded store: a list in order, ids numbered as a Redis stream
//! numbers them, so both stores page alike.

use async_trait::async_trait;
use chrono::{Duration, Utc};

use super::MemoryStore;
use crate::domain::{audit_id_parts, AuditEntry};
use crate::store::{AuditStore, StoreError};

/// The trail and the last id given, so that ids only grow even when the clock stalls.
#[derive(Debug, Default)]
pub(super) struct AuditTrail {
    entries: std::collections::VecDeque<AuditEntry>,
    last: (u64, u64),
}

#[async_trait]
impl AuditStore for MemoryStore {
    async fn record_audit(&self, entry: &AuditEntry, keep: Duration) -> Result<String, StoreError> {
        let mut trail = self.audit.lock().unwrap_or_else(|p| p.into_inner());
        let now = Utc::now();
        let ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        trail.last = match trail.last {
            (last, seq) if last >= ms => (last, seq + 1),
            _ => (ms, 0),
        };
        let id = format!("{}-{}", trail.last.0, trail.last.1);
        // By when it was recorded (its id), as Redis trims a stream.
        let oldest = u64::try_from((now - keep).timestamp_millis()).unwrap_or(0);
        let recorded = |e: &AuditEntry| audit_id_parts(&e.id).map_or(0, |(ms, _)| ms);
        while trail.entries.front().is_some_and(|e| recorded(e) < oldest) {
            trail.entries.pop_front();
        }
        trail.entries.push_back(AuditEntry {
            id: id.clone(),
            ..entry.clone()
        });
        Ok(id)
    }

    async fn audit_entries(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let trail = self.audit.lock().unwrap_or_else(|p| p.into_inner());
        let after = after.and_then(audit_id_parts);
        Ok(trail
            .entries
            .iter()
            .filter(|e| after.is_none_or(|a| audit_id_parts(&e.id).is_some_and(|id| id > a)))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn trim_audit(&self, through: &str) -> Result<(), StoreError> {
        let Some(through) = audit_id_parts(through) else {
            return Ok(());
        };
        let mut trail = self.audit.lock().unwrap_or_else(|p| p.into_inner());
        while trail
            .entries
            .front()
            .is_some_and(|e| audit_id_parts(&e.id).is_some_and(|id| id <= through))
        {
            trail.entries.pop_front();
        }
        Ok(())
    }
}
