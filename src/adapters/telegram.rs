//! Telegram Bot API webhook: `X-Telegram-Bot-Api-Secret-Token` compared in constant time
//! with `SWITCHBOARD_TELEGRAM_SECRET_TOKEN`; `update_id` and `message_id` make the
//! idempotency key. Updates that carry no message are accepted and ignored.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{TimeZone, Utc};
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::api::body::RawBody;
use crate::api::messages::ingest_raw;
use crate::api::{resource, AppState};
use crate::domain::{Channel, Network, RawInbound};
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/adapters/telegram").route(web::post().to(update)));
}

/// The customer message in an update, if it carries one.
pub fn message(update: &Value) -> Option<RawInbound> {
    let update_id = update["update_id"].as_i64()?;
    let m = &update["message"];
    let message_id = m["message_id"].as_i64()?;
    let from = m["from"]["id"].as_i64()?;
    let name = [
        m["from"]["first_name"].as_str(),
        m["from"]["last_name"].as_str(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    Some(RawInbound {
        channel: Channel::Social,
        network: Some(Network::Telegram),
        external_id: format!("{update_id}:{message_id}"),
        from: from.to_string(),
        identities: vec![],
        display_name: Some(name).filter(|n| !n.is_empty()),
        subject: None,
        text: Some(
            m["text"]
                .as_str()
                .or(m["caption"].as_str())
                .unwrap_or("[attachment]")
                .to_owned(),
        ),
        sent_at: m["date"]
            .as_i64()
            .and_then(|s| Utc.timestamp_opt(s, 0).single()),
    })
}

/// One Telegram update.
#[utoipa::path(post, path = "/v1/adapters/telegram", tag = "telegram",
    request_body(content = String, content_type = "application/json", description = "A Telegram Update"),
    params(("X-Telegram-Bot-Api-Secret-Token" = String, Header, description = "The webhook's secret token")),
    responses(
        (status = 200, description = "Stored, or nothing to store"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing or wrong secret token; nothing stored", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let expected = state
        .telegram_secret
        .as_deref()
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
    if let Some(raw) = message(&update) {
        ingest_raw(&state, raw).await?;
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_update_maps_to_an_inbound_message_and_others_do_not() {
        let update: Value = serde_json::from_str(r#"{"update_id":10000,"message":{"message_id":1365,"from":{"id":1111111,"is_bot":false,"first_name":"Test","last_name":"Lastname","username":"Test"},"chat":{"id":1111111,"type":"private"},"date":1441645532,"text":"/start"}}"#).expect("json");
        let raw = message(&update).expect("a message");
        assert_eq!(
            (raw.external_id.as_str(), raw.from.as_str()),
            ("10000:1365", "1111111")
        );
        assert_eq!(
            (raw.display_name.as_deref(), raw.text.as_deref()),
            (Some("Test Lastname"), Some("/start"))
        );
        let callback: Value =
            serde_json::from_str(r#"{"update_id":10001,"callback_query":{"id":"1"}}"#)
                .expect("json");
        assert!(message(&callback).is_none());
    }
}
