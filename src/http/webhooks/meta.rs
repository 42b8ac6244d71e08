//! Meta (WhatsApp Cloud API, Messenger, Instagram): the subscription handshake and
//! signed event batches, mapped onto batch ingest.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;

use crate::adapters::meta::{self, MetaConfig, MetaReport};
use crate::app::{delivery_status, ingest, App};
use crate::domain::{IdentityKind, Network};
use crate::http::body::RawBody;
use crate::http::error::{ApiError, Problem};
use crate::http::resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/adapters/meta")
            .route(web::get().to(handshake))
            .route(web::post().to(events)),
    );
}

#[derive(Debug, Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Meta's subscription handshake: echoes `hub.challenge` (an integer) only for the right
/// verify token.
#[utoipa::path(get, path = "/v1/adapters/meta", tag = "meta",
    params(
        ("hub.mode" = String, Query, description = "`subscribe`"),
        ("hub.verify_token" = String, Query, description = "Must equal SWITCHBOARD_META_VERIFY_TOKEN"),
        ("hub.challenge" = String, Query, description = "Echoed back"),
    ),
    responses(
        (status = 200, description = "The challenge", content_type = "text/plain"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn handshake(
    meta: Option<web::Data<MetaConfig>>,
    query: web::Query<Handshake>,
) -> Result<HttpResponse, ApiError> {
    let expected = meta
        .as_ref()
        .and_then(|m| m.verify_token.as_deref())
        .ok_or(ApiError::Forbidden)?;
    let token = query.verify_token.as_deref().unwrap_or("");
    let same = bool::from(subtle::ConstantTimeEq::ct_eq(
        token.as_bytes(),
        expected.as_bytes(),
    ));
    match (&query.mode, &query.challenge) {
        (Some(mode), Some(challenge)) if mode == "subscribe" && same && is_challenge(challenge) => {
            Ok(HttpResponse::Ok()
                .content_type("text/plain")
                .body(challenge.clone()))
        }
        _ => Err(ApiError::Forbidden),
    }
}

/// Meta's challenge is an integer (`1158201444`): only that is echoed, so the endpoint
/// never reflects markup or script someone put in a link.
fn is_challenge(challenge: &str) -> bool {
    (1..=32).contains(&challenge.len()) && challenge.bytes().all(|b| b.is_ascii_digit())
}

/// A batch of Meta events: every valid message is stored, an invalid one is skipped
/// (logged and counted) so it never holds the others hostage; anything else is ignored.
/// A store failure fails the batch, so Meta retries it (stored messages dedupe).
#[utoipa::path(post, path = "/v1/adapters/meta", tag = "meta",
    request_body(content = String, content_type = "application/json", description = "Meta's webhook payload (whatsapp_business_account, page or instagram)"),
    params(("X-Hub-Signature-256" = String, Header, description = "sha256=<hex HMAC-SHA256 of the raw body>")),
    responses(
        (status = 200, description = "Accepted (messages stored, other events ignored)"),
        (status = 403, description = "Missing or forged signature; nothing stored", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn events(
    state: web::Data<App>,
    meta: Option<web::Data<MetaConfig>>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let secret = meta
        .as_ref()
        .and_then(|m| m.app_secret.as_deref())
        .ok_or(ApiError::Forbidden)?;
    let header = req
        .headers()
        .get("X-Hub-Signature-256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !meta::signature_matches(secret, &body, header) {
        tracing::warn!("refused a Meta event without a valid X-Hub-Signature-256");
        return Err(ApiError::Forbidden);
    }
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    let report = ingest::ingest_batch(&state, "meta", meta::messages(&payload)).await?;
    let mut reported = 0;
    for status in meta::reports(&payload) {
        let moved = match status {
            MetaReport::Message(r) => delivery_status::report(&state, &r)
                .await?
                .is_some_and(|r| r.moved),
            MetaReport::ReadUpTo {
                network,
                customer,
                watermark,
            } => {
                let kind = match network {
                    Network::Instagram => IdentityKind::Instagram,
                    _ => IdentityKind::Messenger,
                };
                // A malformed id reports nothing; the rest of the batch still counts.
                let identity = state
                    .normaliser
                    .normalise(kind, &customer)
                    .unwrap_or_default();
                match identity.first() {
                    Some(i) => {
                        delivery_status::read_up_to(&state, network, i, watermark).await? > 0
                    }
                    None => false,
                }
            }
        };
        reported += usize::from(moved);
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": "ok", "stored": report.stored, "skipped": report.skipped,
        "reported": reported
    })))
}
