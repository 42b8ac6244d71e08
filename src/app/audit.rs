//! The audit trail (CONTRACT "Audit"): every read of a customer or a conversation by
//! staff, every export, erasure, redaction and agent change, and what supervisors and
//! admins do to others' conversations. An act is recorded before its answer leaves: a
//! read the trail could not record is answered 503, never served unaudited.

use chrono::Utc;

use super::{Actor, App, AppError};
use crate::domain::{AuditAction, AuditEntry};

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
    Ok(app.store.audit_entries(after, limit).await?)
}
