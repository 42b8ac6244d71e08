//! Adapters' reports on replies: `POST /v1/deliveries/{message_id}/status`
//! (`app::delivery_status`).

use actix_web::web;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Adapter;
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::delivery_status::{self, ProviderReport};
use crate::app::App;
use crate::domain::{clipped, ReplyDelivery, ReplyStatus};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/deliveries/{message_id}/status").route(web::post().to(report_status)),
    );
}

/// A report on a reply, as the adapter heard it from the provider.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusReport {
    pub status: ReplyStatus,
    /// When it happened (default: now).
    #[serde(default)]
    pub at: Option<DateTime<Utc>>,
    /// The provider's error code of a failure (`131026`).
    #[serde(default)]
    #[schema(max_length = 32)]
    pub error_code: Option<String>,
    /// The provider's reason.
    #[serde(default)]
    #[schema(max_length = 256)]
    pub error: Option<String>,
}

/// What became of the report.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusRecorded {
    pub message_id: String,
    /// Whether it moved the reply's status (a report behind what is known does not).
    pub moved: bool,
}

/// Reports where a reply stands with the provider: `sent`, `delivered`, `read` or
/// `failed` (with the provider's code and reason). A status only moves forward, whatever
/// order reports arrive in; the reply's timeline entry shows it as `delivery`, and the
/// agent holding the conversation gets `message.delivery`. `{message_id}` is the reply's
/// id, or the provider's id of it that the adapter's answer to the delivery named.
#[utoipa::path(
    post,
    path = "/v1/deliveries/{message_id}/status",
    tag = "conversations",
    params(("message_id" = String, Path, description = "The reply's id, or the provider's")),
    request_body = StatusReport,
    security(("adapter_token" = [])),
    responses(
        (status = 200, description = "Recorded (or behind what is known)", body = StatusRecorded),
        (status = 400, description = "Malformed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No reply known by that id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn report_status(
    _: Adapter,
    state: web::Data<App>,
    id: web::Path<String>,
    body: web::Json<StatusReport>,
) -> Result<web::Json<StatusRecorded>, ApiError> {
    let body = body.into_inner();
    if id.is_empty() || id.len() > 256 {
        return Err(ApiError::NotFound("no such reply".into()));
    }
    let at = body.at.unwrap_or_else(Utc::now).min(Utc::now());
    let report = ProviderReport {
        provider_id: id.to_string(),
        delivery: ReplyDelivery::new(body.status, at, body.error_code, body.error),
    };
    let reported = delivery_status::report(&state, &report).await?;
    let Some(reported) = reported else {
        return Err(ApiError::NotFound(format!(
            "no reply known as `{}`",
            clipped(&id, 64)
        )));
    };
    Ok(web::Json(StatusRecorded {
        message_id: reported.message.as_str().to_owned(),
        moved: reported.moved,
    }))
}
