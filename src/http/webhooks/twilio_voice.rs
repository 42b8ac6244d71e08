//! Twilio Programmable Voice: the incoming-call webhook and its menu, dial and status
//! callbacks, mapped onto the call use cases; answers are TwiML.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::twilio::{twiml, verified};
use crate::adapters::twilio::{voice, TwilioConfig};
use crate::app::calls::{self, CallEvent, CallHints};
use crate::app::App;
use crate::domain::{CallDecision, CallState};
use crate::http::body::RawBody;
use crate::http::error::{ApiError, Problem};
use crate::http::resource;
use crate::store::CallRecord;

const BASE: &str = "/v1/adapters/twilio/voice";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(BASE).route(web::post().to(voice)))
        .service(resource("/v1/adapters/twilio/voice/menu").route(web::post().to(menu)))
        .service(resource("/v1/adapters/twilio/voice/dial").route(web::post().to(dial)))
        .service(resource("/v1/adapters/twilio/voice/status").route(web::post().to(status)));
}

/// TwiML for where a call stands: dial the agent (`<Sip>` or `<Number>` when their
/// profile says so, else `<Client>` named by their id), wait in the queue, or hear the menu.
async fn answer(
    state: &App,
    call: &CallRecord,
    config: &TwilioConfig,
) -> Result<HttpResponse, ApiError> {
    let base = format!("{}{BASE}", config.public_url);
    Ok(match (call.decision, call.agent_id.as_ref()) {
        (CallDecision::Connect, Some(agent)) => {
            let dial = state.store.agent(agent).await?.and_then(|a| a.dial);
            twiml(voice::dial(&base, agent.as_str(), dial.as_deref()))
        }
        (CallDecision::Queue, _) => twiml(voice::enqueue(&base)),
        _ => twiml(voice::menu(&base)),
    })
}

/// Incoming call: a known caller is dialled straight to a human (or queued); an unknown
/// caller hears the menu.
#[utoipa::path(post, path = "/v1/adapters/twilio/voice", tag = "twilio",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's call parameters (CallSid, From, To, ...)"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature")),
    responses(
        (status = 200, description = "TwiML", content_type = "text/xml"),
        (status = 403, description = "Missing or forged signature; nothing changed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn voice(
    state: web::Data<App>,
    twilio: Option<web::Data<TwilioConfig>>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let (params, config) = verified(twilio.as_ref(), &req, &body)?;
    let call = calls::incoming(
        &state,
        params.require("CallSid")?,
        params.require("From")?,
        params.get("To").unwrap_or(""),
        &CallHints::default(),
        Utc::now(),
    )
    .await?;
    answer(&state, &call, &config).await
}

/// The menu's answer (Gather action): a person at once for 0 or "agent"; 1 is served by
/// the menu; silence repeats it.
#[utoipa::path(post, path = "/v1/adapters/twilio/voice/menu", tag = "twilio",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "CallSid, Digits or SpeechResult"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature")),
    responses((status = 200, description = "TwiML", content_type = "text/xml"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn menu(
    state: web::Data<App>,
    twilio: Option<web::Data<TwilioConfig>>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let (params, config) = verified(twilio.as_ref(), &req, &body)?;
    let sid = params.require("CallSid")?;
    let base = format!("{}{BASE}", config.public_url);
    let now = Utc::now();
    if voice::wants_a_person(&params) {
        let call = calls::event(&state, sid, CallEvent::AgentRequested, now)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("no call `{sid}`")))?;
        return answer(&state, &call, &config).await;
    }
    if params.get("Digits").is_some_and(|d| d.trim() == "1") {
        calls::event(&state, sid, CallEvent::SelfServed, now).await?;
        return Ok(twiml(
            "<Say>Your order is on its way. Goodbye.</Say><Hangup/>".into(),
        ));
    }
    Ok(twiml(voice::menu(&base)))
}

/// The `<Dial>` ended: hung up after talking, or not answered, in which case the agent
/// is set away and the call falls back to whoever has room (or the queue).
/// The agent a `<Dial>` was for, as its action URL names it.
#[derive(serde::Deserialize)]
struct DialedAgent {
    agent: Option<String>,
}

#[utoipa::path(post, path = "/v1/adapters/twilio/voice/dial", tag = "twilio",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "CallSid, DialCallStatus"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature")),
    responses((status = 200, description = "TwiML", content_type = "text/xml"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn dial(
    state: web::Data<App>,
    twilio: Option<web::Data<TwilioConfig>>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let (params, config) = verified(twilio.as_ref(), &req, &body)?;
    let sid = params.require("CallSid")?;
    let now = Utc::now();
    if !voice::caller_still_waiting(&params) {
        calls::event(&state, sid, CallEvent::HungUp, now).await?;
        return Ok(twiml("<Hangup/>".into()));
    }
    let dialled = web::Query::<DialedAgent>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().agent);
    let call = calls::unanswered(&state, sid, dialled.as_deref(), now)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no call `{sid}`")))?;
    if call.state == CallState::Ended {
        return Ok(twiml("<Hangup/>".into()));
    }
    answer(&state, &call, &config).await
}

/// Call status callback: a finished call frees its agent's phone unit.
#[utoipa::path(post, path = "/v1/adapters/twilio/voice/status", tag = "twilio",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "CallSid, CallStatus"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature")),
    responses((status = 200, description = "Empty TwiML", content_type = "text/xml"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn status(
    state: web::Data<App>,
    twilio: Option<web::Data<TwilioConfig>>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let (params, _) = verified(twilio.as_ref(), &req, &body)?;
    let sid = params.require("CallSid")?;
    let finished = ["completed", "busy", "failed", "no-answer", "canceled"];
    if params
        .get("CallStatus")
        .is_some_and(|s| finished.contains(&s))
        || params.get("QueueResult").is_some_and(|r| r == "hangup")
    {
        calls::event(&state, sid, CallEvent::HungUp, Utc::now()).await?;
    }
    Ok(twiml(String::new()))
}
