//! `POST /v1/calls` and the call lifecycle the phone adapter reports.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Adapter, Staff};
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::calls::{self, CallEvent, CallHints};
use crate::app::App;
use crate::domain::{AgentId, CallDecision, CallState, Skills};
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
        (status = 200, body = CallView),
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
    Ok(HttpResponse::Ok().json(CallView::from(call)))
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
        (status = 200, body = CallView),
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
        .map(|call| HttpResponse::Ok().json(CallView::from(call)))
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
        (status = 200, body = CallView),
        (status = 404, description = "No such call, or not one this agent may read", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_call(
    staff: Staff,
    state: web::Data<App>,
    external_id: web::Path<String>,
) -> Result<web::Json<CallView>, ApiError> {
    let call = calls::read(&state, &staff.actor(), &external_id).await?;
    Ok(web::Json(CallView::from(call)))
}

/// A call as the API shows it (the stored `CallRecord` may change under the upgrade
/// rules without this body changing, and the other way round).
#[derive(Debug, Serialize, ToSchema)]
pub struct CallView {
    pub external_id: String,
    /// The caller, E.164.
    pub from: String,
    pub to: String,
    pub customer_id: Option<String>,
    pub conversation_id: Option<String>,
    pub decision: CallDecision,
    #[schema(value_type = Option<String>)]
    pub agent_id: Option<AgentId>,
    /// Why: a routing reason for `connect`/`queue`, or `unknown_caller` for `ivr`.
    pub reason: String,
    pub state: CallState,
    pub menu_entered_at: Option<DateTime<Utc>>,
    /// When the caller left the menu (asked for a person, served themselves, hung up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub menu_left_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    /// When the call ended: its duration is `ended_at - answered_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// The routing group of the line called, as the adapter named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The caller's language and the skills the call needs, as the adapter named them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skills: Option<Skills>,
}

impl From<CallRecord> for CallView {
    fn from(c: CallRecord) -> Self {
        Self {
            external_id: c.external_id,
            from: c.from,
            to: c.to,
            customer_id: c.customer_id.map(|id| id.to_string()),
            conversation_id: c.conversation_id.map(|id| id.to_string()),
            decision: c.decision,
            agent_id: c.agent_id,
            reason: c.reason,
            state: c.state,
            menu_entered_at: c.menu_entered_at,
            menu_left_at: c.menu_left_at,
            answered_at: c.answered_at,
            ended_at: c.ended_at,
            group: c.group,
            language: c.language,
            skills: c.skills,
        }
    }
}
