//! The audit trail on Redis: one stream (`P:audit`), trimmed by age as it grows
//! (`XADD MINID ~`), paged by its own ids. One key keeps one order without clocks to
//! reconcile; an `XADD` costs a few µs, far below what the reads it records cost.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::codec::from_redis;
use super::RedisStore;
use crate::domain::{audit_id_parts, AuditEntry};
use crate::store::{AuditStore, StoreError};

#[async_trait]
impl AuditStore for RedisStore {
    async fn record_audit(&self, entry: &AuditEntry, keep: Duration) -> Result<String, StoreError> {
        let oldest = (Utc::now() - keep).timestamp_millis().max(0);
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.keys.audit())
            .arg("MINID")
            .arg("~")
            .arg(oldest)
            .arg("*")
            .arg("at")
            .arg(entry.at.timestamp_millis())
            .arg("actor")
            .arg(&entry.actor)
            .arg("action")
            .arg(&entry.action)
            .arg("target")
            .arg(&entry.target);
        if let Some(id) = &entry.request_id {
            cmd.arg("request_id").arg(id);
        }
        cmd.query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)
    }

    async fn audit_entries(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let start = match after.and_then(audit_id_parts) {
            Some((ms, seq)) => format!("({ms}-{seq}"),
            None => "-".to_owned(),
        };
        let rows: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(self.keys.audit())
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(rows.into_iter().filter_map(entry).collect())
    }

    async fn trim_audit(&self, through: &str) -> Result<(), StoreError> {
        let Some((ms, seq)) = audit_id_parts(through) else {
            return Ok(());
        };
        // Exact (no `~`): entries after `through` may not be in the archive yet.
        let _: i64 = redis::cmd("XTRIM")
            .arg(self.keys.audit())
            .arg("MINID")
            .arg(format!("{ms}-{}", seq + 1))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }
}

/// An entry from its stream id and fields; one that is not (written by hand) is skipped.
fn entry((id, fields): (String, Vec<(String, String)>)) -> Option<AuditEntry> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let at = DateTime::from_timestamp_millis(field("at")?.parse().ok()?)?;
    Some(AuditEntry {
        id,
        at,
        actor: field("actor")?,
        action: field("action")?,
        target: field("target")?,
        request_id: field("request_id"),
    })
}
