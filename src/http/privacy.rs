//! A customer's data on request (admin): `GET /v1/customers/{id}/export`, one JSON
//! document streamed as it is read (`app::export`), and
//! `POST /v1/conversations/{id}/messages/{message_id}/redact` (`app::redaction`).

use std::sync::Arc;

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;

use super::audit;
use super::auth::Admin;
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::{export, redaction, Actor, App};
use crate::domain::{clipped, AuditAction, ConversationId, CustomerId, Message, MessageId};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/customers/{id}/export").route(web::get().to(export_customer)))
        .service(
            resource("/v1/conversations/{id}/messages/{message_id}/redact")
                .route(web::post().to(redact)),
        );
}

/// Redacts one timeline entry: its text (and subject) become `[redacted]` wherever it
/// is stored (Redis, the archive, its delivery in the outbox; agents' event replay reads
/// the timeline as it is now). Answers the entry as it reads now; doing it again
/// changes nothing. Recorded in the audit trail (`message.redact`).
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/messages/{message_id}/redact",
    tag = "conversations",
    params(
        ("id" = String, Path, description = "Conversation id"),
        ("message_id" = String, Path, description = "The entry's id"),
    ),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The entry, redacted", body = Message),
        (status = 404, description = "No such conversation or entry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn redact(
    _: Admin,
    state: web::Data<App>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<web::Json<Message>, ApiError> {
    let (conv, message) = path.into_inner();
    let not_found = || ApiError::NotFound(format!("no entry `{}`", clipped(&message, 64)));
    let conv: ConversationId = conv.parse().map_err(|_| not_found())?;
    let message = MessageId::parse(&message).ok_or_else(not_found)?;
    let by = audit::auditor(&Actor::Admin, &req);
    Ok(web::Json(
        redaction::redact(&state, &by, &conv, &message).await?,
    ))
}

/// Everything held about one customer, as one JSON document: `format`
/// (`switchboard.customer-export/1`), `exported_at`, `customer`, `identities`, `ratings`
/// (the most recent, newest first), `conversations` (each with its whole timeline,
/// wherever it is stored) and `complaints`. Written as it is read: a failure midway cuts
/// the document short instead of answering a partial one as whole.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/export",
    tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The customer's data", content_type = "application/json", body = Object),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export_customer(
    _: Admin,
    state: web::Data<App>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound(format!("no customer `{id}`"));
    let cid: CustomerId = id.parse().map_err(|_| not_found())?;
    let found = export::begin(&state, &cid).await?.ok_or_else(not_found)?;
    let action = AuditAction::CustomerExport;
    audit::record(&state, &Actor::Admin, &req, action, &cid.to_string()).await?;
    let app: Arc<App> = state.into_inner();
    let body = found.chunks(app).map(|chunk| {
        chunk
            .map(Bytes::from)
            .map_err(|e| actix_web::Error::from(ApiError::from(e)))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"customer-{cid}.json\""),
        ))
        .streaming(body))
}
