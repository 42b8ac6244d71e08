//! Conversation reads and actions, for admins and for the agents who hold them.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit;
use super::auth::{Adapter, AnyCaller, Caller, Staff};
use super::body::RawBody;
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::{conversations, ratings};
use crate::app::{Actor, App};
use crate::domain::{
    clipped, AuditAction, Channel, ConversationId, ConversationState, ConversationView, Deadlines,
    Message, MessageId, Network, Requirements, Route, Skills, DEFAULT_PAGE,
};
use crate::store::{DeliveryState, DeliveryStatus};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/conversations/{id}").route(web::get().to(get_conversation)))
        .service(resource("/v1/conversations/{id}/resolve").route(web::post().to(resolve)))
        .service(resource("/v1/conversations/{id}/messages").route(web::post().to(reply)))
        .service(resource("/v1/conversations/{id}/transfer").route(web::post().to(transfer)))
        .service(resource("/v1/conversations/{id}/rating").route(web::post().to(rate)))
        .service(resource("/v1/conversations/{id}/deadlines").route(web::get().to(deadlines)))
        .service(
            resource("/v1/conversations/{id}/requirements").route(web::put().to(set_requirements)),
        )
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
        (status = 200, body = DeliveryView),
    )
)]
pub async fn delivery(
    _: super::auth::Admin,
    state: web::Data<App>,
    message_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .store
        .delivery_state(&message_id)
        .await?
        .map(|d| HttpResponse::Ok().json(DeliveryView::from(d)))
        .ok_or_else(|| ApiError::NotFound(format!("no delivery for `{message_id}`")))
}

/// An agent's reply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyRequest {
    #[schema(min_length = 1, max_length = 65536, pattern = r"\S")]
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
        (status = 404, description = "Missing, or not held by this agent", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reply(
    staff: Staff,
    state: web::Data<App>,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Json<ReplyRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let body = body.into_inner();
    let action = AuditAction::ConversationReply;
    audit::record_oversight(&state, &staff.actor(), &req, action, &id.to_string()).await?;
    let reply = conversations::Reply {
        text: body.text,
        channel: body.channel,
        network: body.network,
    };
    let replied = conversations::reply(&state, &staff.actor(), &id, reply).await?;
    let mut body =
        serde_json::to_value(&replied.message).map_err(|e| ApiError::Internal(Box::new(e)))?;
    body["delivery"] = serde_json::json!(replied.delivery);
    Ok(HttpResponse::Created().json(body))
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
        (status = 409, description = "Target agent unavailable, or the conversation is not routed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn transfer(
    staff: Staff,
    state: web::Data<App>,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Json<TransferRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let action = AuditAction::ConversationTransfer;
    audit::record_oversight(&state, &staff.actor(), &req, action, &id.to_string()).await?;
    let body = body.into_inner();
    let to = match (body.to_agent, body.to_queue) {
        (Some(agent), None) => conversations::Destination::Agent(agent),
        (None, Some(queue)) => conversations::Destination::Queue(queue),
        _ => {
            return Err(ApiError::BadRequest(
                "give exactly one of `to_agent` and `to_queue`".into(),
            ))
        }
    };
    let (route, transfers) =
        conversations::transfer(&state, &staff.actor(), &id, to, body.note).await?;
    Ok(HttpResponse::Ok().json(TransferResponse { route, transfers }))
}

/// When an open conversation's first response and resolution are due (working time),
/// for the adapter to tell the customer ("we will answer by Monday 17:55").
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/deadlines",
    tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    security(("adapter_token" = []), ("admin_token" = [])),
    responses(
        (status = 200, body = Deadlines),
        (status = 404, description = "No such conversation, or it is resolved", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn deadlines(
    caller: AnyCaller,
    state: web::Data<App>,
    id: web::Path<String>,
) -> Result<web::Json<Deadlines>, ApiError> {
    if let Caller::Agent(_) | Caller::Supervisor(_) = caller.0 {
        return Err(ApiError::Forbidden);
    }
    let id = parse_id(&id)?;
    let conv = conversations::read(&state, &Actor::Admin, &id).await?;
    conv.deadlines
        .map(web::Json)
        .ok_or_else(|| ApiError::NotFound(format!("conversation `{id}` is resolved")))
}

/// A customer's rating of a conversation, from a survey answered later.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    #[schema(minimum = 1, maximum = 5)]
    #[serde(deserialize_with = "crate::domain::whole_u8")]
    pub rating: u8,
    /// Where it came from (`survey`, `sms`, ...): one rating per conversation and source.
    #[serde(default = "survey")]
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = "^[a-z0-9_-]+$",
        example = "survey"
    )]
    pub source: String,
}

fn survey() -> String {
    "survey".to_owned()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RatingResponse {
    /// The conversation was rated from this source before: this one changed nothing.
    pub duplicate: bool,
    /// Whom it rates: the agent who served the conversation (or the personal agent).
    pub agent_id: Option<String>,
}

/// Records a customer's rating (1–5) of a conversation, once per conversation and
/// source; it counts in the satisfaction index of the agent who served it and of the
/// customer, and in `switchboard_csat_responses_total`.
#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/rating",
    tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = RatingRequest,
    security(("adapter_token" = [])),
    responses(
        (status = 201, description = "Recorded", body = RatingResponse),
        (status = 200, description = "Recorded before from this source; nothing changed", body = RatingResponse),
    )
)]
pub async fn rate(
    _: Adapter,
    state: web::Data<App>,
    id: web::Path<String>,
    body: web::Json<RatingRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let rated = ratings::rate(&state, &id, body.rating, &body.source).await?;
    let mut response = if rated.duplicate {
        HttpResponse::Ok()
    } else {
        HttpResponse::Created()
    };
    Ok(response.json(RatingResponse {
        duplicate: rated.duplicate,
        agent_id: rated.agent.map(|a| a.to_string()),
    }))
}

