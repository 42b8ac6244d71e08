//! The audit trail's older entries in the archive: written in one statement per batch,
//! read in the trail's order (`<ms>-<seq>`), never changed.

use sqlx::Row;

use super::{unavailable, Archive};
use crate::domain::{audit_id_parts, AuditEntry};
use crate::store::StoreError;

impl Archive {
    /// Stores audit entries (each once, however often a move is retried).
    pub async fn put_audit(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let mut ms = Vec::with_capacity(entries.len());
        let mut seq = Vec::with_capacity(entries.len());
        for e in entries {
            let (m, s) = audit_id_parts(&e.id)
                .ok_or_else(|| StoreError::Corrupt(format!("audit id {}", e.id)))?;
            ms.push(i64::try_from(m).map_err(|_| StoreError::Corrupt(e.id.clone()))?);
            seq.push(i64::try_from(s).map_err(|_| StoreError::Corrupt(e.id.clone()))?);
        }
        let column = |f: fn(&AuditEntry) -> String| entries.iter().map(f).collect::<Vec<_>>();
        sqlx::query(
            "INSERT INTO audit (ms, seq, at, actor, action, target, request_id) \
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::timestamptz[], $4::text[], \
                                  $5::text[], $6::text[], $7::text[]) \
             ON CONFLICT (ms, seq) DO NOTHING",
        )
        .bind(&ms)
        .bind(&seq)
        .bind(entries.iter().map(|e| e.at).collect::<Vec<_>>())
        .bind(column(|e| e.actor.clone()))
        .bind(column(|e| e.action.clone()))
        .bind(column(|e| e.target.clone()))
        .bind(
            entries
                .iter()
                .map(|e| e.request_id.clone())
                .collect::<Vec<_>>(),
        )
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    /// Up to `limit` entries after the id `after` (from the first when `None`), oldest
    /// first.
    pub async fn audit_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        // From the first entry: after (-1, -1), before every id.
        let (ms, seq) = after.and_then(audit_id_parts).map_or((-1, -1), |(m, s)| {
            (
                i64::try_from(m).unwrap_or(i64::MAX),
                i64::try_from(s).unwrap_or(i64::MAX),
            )
        });
        let rows = sqlx::query(
            "SELECT ms, seq, at, actor, action, target, request_id FROM audit \
             WHERE (ms, seq) > ($1, $2) ORDER BY ms, seq LIMIT $3",
        )
        .bind(ms)
        .bind(seq)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                let ms: i64 = r.try_get("ms").map_err(unavailable)?;
                let seq: i64 = r.try_get("seq").map_err(unavailable)?;
                Ok(AuditEntry {
                    id: format!("{ms}-{seq}"),
                    at: r.try_get("at").map_err(unavailable)?,
                    actor: r.try_get("actor").map_err(unavailable)?,
                    action: r.try_get("action").map_err(unavailable)?,
                    target: r.try_get("target").map_err(unavailable)?,
                    request_id: r.try_get("request_id").map_err(unavailable)?,
                })
            })
            .collect()
    }
}
