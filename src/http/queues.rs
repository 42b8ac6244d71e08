//! What waits in a queue, in the order it will be served (for supervisors working the
//! supervisor queue, and for anyone asking why a customer still waits), and the whole
//! floor at once for the supervisor's wall.

use actix_web::web;

use super::auth::Watcher;
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::desk::{self, Floor};
use crate::app::App;
use crate::domain::Queue;
use crate::store::QueuedConversation;

/// Most conversations one listing answers.
const LISTED: usize = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/queues/{queue}").route(web::get().to(list_queue)))
        .service(resource("/v1/floor").route(web::get().to(floor)));
}

/// The whole floor at once, for the supervisor's wall: every queue's depth and oldest
/// wait, every agent's presence and load per channel, the conversations waiting
/// longest, and complaints waiting in the supervisor queue. For admins and supervisors.
#[utoipa::path(
    get,
    path = "/v1/floor",
    tag = "agents",
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = Floor),
        (status = 403, description = "Not an admin or a supervisor", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn floor(_: Watcher, state: web::Data<App>) -> Result<web::Json<Floor>, ApiError> {
    Ok(web::Json(desk::floor(&state).await?))
}

/// The conversations waiting in a queue (a channel's, or `supervisor`) across every
/// routing group, first served first: priority, then time waited (at most 500). For
/// admins and supervisors.
#[utoipa::path(
    get,
    path = "/v1/queues/{queue}",
    tag = "agents",
    params(("queue" = String, Path, description = "`phone`, `email`, `chat`, `social` or `supervisor`")),
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = [QueuedConversation]),
    )
)]
pub async fn list_queue(
    _: Watcher,
    state: web::Data<App>,
    queue: web::Path<String>,
) -> Result<web::Json<Vec<QueuedConversation>>, ApiError> {
    let queue: Queue = queue
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no queue `{queue}`")))?;
    Ok(web::Json(state.store.queued(&queue, LISTED).await?))
}
