//! Conversation reads and actions, for admins and for the agents who hold them.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::RawBody;
use super::{resource, AppState};
use crate::auth::{Caller, Staff};
use crate::domain::{
    Channel, ConversationId, ConversationState, ConversationView, Direction, EntryKind, Medium,
    Message, MessageId, Network, Route,
};
use crate::error::{ApiError, Problem};
use crate::store::{
    ReplyOutcome, ResolveOutcome, TransferOutcome, TransferTarget, SUPERVISOR_QUEUE,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/conversations/{id}").route(web::get().to(get_conversation)))
        .service(resource("/v1/conversations/{id}/resolve").route(web::post().to(resolve)))
        .service(resource("/v1/conversations/{id}/messages").route(web::post().to(reply)))
        .service(resource("/v1/conversations/{id}/transfer").route(web::post().to(transfer)))
        .service(resource("/v1/deliveries/{message_id}").route(web::get().to(delivery)));
}

/// Where the delivery of an agent's reply to the channel adapter stands.
#[utoipa::path(
    get,
    path = "/v1/deliveries/{message_id}",
    tag = "conversations",
    params(("message_id" = String, Path, description = "The reply's message id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = crate::store::DeliveryState),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delivery(
    _: crate::auth::Admin,
    state: web::Data<AppState>,
    message_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .store
        .delivery_state(&message_id)
        .await?
        .map(|d| HttpResponse::Ok().json(d))
        .ok_or_else(|| ApiError::NotFound(format!("no delivery for `{message_id}`")))
}

/// Longest reply or note accepted (characters).
const MAX_REPLY_CHARS: usize = 64 * 1024;

/// The conversation, if `staff` may act on it: admins always, an agent only while it
/// holds it. Anything else is answered like a missing conversation.
async fn held_by(
    staff: &Staff,
    state: &AppState,
    id: &ConversationId,
) -> Result<ConversationView, ApiError> {
    let conv = state.store.conversation(id).await?;
    conv.filter(|c| match &staff.0 {
        Caller::Admin => true,
        Caller::Agent(me) => c.agent_id.as_deref() == Some(me.as_str()),
        Caller::Adapter => false,
    })
    .ok_or_else(|| ApiError::NotFound(format!("no conversation `{id}` of yours")))
}

/// The channel and network of the customer's last message: where replies go by default.
fn last_medium(conv: &ConversationView) -> Result<Medium, ApiError> {
    let last_in = conv
        .messages
        .iter()
        .rev()
        .find(|m| m.direction == Direction::In);
    Ok(last_in.map_or(Medium::new(Channel::Chat, None), |m| {
        Medium::new(m.channel, m.network)
    })?)
}

/// A timeline entry written by staff: a reply or a note.
fn staff_entry(
    staff: &Staff,
    medium: Medium,
    text: String,
    kind: EntryKind,
    now: DateTime<Utc>,
) -> Message {
    Message {
        id: MessageId::generate(),
        direction: Direction::Out,
        channel: medium.channel(),
        network: medium.network(),
        from: author(staff),
        text,
        subject: None,
        external_id: None,
        at: now,
        received_at: now,
        kind,
    }
}

fn author(staff: &Staff) -> String {
    match &staff.0 {
        Caller::Agent(me) => me.to_string(),
        _ => "admin".to_owned(),
    }
}

/// An agent's reply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    pub text: String,
    /// Defaults to the channel of the customer's last message.
    #[serde(default)]
    pub channel: Option<Channel>,
    #[serde(default)]
    pub network: Option<Network>,
}

