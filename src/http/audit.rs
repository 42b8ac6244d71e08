//! The audit trail for admins (`GET /v1/audit`), and how handlers name who acts in which
//! request (`auditor`).

use actix_web::{web, HttpMessage, HttpRequest};
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::audit::{self, Auditor, DEFAULT_AUDIT_PAGE};
use crate::app::{Actor, App};
use crate::domain::{AuditAction, AuditEntry};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/audit").route(web::get().to(audit_trail)));
}

/// Who acts in this request, as the trail names them.
pub fn auditor(actor: &Actor, req: &HttpRequest) -> Auditor {
    let request_id = req.extensions().get::<RequestId>().map(ToString::to_string);
    Auditor::of(actor, request_id)
}

/// Records that `actor` did `action` to `target` in this request.
pub async fn record(
    state: &App,
    actor: &Actor,
    req: &HttpRequest,
    action: AuditAction,
    target: &str,
) -> Result<(), ApiError> {
    Ok(audit::record(state, &auditor(actor, req), action, target).await?)
}

/// Records an act on a conversation when an admin or a supervisor does it (an agent
/// working their own conversations is the daily work, not an act to audit). Recorded
/// as it is attempted, before it changes anything: an act the trail could not record
/// does not happen.
pub async fn record_oversight(
    state: &App,
    actor: &Actor,
    req: &HttpRequest,
    action: AuditAction,
    target: &str,
) -> Result<(), ApiError> {
    match actor {
        Actor::Admin | Actor::Supervisor(_) => record(state, actor, req, action, target).await,
        Actor::Agent(_) => Ok(()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// The `next` of the page before (an entry's id): entries after it.
    #[param(pattern = r"^[0-9]{1,20}-[0-9]{1,20}$")]
    pub after: Option<String>,
    /// Entries per page, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Where the next page starts (`after`): the last entry's id, or the `after` asked
    /// with when nothing newer exists yet.
    pub next: Option<String>,
}

/// The audit trail, oldest first: who read or changed which customer, conversation,
/// message or agent, and in which request. Never any text.
#[utoipa::path(
    get,
    path = "/v1/audit",
    tag = "ops",
    params(AuditQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, description = "A bad `after` or `limit`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn audit_trail(
    _: Admin,
    state: web::Data<App>,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<AuditPage>, ApiError> {
    let after = query.after.as_deref();
    let entries = audit::page(&state, after, query.limit.unwrap_or(DEFAULT_AUDIT_PAGE)).await?;
    let next = entries
        .last()
        .map(|e| e.id.clone())
        .or_else(|| after.map(str::to_owned));
    Ok(web::Json(AuditPage { entries, next }))
}
