//! The audit trail (CONTRACT "Audit"): every read of a customer or a conversation by
//! staff, every export, erasure, redaction and agent change, and what supervisors and
//! admins do to others' conversations. An act is recorded before its answer leaves: a
//! read the trail could not record is answered 503, never served unaudited.

use chrono::{DateTime, Utc};

use super::{Actor, App, AppError};
use crate::domain::{audit_id_parts, AuditAction, AuditEntry};

/// Most entries one page of the trail holds, and how many unless asked.
pub const MAX_AUDIT_PAGE: usize = 1000;
pub const DEFAULT_AUDIT_PAGE: usize = 100;

/// Who acts, as the trail names them, and the request they acted in.
#[derive(Debug, Clone)]
pub struct Auditor {
    pub actor: String,
    pub request_id: Option<String>,
}

impl Auditor {
    /// `admin`, or `agent:<id>` (a supervisor is an agent).
    pub fn of(actor: &Actor, request_id: Option<String>) -> Self {
        let actor = match actor {
            Actor::Admin => "admin".to_owned(),
            Actor::Agent(id) | Actor::Supervisor(id) => format!("agent:{id}"),
        };
        Self { actor, request_id }
    }
}

/// Records that `by` did `action` to `target` (an id, never a text).
pub async fn record(
    app: &App,
    by: &Auditor,
    action: AuditAction,
    target: &str,
) -> Result<(), AppError> {
    let entry = AuditEntry {
        id: String::new(),
        at: Utc::now(),
        actor: by.actor.clone(),
        action: action.as_str().to_owned(),
        target: target.to_owned(),
        request_id: by.request_id.clone(),
    };
    app.store.record_audit(&entry, app.audit_keep).await?;
    Ok(())
}

/// A page of the trail after the cursor `after` (an entry's id), oldest first.
pub async fn page(
    app: &App,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<AuditEntry>, AppError> {
    if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
        return Err(AppError::Invalid(format!(
            "`limit` must be 1-{MAX_AUDIT_PAGE}"
        )));
    }
    if after.is_some_and(|a| crate::domain::audit_id_parts(a).is_none()) {
        return Err(AppError::Invalid(
            "`after` must be an entry's id (`<ms>-<seq>`)".into(),
        ));
    }
    // Redis first, then the archive: an entry moved between the two reads was in Redis
    // at the first or in the archive by the second (a move writes the archive before it
    // trims Redis), so the union misses nothing.
    let mut entries = app.store.audit_entries(after, limit).await?;
    if let Some(archive) = &app.archive {
        entries.extend(archive.audit_after(after, limit).await?);
        entries.sort_by_key(|e| audit_id_parts(&e.id));
        entries.dedup_by(|a, b| a.id == b.id);
        entries.truncate(limit);
    }
    Ok(entries)
}

/// How long an entry stays in Redis before the sweep moves it to the archive: long
/// enough to move a round's entries in one batch.
pub const MOVE_AFTER_SECS: i64 = 60;

/// Most entries one round moves.
const MOVE_BATCH: usize = 1000;

/// Moves the trail's entries older than `MOVE_AFTER_SECS` from the store to the archive
/// (with one configured), oldest first: written there, then trimmed here. Answers how
/// many moved.
pub async fn move_to_archive(app: &App, now: DateTime<Utc>) -> Result<usize, AppError> {
    let Some(archive) = &app.archive else {
        return Ok(0);
    };
    let before = (now - chrono::Duration::seconds(MOVE_AFTER_SECS)).timestamp_millis();
    let old_enough = |e: &AuditEntry| {
        audit_id_parts(&e.id).is_some_and(|(ms, _)| i64::try_from(ms).is_ok_and(|ms| ms < before))
    };
    // Most ticks find nothing old enough: the oldest entry alone says so.
    let oldest = app.store.audit_entries(None, 1).await?;
    if !oldest.first().is_some_and(old_enough) {
        return Ok(0);
    }
    let entries: Vec<AuditEntry> = app
        .store
        .audit_entries(None, MOVE_BATCH)
        .await?
        .into_iter()
        .take_while(old_enough)
        .collect();
    let Some(last) = entries.last() else {
        return Ok(0);
    };
    archive.put_audit(&entries).await?;
    app.store.trim_audit(&last.id).await?;
    Ok(entries.len())
}
