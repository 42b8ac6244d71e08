//! A customer's data on request (admin): `GET /v1/customers/{id}/export`, one JSON
//! document streamed as it is read (`app::export`), and
//! `POST /v1/conversations/{id}/messages/{message_id}/redact` (`app::redaction`), and a
//! customer's erasure, `DELETE /v1/customers/{id}` and `GET /v1/erasures/{id}`
//! (`app::erasure`).

use std::sync::Arc;

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::StreamExt;

use super::audit;
use super::auth::Admin;
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::{erasure, export, redaction, Actor, App};
use crate::domain::{clipped, AuditAction, ConversationId, CustomerId, Message, MessageId};
use crate::store::erasure::{erased_customer, Erasure, ErasureState};
use serde::Serialize;
use utoipa::ToSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/customers/{id}/export").route(web::get().to(export_customer)))
        .service(resource("/v1/erasures/{id}").route(web::get().to(erasure_status)))
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

/// The erasure's id, as `DELETE /v1/customers/{id}` answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureAccepted {
    pub erasure_id: String,
}

/// Erases a customer (and everyone merged into them): at once unreachable (reads answer
/// 404; a new message from one of their identities starts a new customer), then every
/// trace removed in the background (`GET /v1/erasures/{id}` follows it). Asking again
/// answers the same erasure. Recorded in the audit trail (`customer.erase`).
#[utoipa::path(
    delete,
    path = "/v1/customers/{id}",
    tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    security(("admin_token" = [])),
    responses(
        (status = 202, description = "Erasure under way (or done)", body = ErasureAccepted),
        (status = 404, description = "No such customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The storage format is not finalized yet (a replica of an earlier release may still serve)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn erase_customer(
    _: Admin,
    state: web::Data<App>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::NotFound(format!("no customer `{}`", clipped(&id, 64)));
    let cid: CustomerId = id.parse().map_err(|_| not_found())?;
    audit::record(
        &state,
        &Actor::Admin,
        &req,
        AuditAction::CustomerErase,
        cid.as_str(),
    )
    .await?;
    let erasure = erasure::request(&state, &cid)
        .await?
        .ok_or_else(not_found)?;
    if erasure.state == ErasureState::Pending {
        let app: Arc<App> = state.into_inner();
        let customer = erasure.customer_id.clone();
        actix_web::rt::spawn(async move {
            if let Err(e) = erasure::run(&app, &customer).await {
                tracing::warn!(error = %e, "erasure interrupted; the sweep resumes it");
            }
        });
    }
    Ok(HttpResponse::Accepted().json(ErasureAccepted {
        erasure_id: erasure.erasure_id,
    }))
}

/// Where an erasure stands: `pending` until every trace is gone, then `done`.
#[utoipa::path(
    get,
    path = "/v1/erasures/{id}",
    tag = "customers",
    params(("id" = String, Path, description = "Erasure id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "The erasure", body = Erasure),
        (status = 404, description = "No such erasure", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn erasure_status(
    _: Admin,
    state: web::Data<App>,
    id: web::Path<String>,
) -> Result<web::Json<Erasure>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no erasure `{}`", clipped(&id, 64)));
    let customer = erased_customer(&id).ok_or_else(not_found)?;
    let found = erasure::status(&state, &customer).await?;
    Ok(web::Json(found.ok_or_else(not_found)?))
}
