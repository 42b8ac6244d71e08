//! Telegram Bot API updates, checked against the webhook's secret token.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::adapters::telegram::{self, TelegramConfig};
use crate::app::{ingest, App};
use crate::http::body::RawBody;
use crate::http::error::{ApiError, Problem};
use crate::http::resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/adapters/telegram").route(web::post().to(update)));
}

/// One Telegram update.
#[utoipa::path(post, path = "/v1/adapters/telegram", tag = "telegram",
    request_body(content = String, content_type = "application/json", description = "A Telegram Update"),
    params(("X-Telegram-Bot-Api-Secret-Token" = String, Header, description = "The webhook's secret token")),
    responses(
        (status = 200, description = "Stored, or nothing to store"),
        (status = 403, description = "Missing or wrong secret token; nothing stored", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    state: web::Data<App>,
    telegram: Option<web::Data<TelegramConfig>>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let expected = telegram
        .as_ref()
        .map(|t| t.secret_token.as_str())
        .ok_or(ApiError::Forbidden)?;
    let presented = req
        .headers()
        .get("X-Telegram-Bot-Api-Secret-Token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        tracing::warn!("refused a Telegram update without the right secret token");
        return Err(ApiError::Forbidden);
    }
    let update: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    if let Some(mut raw) = telegram::message(&update) {
        // The bot it was sent to, as its webhook URL names it (`?bot=<username>`).
        raw.inboxes = bot(&req).into_iter().collect();
        ingest::ingest_provider(&state, raw).await?;
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}

/// `telegram:<bot>` from the webhook URL's `bot` parameter, which `setWebhook` was given
/// per bot (`domain::inbox`).
fn bot(req: &HttpRequest) -> Option<String> {
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()?
        .get("bot")
        .filter(|b| !b.is_empty() && b.len() <= 64)
        .map(|b| format!("telegram:{b}"))
}