/// Stores an agent's reply as an outbound message; it goes out on the customer's last
/// channel unless another is named. The first one counts as the first response.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/messages",
    tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = ReplyRequest,
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 201, body = Message),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or not held by this agent", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reply(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ReplyRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let body = body.into_inner();
    let text = body.text.trim().to_owned();
    if text.is_empty() || text.chars().count() > MAX_REPLY_CHARS {
        return Err(ApiError::BadRequest(format!(
            "`text` must be 1-{MAX_REPLY_CHARS} characters"
        )));
    }
    let conv = held_by(&staff, &state, &id).await?;
    let medium = match body.channel {
        Some(channel) => Medium::new(channel, body.network)?,
        None => last_medium(&conv)?,
    };
    let channel = medium.channel();
    let now = Utc::now();
    let message = staff_entry(&staff, medium, text, EntryKind::Message, now);
    match state.store.add_reply(&id, &message, now).await? {
        ReplyOutcome::NotFound => Err(ApiError::NotFound(format!("no conversation `{id}`"))),
        ReplyOutcome::Stored { first } => {
            let email_id = format!("{}@switchboard", message.id.as_str());
            if channel == Channel::Email {
                // The Message-ID the outbound e-mail carries: a reply to it finds this thread.
                state.store.record_thread(&email_id, &id).await?;
            }
            let delivery = enqueue_delivery(&state, &conv, &message, &email_id, now).await?;
            state.metrics.message(channel, Direction::Out);
            if first {
                let waited = (now - conv.created_at).num_milliseconds().max(0) as f64 / 1000.0;
                state
                    .metrics
                    .first_response_seconds
                    .with_label_values(&[channel.as_str()])
                    .observe(waited);
            }
            let mut body =
                serde_json::to_value(&message).map_err(|e| ApiError::Internal(Box::new(e)))?;
            body["delivery"] = serde_json::json!(delivery);
            Ok(HttpResponse::Created().json(body))
        }
    }
}

/// Puts the reply in the durable outbox for the channel's adapter, addressed to the
/// customer's address on that channel; `None` when no adapter URL serves the channel.
async fn enqueue_delivery(
    state: &AppState,
    conv: &ConversationView,
    message: &Message,
    email_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<&'static str>, ApiError> {
    let Some(outbound) = &state.outbound else {
        return Ok(None);
    };
    let Some(url) = outbound.url_for(message.channel) else {
        return Ok(None);
    };
    let inbound = conv
        .messages
        .iter()
        .rev()
        .filter(|m| m.direction == Direction::In);
    let recipient = inbound
        .clone()
        .find(|m| m.channel == message.channel && m.network == message.network)
        .or_else(|| inbound.clone().find(|m| m.channel == message.channel))
        .map(|m| m.from.clone());
    let body = serde_json::json!({
        "conversation_id": conv.id,
        "message_id": message.id,
        "channel": message.channel,
        "network": message.network,
        "recipient": recipient,
        "text": message.text,
        "email_message_id": (message.channel == Channel::Email).then(|| format!("<{email_id}>")),
        "sent_at": message.at,
    });
    state
        .store
        .enqueue_delivery(message.id.as_str(), url, &body.to_string(), now)
        .await?;
    Ok(Some("pending"))
}

/// Where to send a conversation, and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// An online agent with room on the conversation's channel...
    #[serde(default)]
    pub to_agent: Option<String>,
    /// ...or a queue: the conversation's channel (`chat`, ...) or `supervisor`.
    #[serde(default)]
    pub to_queue: Option<String>,
    /// Travels with the whole timeline, as an internal note.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferResponse {
    pub route: Route,
    pub transfers: u32,
}

/// Transfers the conversation (timeline and note included). A conversation transferred
/// more than twice goes to the supervisor queue instead.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/transfer",
    tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = TransferRequest,
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = TransferResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Target agent unavailable, or the conversation is not routed", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn transfer(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<TransferRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let body = body.into_inner();
    let conv = held_by(&staff, &state, &id).await?;
    let medium = last_medium(&conv)?;
    let queues = Channel::ALL.map(Channel::as_str);
    let target = match (body.to_agent, body.to_queue) {
        (Some(agent), None) => TransferTarget::Agent(agent.parse()?),
        (None, Some(queue)) if queue == SUPERVISOR_QUEUE || queues.contains(&queue.as_str()) => {
            TransferTarget::Queue(queue)
        }
        (None, Some(queue)) => {
            return Err(ApiError::BadRequest(format!(
                "`to_queue` must be a channel (the conversation's own queue) or `{SUPERVISOR_QUEUE}`, not `{queue}`"
            )))
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of `to_agent` and `to_queue`".into(),
            ))
        }
    };
    let note = body
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_REPLY_CHARS)
    {
        return Err(ApiError::BadRequest(format!(
            "`note` must be at most {MAX_REPLY_CHARS} characters"
        )));
    }
    let now = Utc::now();
    match state.store.transfer(&id, &target, now).await? {
        TransferOutcome::NotRouted => Err(ApiError::Conflict(format!(
            "conversation `{id}` is not waiting for or held by anyone"
        ))),
        TransferOutcome::AgentUnavailable => Err(ApiError::Conflict(
            "the target agent is unknown, not online, or full".into(),
        )),
        TransferOutcome::Transferred {
            route,
            transfers,
            assignments,
        } => {
            state.metrics.assignments(&assignments);
            let to = match (&route.agent_id, route.queue.as_deref()) {
                (_, Some(SUPERVISOR_QUEUE)) => "supervisor",
                (Some(_), _) => "agent",
                _ => "queue",
            };
            state.metrics.transfers.with_label_values(&[to]).inc();
            if let Some(text) = note {
                let entry = staff_entry(&staff, medium, text, EntryKind::Note, now);
                state.store.add_reply(&id, &entry, now).await?;
            }
            Ok(HttpResponse::Ok().json(TransferResponse { route, transfers }))
        }
    }
}

