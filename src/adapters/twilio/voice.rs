//! Twilio Programmable Voice: the incoming-call webhook and its menu, dial and status
//! callbacks. Every request must carry a valid `X-Twilio-Signature` over
//! `SWITCHBOARD_PUBLIC_URL` + path + query and every posted parameter; a forged or
//! missing one is refused with 403 before anything is read or changed. Answers are TwiML.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;

use super::{twiml, verified, xml, Params};
use crate::api::body::RawBody;
use crate::api::{resource, AppState, TwilioConfig};
use crate::calls::{self, CallEvent};
use crate::error::{ApiError, Problem};
use crate::store::{CallRecord, TransferOutcome, TransferTarget};

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
    state: &AppState,
    call: &CallRecord,
    config: &TwilioConfig,
) -> Result<HttpResponse, ApiError> {
    let base = format!("{}{BASE}", config.public_url);
    Ok(match (call.decision.as_str(), call.agent_id.as_deref()) {
        ("connect", Some(agent)) => {
            let dial = match agent.parse() {
                Ok(id) => state.store.agent(&id).await?.and_then(|a| a.dial),
                Err(_) => None,
            };
            let target = match dial.as_deref() {
                Some(sip) if sip.starts_with("sip:") => format!("<Sip>{}</Sip>", xml(sip)),
                Some(number) => format!("<Number>{}</Number>", xml(number)),
                None => format!("<Client>{}</Client>", xml(agent)),
            };
            twiml(format!(
                r#"<Dial action="{}" method="POST">{target}</Dial>"#,
                xml(&format!("{base}/dial"))
            ))
        }
        ("queue", _) => twiml(format!(
            r#"<Enqueue action="{}" method="POST">phone</Enqueue>"#,
            xml(&format!("{base}/status"))
        )),
        _ => menu_twiml(&base),
    })
}

fn menu_twiml(base: &str) -> HttpResponse {
    let action = xml(&format!("{base}/menu"));
    twiml(format!(
        r#"<Gather input="dtmf speech" numDigits="1" action="{action}" method="POST" timeout="5"><Say>Welcome. To talk to a person, press 0 or say agent. For the status of an order, press 1.</Say></Gather><Redirect method="POST">{action}</Redirect>"#
    ))
}

/// The caller asked for a person: 0, or words like "agent" or "human".
fn wants_a_person(params: &Params) -> bool {
    let digit = params.get("Digits").is_some_and(|d| d.trim() == "0");
    let words = [
        "agent",
        "human",
        "person",
        "operator",
        "representative",
        "someone",
    ];
    let said = params
        .get("SpeechResult")
        .map(str::to_lowercase)
        .unwrap_or_default();
    digit || words.iter().any(|w| said.contains(w))
}