/// What a conversation needs from its agent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequirementsRequest {
    /// A BCP 47 language tag (`es`, `pt-BR`); absent: none.
    #[serde(default)]
    #[schema(example = "es")]
    pub language: Option<String>,
    /// Skill name → least level 1-5; empty: none.
    #[serde(default)]
    pub skills: Skills,
}

/// Sets what the conversation needs from its agent; its requirements relax again from
/// now. Queued, it goes at once to an agent who fits; a holder keeps it.
#[utoipa::path(
    put,
    path = "/v1/conversations/{id}/requirements",
    tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = RequirementsRequest,
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, description = "Where it stands now, with its `needs`", body = ConversationView),
        (status = 409, description = "The conversation is not routed (resolved)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_requirements(
    staff: Staff,
    state: web::Data<App>,
    id: web::Path<String>,
    body: web::Json<RequirementsRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    let body = body.into_inner();
    let requirements = Requirements {
        language: body.language.as_deref().map(str::parse).transpose()?,
        skills: body.skills,
    };
    let view = conversations::set_requirements(&state, &staff.actor(), &id, requirements).await?;
    Ok(HttpResponse::Ok().json(view))
}

fn parse_id(raw: &str) -> Result<ConversationId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("no conversation `{}`", clipped(raw, 64))))
}

/// Which page of a timeline to answer.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Most entries to answer (default 200, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// The id of the entry the page ends just before (default: after the newest).
    pub before: Option<String>,
}

/// The conversation with its customer and its cross-channel timeline, in order: the
/// newest 200 entries, or the page asked for; `earlier` says whether older ones exist.
#[utoipa::path(
    get,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    params(("id" = String, Path, description = "Conversation id"), PageQuery),
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = ConversationView),
    )
)]
pub async fn get_conversation(
    staff: Staff,
    state: web::Data<App>,
    id: web::Path<String>,
    req: HttpRequest,
    page: web::Query<PageQuery>,
) -> Result<web::Json<ConversationView>, ApiError> {
    let id = parse_id(&id)?;
    let before = match page.before.as_deref() {
        Some(raw) => Some(MessageId::parse(raw).ok_or_else(|| {
            ApiError::BadRequest(format!("`before` is no message id: `{}`", clipped(raw, 64)))
        })?),
        None => None,
    };
    // Another agent's conversation is answered exactly like a missing one.
    let mut view = conversations::read(&state, &staff.actor(), &id).await?;
    view.page(page.limit.unwrap_or(DEFAULT_PAGE), before.as_ref())?;
    let action = AuditAction::ConversationRead;
    audit::record(&state, &staff.actor(), &req, action, &id.to_string()).await?;
    Ok(web::Json(view))
}

/// Optional satisfaction score given on resolution.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// 1 (bad) to 5 (great).
    #[serde(default, deserialize_with = "crate::domain::whole_u8_opt")]
    #[schema(minimum = 1, maximum = 5)]
    pub csat: Option<u8>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResolveResponse {
    pub id: String,
    pub state: ConversationState,
    pub csat: Option<u8>,
}

/// The optional body of a resolve: empty, JSON `null`, or a JSON `ResolveRequest`.
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
    serde_json::from_slice::<Option<ResolveRequest>>(body)
        .map(Option::unwrap_or_default)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))
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
        (status = 409, description = "Already resolved", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn resolve(
    staff: Staff,
    state: web::Data<App>,
    id: web::Path<String>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let id = parse_id(&id)?;
    // Parsed before anything changes: a rating we cannot read must not be dropped
    // silently while the conversation resolves anyway.
    let csat = resolve_request(&req, &body)?.csat;
    let action = AuditAction::ConversationResolve;
    audit::record_oversight(&state, &staff.actor(), &req, action, &id.to_string()).await?;
    conversations::resolve(&state, &staff.actor(), &id, csat).await?;
    Ok(HttpResponse::Ok().json(ResolveResponse {
        id: id.to_string(),
        state: ConversationState::Resolved,
        csat,
    }))
}

/// Where a reply's delivery stands, as the API shows it (separate from the stored
/// `DeliveryState`).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub state: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
}

impl From<DeliveryState> for DeliveryView {
    fn from(d: DeliveryState) -> Self {
        Self {
            state: d.state,
            attempts: d.attempts,
            last_error: d.last_error,
        }
    }
}
