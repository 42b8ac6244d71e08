//! Twilio Messaging: inbound SMS, and WhatsApp through Twilio, answered with empty TwiML.

use actix_web::{web, HttpRequest, HttpResponse};

use super::twilio::{twiml, verified};
use crate::adapters::twilio::{messaging, TwilioConfig};
use crate::app::{delivery_status, ingest, App};
use crate::http::body::RawBody;
use crate::http::error::{ApiError, Problem};
use crate::http::resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/adapters/twilio/messaging").route(web::post().to(messaging)))
        .service(resource("/v1/adapters/twilio/messaging/status").route(web::post().to(status)));
}

/// Twilio's status callback of a message sent (`StatusCallback`): `MessageSid`,
/// `MessageStatus` and, for a failure, `ErrorCode`. Statuses before `sent` (queued,
/// sending, accepted) say nothing new and are acknowledged alone.
#[utoipa::path(post, path = "/v1/adapters/twilio/messaging/status", tag = "twilio",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's status parameters (MessageSid, MessageStatus, ErrorCode, ...)"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature")),
    responses(
        (status = 200, description = "Recorded, or about no reply known here: empty TwiML", content_type = "text/xml"),
        (status = 403, description = "Missing or forged signature", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn status(
    state: web::Data<App>,
    twilio: Option<web::Data<TwilioConfig>>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let (params, _) = verified(twilio.as_ref(), &req, &body)?;
    if let Some(report) = messaging::status(&params) {
        delivery_status::report(&state, &report).await?;
    }
    Ok(twiml(String::new()))
}

/// An inbound SMS or WhatsApp message through Twilio.
#[utoipa::path(post, path = "/v1/adapters/twilio/messaging", tag = "twilio",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's message parameters (MessageSid, From, To, Body, ...)"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature")),
    responses(
        (status = 200, description = "Stored (or a retry of a stored one): empty TwiML", content_type = "text/xml"),
        (status = 403, description = "Missing or forged signature; nothing stored", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn messaging(
    state: web::Data<App>,
    twilio: Option<web::Data<TwilioConfig>>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let (params, _) = verified(twilio.as_ref(), &req, &body)?;
    ingest::ingest_provider(&state, messaging::inbound(&params)?).await?;
    Ok(twiml(String::new()))
}
