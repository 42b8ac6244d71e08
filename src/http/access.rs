//! Agents' access (CONTRACT "Agent sign-in (v3)"): revoking an agent's tokens, and what
//! the desk needs to sign in through the identity provider.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::agents::agent_id;
use super::audit;
use super::auth::oidc::OidcVerifier;
use super::auth::{credential_of, Admin, Caller, Staff, Tokens};
use super::error::ApiError;
use super::resource;
use crate::app::{access, Actor, App};
use crate::domain::AuditAction;

/// The identity provider agents sign in with, if any (app data).
#[derive(Clone, Default)]
pub struct SignIn(pub Option<Arc<OidcVerifier>>);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/agents/{id}/revoke").route(web::post().to(revoke)))
        .service(resource("/v1/me").route(web::get().to(me)))
        .service(resource("/desk/sso").route(web::get().to(sso)));
}

/// The answer to a revocation.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    pub agent_id: String,
    /// Tokens of the agent issued at or before this second are refused from now on.
    pub tokens_revoked_at: chrono::DateTime<chrono::Utc>,
}

/// Refuses every token of the agent issued until now, on every replica from the moment
/// this answers; the agent's open event streams end with `reauth` within a heartbeat.
/// The agent signs in again for a new token (issued a second or more after this).
#[utoipa::path(
    post,
    path = "/v1/agents/{id}/revoke",
    tag = "agents",
    params(("id" = String, Path, description = "Agent id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = Revoked),
        (status = 404, description = "No such agent", body = super::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke(
    _: Admin,
    state: web::Data<App>,
    tokens: web::Data<Tokens>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let agent = agent_id(&id)?;
    if state.store.agent(&agent).await?.is_none() {
        return Err(ApiError::NotFound(format!("no agent `{agent}`")));
    }
    audit::record(
        &state,
        &Actor::Admin,
        &req,
        AuditAction::AgentRevoke,
        agent.as_str(),
    )
    .await?;
    let now = chrono::Utc::now();
    access::revoke(&state, &agent, now, tokens.lifetime().revocation_keep()).await?;
    Ok(HttpResponse::Ok().json(Revoked {
        agent_id: agent.to_string(),
        tokens_revoked_at: now,
    }))
}

/// Who a staff token signs in as.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// `agent`, `supervisor` or `admin`.
    pub role: &'static str,
    /// The agent, for an agent's or a supervisor's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// When the token expires (seconds since the epoch), if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// Who the presented token signs in as: the desk asks, whichever way the token was
/// issued (the identity provider names the agent in a claim the desk need not know).
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "agents",
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses((status = 200, body = Me))
)]
pub async fn me(staff: Staff, req: HttpRequest) -> web::Json<Me> {
    let (role, agent) = match &staff.0 {
        Caller::Agent(id) => ("agent", Some(id.to_string())),
        Caller::Supervisor(id) => ("supervisor", Some(id.to_string())),
        Caller::Admin | Caller::Adapter => ("admin", None),
    };
    web::Json(Me {
        role,
        agent_id: agent,
        expires_at: credential_of(&req).and_then(|c| c.expires_at),
    })
}

/// What the desk's "Sign in with SSO" needs (public: no secret in it): the provider's
/// endpoints, the desk's public client id and the scopes. 404 while sign-in is off or
/// the provider was not reached yet.
async fn sso(sign_in: web::Data<SignIn>) -> Result<HttpResponse, ApiError> {
    let config = sign_in.0.as_ref().and_then(|oidc| oidc.desk_config());
    let Some((client_id, scopes, endpoints)) = config else {
        return Err(ApiError::NotFound(
            "single sign-on is not configured".into(),
        ));
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "issuer": endpoints.issuer,
        "client_id": client_id,
        "scopes": scopes,
        "authorization_endpoint": endpoints.authorization_endpoint,
        "token_endpoint": endpoints.token_endpoint,
        "end_session_endpoint": endpoints.end_session_endpoint,
    })))
}
