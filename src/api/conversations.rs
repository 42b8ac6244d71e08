//! Conversation reads and actions, for admins and for the agents who hold them.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{resource, AppState};
use crate::auth::{Caller, Staff};
use crate::domain::{ConversationId, ConversationState, ConversationView};
use crate::error::{ApiError, Problem};
use crate::store::ResolveOutcome;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/conversations/{id}").route(web::get().to(get_conversation)))
        .service(resource("/v1/conversations/{id}/resolve").route(web::post().to(resolve)));
}

fn parse_id(raw: &str) -> Result<ConversationId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("no conversation `{raw}`")))
}

/// The conversation with its customer and whole cross-channel timeline, in order.
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = ConversationView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_conversation(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<web::Json<ConversationView>, ApiError> {
    let id = parse_id(&id)?;
    let conv = state.store.conversation(&id).await?;
    // Another agent's conversation is answered exactly like a missing one.
    conv.filter(|c| reaches(&staff, c))
        .map(web::Json)
        .ok_or_else(|| ApiError::NotFound(format!("no conversation `{id}`")))
}

/// Admins reach every conversation; an agent the ones it holds or whose customer it owns.
fn reaches(staff: &Staff, conv: &ConversationView) -> bool {
    match &staff.0 {
        Caller::Admin => true,
        Caller::Agent(me) => {
            conv.agent_id.as_deref() == Some(me.as_str())
                || conv.customer.personal_agent_id.as_deref() == Some(me.as_str())
        }
        Caller::Adapter => false,
    }
}

/// Optional satisfaction score given on resolution.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// 1 (bad) to 5 (great).
    #[serde(default)]
    pub csat: Option<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResolveResponse {
    pub id: String,
    pub state: ConversationState,
    pub csat: Option<u8>,
}

/// Resolves the conversation; a message within the reopen window reopens it.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/resolve",
    tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    request_body(content = Option<ResolveRequest>, description = "Optional; may be empty"),
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = ResolveResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn resolve(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: Option<web::Json<ResolveRequest>>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    if let Caller::Agent(me) = &staff.0 {
        let held = state
            .store
            .conversation(&id)
            .await?
            .and_then(|c| c.agent_id);
        if held.as_deref() != Some(me.as_str()) {
            return Err(ApiError::NotFound(format!(
                "no conversation `{id}` of yours"
            )));
        }
    }
    let csat = body.and_then(|b| b.into_inner().csat);
    if csat.is_some_and(|c| !(1..=5).contains(&c)) {
        return Err(ApiError::BadRequest(
            "`csat` must be between 1 and 5".into(),
        ));
    }
    match state.store.resolve(&id, Utc::now()).await? {
        ResolveOutcome::Resolved => Ok(HttpResponse::Ok().json(ResolveResponse {
            id: id.to_string(),
            state: ConversationState::Resolved,
            csat,
        })),
        ResolveOutcome::AlreadyResolved => Err(ApiError::Conflict(format!(
            "conversation `{id}` is already resolved"
        ))),
        ResolveOutcome::NotFound => Err(ApiError::NotFound(format!("no conversation `{id}`"))),
    }
}