/// Incoming call: a known caller is dialled straight to a human (or queued); an unknown
/// caller hears the menu.
#[utoipa::path(post, path = "/v1/adapters/twilio/voice", tag = "twilio",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "Twilio's call parameters (CallSid, From, To, ...)"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature")),
    responses(
        (status = 200, description = "TwiML", content_type = "text/xml"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing or forged signature; nothing changed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn voice(
    state: web::Data<AppState>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let (params, config) = verified(&state, &req, &body)?;
    let call = calls::incoming(
        &state,
        params.require("CallSid")?,
        params.require("From")?,
        params.get("To").unwrap_or(""),
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
    state: web::Data<AppState>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let (params, config) = verified(&state, &req, &body)?;
    let sid = params.require("CallSid")?;
    let base = format!("{}{BASE}", config.public_url);
    let now = Utc::now();
    if wants_a_person(&params) {
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
    Ok(menu_twiml(&base))
}

/// The `<Dial>` ended: hung up after talking, or not answered, in which case the agent
/// is set away and the call falls back to whoever has room (or the queue).
#[utoipa::path(post, path = "/v1/adapters/twilio/voice/dial", tag = "twilio",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "CallSid, DialCallStatus"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature")),
    responses((status = 200, description = "TwiML", content_type = "text/xml"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn dial(
    state: web::Data<AppState>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let (params, config) = verified(&state, &req, &body)?;
    let sid = params.require("CallSid")?;
    let now = Utc::now();
    if !caller_still_waiting(&params) {
        calls::event(&state, sid, CallEvent::HungUp, now).await?;
        return Ok(twiml("<Hangup/>".into()));
    }
    let Some(mut call) = state.store.call(sid).await? else {
        return Err(ApiError::NotFound(format!("no call `{sid}`")));
    };
    let Some(conv) = call.conversation_id.as_deref().and_then(|c| c.parse().ok()) else {
        return answer(&state, &call, &config).await;
    };
    // Redirection on no answer: the agent who did not pick up is set away (no new work
    // until they come back), and the call goes to whoever has room, or the queue.
    if let Some(agent) = call.agent_id.as_deref().and_then(|a| a.parse().ok()) {
        if let Some(made) = state
            .store
            .set_presence(&agent, crate::domain::Presence::Away, now)
            .await?
        {
            state.metrics.assignments(&made);
        }
    }
    if let TransferOutcome::Transferred {
        route, assignments, ..
    } = state
        .store
        .transfer(&conv, &TransferTarget::Queue("phone".into()), now)
        .await?
    {
        state.metrics.assignments(&assignments);
        calls::place(&mut call, &route, "fallback");
        state.store.save_call(&call).await?;
    }
    answer(&state, &call, &config).await
}

/// Whether the dial ended with the caller still on the line and nobody having talked to
/// them: the agent did not answer (`no-answer`, `busy`, `failed`). A talk that ended
/// (`completed`, `answered`), a caller who hung up while it rang (`canceled`) or a parent
/// call that is over is an ended call, never a reason to set the agent away or requeue.
fn caller_still_waiting(params: &Params) -> bool {
    let unanswered = matches!(
        params.get("DialCallStatus"),
        Some("no-answer" | "busy" | "failed")
    );
    let parent_over = matches!(
        params.get("CallStatus"),
        Some("completed" | "canceled" | "busy" | "failed" | "no-answer")
    );
    unanswered && !parent_over
}

/// Call status callback: a finished call frees its agent's phone unit.
#[utoipa::path(post, path = "/v1/adapters/twilio/voice/status", tag = "twilio",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "CallSid, CallStatus"),
    params(("X-Twilio-Signature" = String, Header, description = "Twilio's signature")),
    responses((status = 200, description = "Empty TwiML", content_type = "text/xml"), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn status(
    state: web::Data<AppState>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let (params, _) = verified(&state, &req, &body)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_asked_for_by_zero_or_by_name() {
        let p = |pairs: &[(&str, &str)]| {
            Params(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        assert!(wants_a_person(&p(&[("Digits", "0")])));
        assert!(wants_a_person(&p(&[(
            "SpeechResult",
            "I want an Agent please"
        )])));
        assert!(!wants_a_person(&p(&[("Digits", "1")])));
        assert!(!wants_a_person(&p(&[("SpeechResult", "order status")])));
    }

    #[test]
    fn only_an_unanswered_dial_with_the_caller_on_the_line_falls_back() {
        let p = |pairs: &[(&str, &str)]| {
            Params(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let cases = [
            (
                &[
                    ("DialCallStatus", "no-answer"),
                    ("CallStatus", "in-progress"),
                ][..],
                true,
            ),
            (&[("DialCallStatus", "busy")][..], true),
            (
                &[("DialCallStatus", "canceled"), ("CallStatus", "completed")][..],
                false,
            ),
            (&[("DialCallStatus", "canceled")][..], false),
            (
                &[("DialCallStatus", "no-answer"), ("CallStatus", "completed")][..],
                false,
            ),
            (&[("DialCallStatus", "completed")][..], false),
            (&[("DialCallStatus", "answered")][..], false),
        ];
        for (params, waiting) in cases {
            assert_eq!(caller_still_waiting(&p(params)), waiting, "{params:?}");
        }
    }
}
