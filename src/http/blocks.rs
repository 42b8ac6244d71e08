//! Blocked senders (admin): `PUT` and `DELETE /v1/blocks/{kind}:{value}` (`app::blocks`).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Admin;
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::{blocks, App};
use crate::domain::{Identity, IdentityKind};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/blocks/{identity}")
            .route(web::put().to(block))
            .route(web::delete().to(unblock)),
    );
}

/// A blocked identity, as stored (normalised).
#[derive(Debug, Serialize, ToSchema)]
pub struct Block {
    /// `kind:value`, normalised (`phone:+14155550142`).
    pub identities: Vec<String>,
    pub blocked: bool,
}

/// The identity `kind:value` names, normalised (of that kind only: blocking a WhatsApp
/// sender does not block SMS from the number, which normalising also derives).
fn identities(state: &App, raw: &str) -> Result<Vec<Identity>, ApiError> {
    let (kind, value) = raw
        .split_once(':')
        .ok_or_else(|| ApiError::BadRequest("the identity is `kind:value`".into()))?;
    let kind: IdentityKind = kind
        .parse()
        .map_err(|e: crate::domain::DomainError| ApiError::BadRequest(e.to_string()))?;
    let mut found = state
        .normaliser
        .normalise(kind, value)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    found.retain(|i| i.kind() == kind);
    Ok(found)
}

/// Blocks a sender: their messages are answered 202 `{"blocked": true}` and dropped at
/// every door, on every replica within a second (this one at once). Blocking twice
/// changes nothing.
#[utoipa::path(
    put,
    path = "/v1/blocks/{identity}",
    tag = "customers",
    params(("identity" = String, Path, description = "`kind:value`, e.g. `whatsapp:14155550142`")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Blocked", body = Block),
        (status = 400, description = "Not a `kind:value` identity", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn block(
    _: Admin,
    state: web::Data<App>,
    identity: web::Path<String>,
) -> Result<web::Json<Block>, ApiError> {
    let found = identities(&state, &identity)?;
    blocks::set(&state, &found, true).await?;
    Ok(web::Json(Block {
        identities: found.iter().map(Identity::key).collect(),
        blocked: true,
    }))
}

/// Unblocks a sender: their next message is stored and routed as any other.
#[utoipa::path(
    delete,
    path = "/v1/blocks/{identity}",
    tag = "customers",
    params(("identity" = String, Path, description = "`kind:value`")),
    security(("admin_token" = [])),
    responses(
        (status = 204, description = "Not blocked (any more)"),
        (status = 400, description = "Not a `kind:value` identity", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not blocked", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn unblock(
    _: Admin,
    state: web::Data<App>,
    identity: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let found = identities(&state, &identity)?;
    if !blocks::set(&state, &found, false).await? {
        return Err(ApiError::NotFound("that sender is not blocked".into()));
    }
    Ok(HttpResponse::NoContent().finish())
}
