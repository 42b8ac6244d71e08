//! Meta: WhatsApp Cloud API, Messenger and Instagram. `GET` answers the verification
//! handshake; `POST` events must carry `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of
//! the raw body with the app secret>`, checked in constant time over the bytes as
//! received (never re-serialised). Every message in a batch is ingested; statuses and
//! other events are accepted and ignored.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use crate::api::body::RawBody;
use crate::api::messages::ingest_raw;
use crate::api::{resource, AppState};
use crate::domain::{Channel, Network, RawInbound};
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/v1/adapters/meta")
            .route(web::get().to(handshake))
            .route(web::post().to(events)),
    );
}

/// Whether `header` (`sha256=<hex>`) is the app secret's HMAC-SHA256 of `body`.
pub fn signature_matches(app_secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
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

/// Meta's subscription handshake: echoes `hub.challenge` only for the right verify token.
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
    state: web::Data<AppState>,
    query: web::Query<Handshake>,
) -> Result<HttpResponse, ApiError> {
    let expected = state
        .meta
        .as_ref()
        .and_then(|m| m.verify_token.as_deref())
        .ok_or(ApiError::Forbidden)?;
    let token = query.verify_token.as_deref().unwrap_or("");
    let same = bool::from(subtle::ConstantTimeEq::ct_eq(
        token.as_bytes(),
        expected.as_bytes(),
    ));
    match (&query.mode, &query.challenge) {
        (Some(mode), Some(challenge)) if mode == "subscribe" && same => Ok(HttpResponse::Ok()
            .content_type("text/plain")
            .body(challenge.clone())),
        _ => Err(ApiError::Forbidden),
    }
}

