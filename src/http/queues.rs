//! What waits in a queue, in the order it will be served: for supervisors working the
//! supervisor queue, and for anyone asking why a customer still waits.

use actix_web::web;

use super::auth::Admin;
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::App;
use crate::store::{Queue, QueuedConversation};

/// Most conversations one listing answers.
const LISTED: usize = 500;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/queues/{queue}").route(web::get().to(list_queue)));
}

/// The conversations waiting in a queue (a channel's, or `supervisor`) across every
/// routing group, first served first: priority, then time waited (at most 500).
#[utoipa::path(
    get,
    path = "/v1/queues/{queue}",
    tag = "agents",
    params(("queue" = String, Path, description = "`phone`, `email`, `chat`, `social` or `supervisor`")),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = [QueuedConversation]),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_queue(
    _: Admin,
    state: web::Data<App>,
    queue: web::Path<String>,
) -> Result<web::Json<Vec<QueuedConversation>>, ApiError> {
    let queue: Queue = queue
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no queue `{queue}`")))?;
    Ok(web::Json(state.store.queued(&queue, LISTED).await?))
}