fn parse_id(raw: &str) -> Result<ConversationId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("no conversation `{raw}`")))
}

/// The conversation with its customer and whole cross-channel timeline, in order.
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = ConversationView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_conversation(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<web::Json<ConversationView>, ApiError> {
    let id = parse_id(&id)?;
    let conv = state.store.conversation(&id).await?;
    // Another agent's conversation is answered exactly like a missing one.
    conv.filter(|c| reaches(&staff, c))
        .map(web::Json)
        .ok_or_else(|| ApiError::NotFound(format!("no conversation `{id}`")))
}

/// Admins reach every conversation; an agent the ones it holds or whose customer it owns.
fn reaches(staff: &Staff, conv: &ConversationView) -> bool {
    match &staff.0 {
        Caller::Admin => true,
        Caller::Agent(me) => {
            conv.agent_id.as_deref() == Some(me.as_str())
                || conv.customer.personal_agent_id.as_deref() == Some(me.as_str())
        }
        Caller::Adapter => false,
    }
}

/// Optional satisfaction score given on resolution.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// 1 (bad) to 5 (great).
    #[serde(default)]
    pub csat: Option<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResolveResponse {
    pub id: String,
    pub state: ConversationState,
    pub csat: Option<u8>,
}

/// The optional body of a resolve: empty, or a JSON `ResolveRequest`.
fn resolve_request(req: &HttpRequest, body: &[u8]) -> Result<ResolveRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ResolveRequest::default());
    }
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if !json {
        return Err(ApiError::UnsupportedMediaType(
            "the body must be application/json".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))
}

/// Resolves the conversation; a message within the reopen window reopens it.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/resolve",
    tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    request_body(content = Option<ResolveRequest>, description = "Optional; may be empty"),
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = ResolveResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved", body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn resolve(
    staff: Staff,
    state: web::Data<AppState>,
    id: web::Path<String>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    // Parsed before anything changes: a rating we cannot read must not be dropped
    // silently while the conversation resolves anyway.
    let csat = resolve_request(&req, &body)?.csat;
    if let Caller::Agent(me) = &staff.0 {
        let held = state
            .store
            .conversation(&id)
            .await?
            .and_then(|c| c.agent_id);
        if held.as_deref() != Some(me.as_str()) {
            return Err(ApiError::NotFound(format!(
                "no conversation `{id}` of yours"
            )));
        }
    }
    if csat.is_some_and(|c| !(1..=5).contains(&c)) {
        return Err(ApiError::BadRequest(
            "`csat` must be between 1 and 5".into(),
        ));
    }
    match state.store.resolve(&id, Utc::now()).await? {
        ResolveOutcome::Resolved(drained) => {
            state.metrics.assignments(&drained);
            Ok(HttpResponse::Ok().json(ResolveResponse {
                id: id.to_string(),
                state: ConversationState::Resolved,
                csat,
            }))
        }
        ResolveOutcome::AlreadyResolved => Err(ApiError::Conflict(format!(
            "conversation `{id}` is already resolved"
        ))),
        ResolveOutcome::NotFound => Err(ApiError::NotFound(format!("no conversation `{id}`"))),
    }
}
