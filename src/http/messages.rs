//! `POST /v1/messages`: one inbound customer message from a channel adapter.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Adapter;
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::{ingest, App};
use crate::domain::{Channel, IdentityKind, Network, RawIdentity, RawInbound, Receipt, Skills};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/messages").route(web::post().to(ingest)));
}

/// An identity the adapter vouches for, as sent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityDto {
    pub kind: IdentityKind,
    pub value: String,
}

/// One inbound message (CONTRACT "Adapter API").
#[derive(Debug, Deserialize, ToSchema)]
pub struct IngestRequest {
    pub channel: Channel,
    #[serde(default)]
    pub network: Option<Network>,
    /// The provider's message id; with channel and network, the idempotency key.
    #[schema(min_length = 1, max_length = 512, pattern = r"\S")]
    pub external_id: String,
    /// The sender's address on the channel (phone number, e-mail, visitor id, ...).
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    pub from: String,
    /// Further identifiers the adapter vouches for (a logged-in chat user's e-mail, say).
    #[serde(default)]
    pub identities: Vec<IdentityDto>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
    /// The routing group of the inbox or line the customer used: it decides where a
    /// customer without a personal agent is routed (default `default`).
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = "^[a-z0-9][a-z0-9_-]*$",
        example = "sales"
    )]
    pub group: Option<String>,
    /// The customer's language (BCP 47, e.g. `es` or `pt-BR`): a new conversation goes to
    /// an agent who speaks it (relaxed over time); remembered for their next ones.
    #[serde(default)]
    #[schema(example = "es")]
    pub language: Option<String>,
    /// Skills a new conversation needs, name → least level 1-5 (`{"billing": 3}`).
    #[serde(default)]
    pub skills: Option<Skills>,
    /// Where the message arrived, as the settings' `[[inboxes]]` name it
    /// (`twilio:+18005550100`, `email:billing@example.com`, or the adapter's own name):
    /// the group, language and skills the message does not name come from it.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 256,
        example = "email:billing@example.com"
    )]
    pub inbox: Option<String>,
}

impl From<IngestRequest> for RawInbound {
    fn from(dto: IngestRequest) -> Self {
        RawInbound {
            group: dto.group,
            language: dto.language,
            skills: dto.skills,
            inboxes: dto.inbox.into_iter().collect(),
            channel: dto.channel,
            network: dto.network,
            external_id: dto.external_id,
            from: dto.from,
            identities: dto
                .identities
                .into_iter()
                .map(|i| RawIdentity {
                    kind: i.kind,
                    value: i.value,
                })
                .collect(),
            display_name: dto.display_name,
            subject: dto.subject,
            text: dto.text,
            sent_at: dto.sent_at,
        }
    }
}

/// Stitches the message to its customer's one conversation. A retry of the same
/// `(channel, network, external_id)` stores nothing and answers the first receipt
/// with `duplicate: true`.
#[utoipa::path(
    post,
    path = "/v1/messages",
    tag = "ingest",
    request_body = IngestRequest,
    security(("adapter_token" = [])),
    responses(
        (status = 202, description = "Stored (or a duplicate of a stored message), or from a blocked sender and dropped (`{\"blocked\": true}`)", body = IngestAnswer),
        (status = 400, description = "Malformed or invalid", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an adapter token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Store unreachable; nothing stored", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ingest(
    _: Adapter,
    state: web::Data<App>,
    body: web::Json<IngestRequest>,
) -> Result<HttpResponse, ApiError> {
    let receipt = ingest::ingest(&state, body.into_inner().into()).await?;
    Ok(HttpResponse::Accepted().json(receipt))
}

/// What `POST /v1/messages` answers with 202.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum IngestAnswer {
    Stored(Receipt),
    Blocked(BlockedAnswer),
}

/// A blocked sender's message: answered, nothing stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct BlockedAnswer {
    /// Always `true`.
    pub blocked: bool,
}
