//! Twilio Messaging: inbound SMS, and WhatsApp through Twilio (`whatsapp:+1…` senders),
//! ingested like `POST /v1/messages` and answered with an empty `<Response/>`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{twiml, verified, Params};
use crate::api::body::RawBody;
use crate::api::{resource, AppState};
use crate::domain::{Channel, Network, RawInbound};
use crate::error::{ApiError, Problem};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/adapters/twilio/messaging").route(web::post().to(messaging)));
}

/// The inbound message in Twilio's parameters.
fn inbound(params: &Params) -> Result<RawInbound, ApiError> {
    let sid = params
        .get("MessageSid")
        .or_else(|| params.get("SmsMessageSid"))
        .ok_or_else(|| ApiError::BadRequest("missing `MessageSid`".into()))?;
    let from = params.require("From")?;
    let (channel, network, from) = match from.strip_prefix("whatsapp:") {
        Some(number) => (
            Channel::Social,
            Network::Whatsapp,
            number.trim_start_matches('+'),
        ),
        None => (Channel::Phone, Network::Sms, from),
    };
    let media = params
        .get("NumMedia")
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    let mut text = params.get("Body").unwrap_or("").to_owned();
    for i in 0..media.min(10) {
        if let Some(url) = params.get(&format!("MediaUrl{i}")) {
            let kind = params
                .get(&format!("MediaContentType{i}"))
                .unwrap_or("media");
            text.push_str(&format!("\n[{kind}: {url}]"));
        }
    }
    // WhatsApp through Twilio: a tapped template button, a shared location.
    if let Some(button) = params.get("ButtonText") {
        let payload = params.get("ButtonPayload").unwrap_or("");
        text.push_str(&format!("\n[button] {button} (payload: {payload})"));
    }
    if let (Some(lat), Some(lon)) = (params.get("Latitude"), params.get("Longitude")) {
        let place = [params.get("Label"), params.get("Address")];
        let place: Vec<&str> = place.into_iter().flatten().collect();
        text.push_str(&format!("\n[location {lat}, {lon}] {}", place.join(", ")));
    }
    Ok(RawInbound {
        channel,
        network: Some(network),
        external_id: sid.to_owned(),
        from: from.to_owned(),
        identities: vec![],
        display_name: params.get("ProfileName").map(str::to_owned),
        subject: None,
        text: Some(text.trim().to_owned()),
        sent_at: None,
    })
}

/// An inbound SMS or WhatsApp message through Twilio.
#[utoipa::path(post, path = "/v1/adapters/twilio/messaging", tag = "twilio",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's message parameters (MessageSid, From, To, Body, ...)"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature")),
    responses(
        (status = 200, description = "Stored (or a retry of a stored one): empty TwiML", content_type = "text/xml"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing or forged signature; nothing stored", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn messaging(
    state: web::Data<AppState>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let (params, _) = verified(&state, &req, &body)?;
    crate::adapters::ingest_provider(&state, inbound(&params)?).await?;
    Ok(twiml(String::new()))
}