/// A batch of Meta events: every message is ingested; anything else is ignored.
#[utoipa::path(post, path = "/v1/adapters/meta", tag = "meta",
    request_body(content = String, content_type = "application/json", description = "Meta's webhook payload (whatsapp_business_account, page or instagram)"),
    params(("X-Hub-Signature-256" = String, Header, description = "sha256=<hex HMAC-SHA256 of the raw body>")),
    responses(
        (status = 200, description = "Accepted (messages stored, other events ignored)"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing or forged signature; nothing stored", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn events(
    state: web::Data<AppState>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let secret = state
        .meta
        .as_ref()
        .and_then(|m| m.app_secret.as_deref())
        .ok_or(ApiError::Forbidden)?;
    let header = req
        .headers()
        .get("X-Hub-Signature-256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !signature_matches(secret, &body, header) {
        tracing::warn!("refused a Meta event without a valid X-Hub-Signature-256");
        return Err(ApiError::Forbidden);
    }
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    for raw in messages(&payload) {
        ingest_raw(&state, raw).await?;
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ok" })))
}

/// Every customer message in a payload (also when Meta wraps the envelope in an array).
pub fn messages(payload: &Value) -> Vec<RawInbound> {
    let envelopes: Vec<&Value> = match payload {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for envelope in envelopes {
        let object = envelope["object"].as_str().unwrap_or("");
        for entry in envelope["entry"].as_array().into_iter().flatten() {
            match object {
                "whatsapp_business_account" => out.extend(whatsapp(entry)),
                "page" => out.extend(messaging(entry, Network::Messenger)),
                "instagram" => out.extend(messaging(entry, Network::Instagram)),
                _ => {}
            }
        }
    }
    out
}

fn whatsapp(entry: &Value) -> Vec<RawInbound> {
    let mut out = Vec::new();
    for change in entry["changes"].as_array().into_iter().flatten() {
        let value = &change["value"];
        let name_of = |wa_id: &str| {
            value["contacts"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["wa_id"] == wa_id)
                .and_then(|c| c["profile"]["name"].as_str())
                .map(str::to_owned)
        };
        for m in value["messages"].as_array().into_iter().flatten() {
            let (Some(from), Some(id)) = (m["from"].as_str(), m["id"].as_str()) else {
                continue;
            };
            let kind = m["type"].as_str().unwrap_or("unknown");
            let text = m["text"]["body"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("[{kind}]"));
            let sent_at = m["timestamp"]
                .as_str()
                .and_then(|t| t.parse::<i64>().ok())
                .and_then(seconds);
            out.push(raw(
                Network::Whatsapp,
                id,
                from,
                name_of(from),
                text,
                sent_at,
            ));
        }
    }
    out
}

fn messaging(entry: &Value, network: Network) -> Vec<RawInbound> {
    let mut out = Vec::new();
    for event in entry["messaging"].as_array().into_iter().flatten() {
        let message = &event["message"];
        if message.is_null() || message["is_echo"].as_bool() == Some(true) {
            continue; // deliveries, reads, postbacks and our own echoes
        }
        let (Some(from), Some(id)) = (event["sender"]["id"].as_str(), message["mid"].as_str())
        else {
            continue;
        };
        let text = message["text"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| "[attachment]".to_owned());
        let sent_at = event["timestamp"]
            .as_i64()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
        out.push(raw(network, id, from, None, text, sent_at));
    }
    out
}

fn seconds(s: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(s, 0).single()
}

fn raw(
    network: Network,
    id: &str,
    from: &str,
    name: Option<String>,
    text: String,
    sent_at: Option<DateTime<Utc>>,
) -> RawInbound {
    RawInbound {
        channel: Channel::Social,
        network: Some(network),
        external_id: id.to_owned(),
        from: from.to_owned(),
        identities: vec![],
        display_name: name,
        subject: None,
        text: Some(text),
        sent_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn githubs_published_hub_signature_vector_verifies() {
        // HUB-01: the same scheme as Meta's X-Hub-Signature-256.
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_matches(
            "It's a Secret to Everybody",
            b"Hello, World!",
            sig
        ));
        assert!(!signature_matches(
            "It's a Secret to Everybody",
            b"Hello, World?",
            sig
        ));
        assert!(!signature_matches("another secret", b"Hello, World!", sig));
        assert!(
            !signature_matches("It's a Secret to Everybody", b"Hello, World!", &sig[7..]),
            "no sha256= prefix"
        );
    }

    #[test]
    fn the_raw_bytes_are_signed_not_a_re_serialisation() {
        let escaped = br#"{"t":"caf\u00e9"}"#;
        let sig = "sha256=4ea6a0b98c398d90012c91879a402e35f5fb380bf29a0730c5624a620e8be966";
        assert!(signature_matches("test_app_secret", escaped, sig));
        let utf8 = r#"{"t":"café"}"#.as_bytes();
        assert!(signature_matches(
            "test_app_secret",
            utf8,
            "sha256=5dcbb394883ca594568caa1e388f7868c632a00efd8879cf0a6c9059f7d38208"
        ));
        assert!(!signature_matches("test_app_secret", utf8, sig));
    }

    #[test]
    fn every_message_of_a_batch_is_read_and_statuses_are_not() {
        let payload: Value = serde_json::from_str(r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
            {"value":{"messaging_product":"whatsapp","contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
              "messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1749416383","type":"text","text":{"body":"Another color?"}},
                          {"from":"16505551234","id":"wamid.B","timestamp":"1749416384","type":"image","image":{}}]},"field":"messages"},
            {"value":{"messaging_product":"whatsapp","statuses":[{"id":"wamid.X","status":"delivered"}]},"field":"messages"}]}]}"#).expect("json");
        let got = messages(&payload);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].external_id.as_str(), got[0].from.as_str()),
            ("wamid.A", "16505551234")
        );
        assert_eq!(got[0].display_name.as_deref(), Some("Sheena Nelson"));
        assert_eq!(got[1].text.as_deref(), Some("[image]"));
        let page: Value = serde_json::from_str(r#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[
            {"sender":{"id":"USER"},"recipient":{"id":"PAGE"},"timestamp":1457764197627,"message":{"mid":"mid.1","text":"hello, world!"}},
            {"sender":{"id":"PAGE"},"recipient":{"id":"USER"},"timestamp":1457764197628,"message":{"mid":"mid.2","text":"echo","is_echo":true}},
            {"sender":{"id":"USER"},"recipient":{"id":"PAGE"},"timestamp":1457764197629,"read":{"watermark":1}}]}]}"#).expect("json");
        let got = messages(&page);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].network, got[0].text.as_deref()),
            (Some(Network::Messenger), Some("hello, world!"))
        );
        let insta: Value = serde_json::from_str(r#"[{"object":"instagram","entry":[{"id":"IG","time":1,"messaging":[{"sender":{"id":"IGSID"},"recipient":{"id":"IG"},"timestamp":1700000000000,"message":{"mid":"m1","text":"hi"}}]}]}]"#).expect("json");
        assert_eq!(messages(&insta)[0].network, Some(Network::Instagram));
    }
}
