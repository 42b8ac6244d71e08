//! `POST /v1/calls` and the call lifecycle the phone adapter reports.

use actix_web::{web, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{Adapter, Staff};
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::calls::{self, CallEvent, CallHints};
use crate::app::App;
use crate::domain::Skills;
use crate::store::CallRecord;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/calls").route(web::post().to(incoming_call)))
        .service(resource("/v1/calls/{external_id}").route(web::get().to(get_call)))
        .service(resource("/v1/calls/{external_id}/events").route(web::post().to(call_event)));
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CallRequest {
    /// The provider's call id (Twilio's `CallSid`); a retry answers the first decision.
    #[schema(min_length = 1, max_length = 128, pattern = r"\S")]
    pub external_id: String,
    /// The caller's number, in any usual written form.
    pub from: String,
    /// The number called.
    #[serde(default)]
    pub to: String,
    /// The routing group of the line called: it decides where a caller without a
    /// personal agent is routed (default `default`).
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = "^[a-z0-9][a-z0-9_-]*$",
        example = "sales"
    )]
    pub group: Option<String>,
    /// The caller's language (BCP 47, e.g. `es`): the call goes to an agent who speaks it.
    #[serde(default)]
    #[schema(example = "es")]
    pub language: Option<String>,
    /// Skills the call needs, name → least level 1-5 (e.g. from the line called).
    #[serde(default)]
    pub skills: Option<Skills>,
}

/// A call arrives: a known customer is sent past the menu (`connect` to their personal
/// agent or the first free human, or `queue` with raised priority) and the call joins
/// their conversation; an unknown caller gets the menu (`ivr`).
#[utoipa::path(
    post,
    path = "/v1/calls",
    tag = "calls",
    request_body = CallRequest,
    security(("adapter_token" = [])),
    responses(
        (status = 200, body = CallRecord),
    )
)]
pub async fn incoming_call(
    _: Adapter,
    state: web::Data<App>,
    body: web::Json<CallRequest>,
) -> Result<HttpResponse, ApiError> {
    let call = calls::incoming(
        &state,
        &body.external_id,
        &body.from,
        &body.to,
        &CallHints {
            group: body.group.clone(),
            language: body.language.clone(),
            skills: body.skills.clone(),
        },
        Utc::now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(call))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallEventRequest {
    pub event: CallEvent,
}

/// What happened to a call: `menu_entered`, `agent_requested` (0 pressed or a person
/// asked for: routed to a human at once), `self_served`, `answered`, `hung_up` (frees the
/// call's phone unit only: the agent keeps the conversation as after-call work). Menu
/// time is observed in `switchboard_ivr_seconds`.
#[utoipa::path(
    post,
    path = "/v1/calls/{external_id}/events",
    tag = "calls",
    params(("external_id" = String, Path, description = "The provider's call id")),
    request_body = CallEventRequest,
    security(("adapter_token" = [])),
    responses(
        (status = 200, body = CallRecord),
    )
)]
pub async fn call_event(
    _: Adapter,
    state: web::Data<App>,
    external_id: web::Path<String>,
    body: web::Json<CallEventRequest>,
) -> Result<HttpResponse, ApiError> {
    calls::event(&state, &external_id, body.event, Utc::now())
        .await?
        .map(|call| HttpResponse::Ok().json(call))
        .ok_or_else(|| ApiError::NotFound(format!("no call `{external_id}`")))
}

/// A call as it stands: the decision, when the caller entered and left the menu, when an
/// agent answered and when it ended (the desk shows its duration and menu time). Kept for
/// a day. Staff who may read the conversation it joined may read it.
#[utoipa::path(
    get,
    path = "/v1/calls/{external_id}",
    tag = "calls",
    params(("external_id" = String, Path, description = "The provider's call id")),
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = CallRecord),
        (status = 404, description = "No such call, or not one this agent may read", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_call(
    staff: Staff,
    state: web::Data<App>,
    external_id: web::Path<String>,
) -> Result<web::Json<CallRecord>, ApiError> {
    Ok(web::Json(
        calls::read(&state, &staff.actor(), &external_id).await?,
    ))
}
