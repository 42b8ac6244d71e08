//! What the stores record and hand back: messages, receipts and the read models of
//! CONTRACT "Read models". They serialise to the API's JSON as they are.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AgentId, Channel, ConversationId, CustomerId, Identity, MessageId, Network, Queue};

/// Tier of a customer nobody has classified.
pub const DEFAULT_TIER: &str = "standard";

/// A tier `tier` accepts, untrimmed, as the OpenAPI document's pattern.
pub const TIER_PATTERN: &str = "^[A-Za-z0-9_-]{1,32}$";

/// A tier as stored: trimmed, lower case, 1-32 of `a-z 0-9 _ -` (`Gold` is `gold`).
pub fn tier(raw: &str) -> Result<String, super::DomainError> {
    let tier = raw.trim().to_lowercase();
    let valid = (1..=32).contains(&tier.len())
        && tier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(tier)
    } else {
        Err(super::DomainError::invalid(
            "tier",
            "1-32 of a-z, 0-9, `_`, `-`",
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub const ALL: [Direction; 2] = [Direction::In, Direction::Out];
}

/// One timeline entry, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    #[schema(value_type = String)]
    pub id: MessageId,
    pub direction: Direction,
    pub channel: Channel,
    pub network: Option<Network>,
    /// The sender's normalised address.
    pub from: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// When it happened (the provider's time, capped at when we received it).
    pub at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// A customer-facing message, or an internal note (e.g. a transfer's).
    #[serde(default, skip_serializing_if = "EntryKind::is_message")]
    pub kind: EntryKind,
    /// A reply's delivery as its provider reported it (kept apart from the entry's
    /// record, and added when the timeline is read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<super::ReplyDelivery>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    #[default]
    Message,
    Note,
}

impl EntryKind {
    pub const ALL: [EntryKind; 2] = [EntryKind::Message, EntryKind::Note];

    fn is_message(&self) -> bool {
        *self == EntryKind::Message
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Assigned,
    Queued,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RouteReason {
    PersonalAgent,
    NewPersonalAgent,
    AlreadyAssigned,
    Fallback,
    NoAgentAvailable,
    WaitingForPersonalAgent,
}

impl RouteReason {
    pub const ALL: [RouteReason; 6] = [
        RouteReason::PersonalAgent,
        RouteReason::NewPersonalAgent,
        RouteReason::AlreadyAssigned,
        RouteReason::Fallback,
        RouteReason::NoAgentAvailable,
        RouteReason::WaitingForPersonalAgent,
    ];

    /// The contract's name for the reason (also the metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            RouteReason::PersonalAgent => "personal_agent",
            RouteReason::NewPersonalAgent => "new_personal_agent",
            RouteReason::AlreadyAssigned => "already_assigned",
            RouteReason::Fallback => "fallback",
            RouteReason::NoAgentAvailable => "no_agent_available",
            RouteReason::WaitingForPersonalAgent => "waiting_for_personal_agent",
        }
    }
}

impl std::str::FromStr for RouteReason {
    type Err = super::DomainError;

    fn from_str(s: &str) -> Result<Self, super::DomainError> {
        RouteReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| super::DomainError::invalid("reason", format!("unknown reason `{s}`")))
    }
}

/// Where a conversation went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Route {
    pub decision: Decision,
    #[schema(value_type = Option<String>)]
    pub agent_id: Option<AgentId>,
    #[schema(value_type = Option<String>)]
    pub queue: Option<Queue>,
    pub reason: RouteReason,
}

impl Route {
    /// Waiting in `queue` because nobody can take it.
    pub fn queued(queue: Queue) -> Self {
        Route {
            decision: Decision::Queued,
            agent_id: None,
            queue: Some(queue),
            reason: RouteReason::NoAgentAvailable,
        }
    }
}

/// The answer to an ingested message; a retry gets the first one back with `duplicate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    #[schema(value_type = String)]
    pub message_id: MessageId,
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    #[schema(value_type = String)]
    pub conversation_id: ConversationId,
    #[serde(default)]
    pub duplicate: bool,
    pub route: Route,
    /// The message reopened a recently resolved conversation (a repeat contact).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repeat_contact: bool,
    /// What the adapter should answer the customer now (outside business hours, once
    /// per conversation and closed period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_reply: Option<AutoReply>,
}

/// An automatic answer the adapter sends (CONTRACT "Out of hours").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AutoReply {
    /// `out_of_hours`.
    pub kind: String,
    /// When business hours open again (the calendar's holidays included).
    pub next_open_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConversationState {
    Open,
    Resolved,
}

/// A customer with everything an agent needs to know who they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct CustomerView {
    #[schema(value_type = String)]
    pub id: CustomerId,
    pub display_name: Option<String>,
    pub identities: Vec<Identity>,
    pub tier: String,
    #[schema(value_type = Option<String>)]
    pub personal_agent_id: Option<AgentId>,
    #[schema(value_type = Option<String>)]
    pub open_conversation_id: Option<ConversationId>,
    #[schema(value_type = Vec<String>)]
    pub conversation_ids: Vec<ConversationId>,
    pub created_at: DateTime<Utc>,
    /// The index over this customer's ratings.
    pub satisfaction: Option<super::Satisfaction>,
    /// The conversation holding their open complaint, until it is resolved.
    #[schema(value_type = Option<String>)]
    pub open_complaint_conversation_id: Option<ConversationId>,
    /// When their personal agent is due to follow up with them.
    pub follow_up_due: Option<DateTime<Utc>>,
}

/// A conversation with its whole cross-channel timeline, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConversationView {
    #[schema(value_type = String)]
    pub id: ConversationId,
    pub customer: CustomerView,
    pub state: ConversationState,
    #[schema(value_type = Option<String>)]
    pub agent_id: Option<AgentId>,
    #[schema(value_type = Option<String>)]
    pub queue: Option<Queue>,
    /// Where routing has it now (absent once resolved).
    pub route: Option<Route>,
    /// What an agent must have to take it now, as tags (`l:es` a language, `s:billing:3`
    /// a skill at least at level 3); empty when it needs nothing (or has relaxed to
    /// anyone).
    #[schema(example = json!(["l:es", "s:billing:3"]))]
    pub needs: Vec<String>,
    pub channels: Vec<Channel>,
    /// Times a customer came back within the reopen window after it was resolved.
    pub repeat_contacts: u32,
    /// Conversations whose timelines joined this one when customers were merged.
    #[schema(value_type = Vec<String>)]
    pub merged_conversation_ids: Vec<ConversationId>,
    pub created_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Its working-day deadlines (while open).
    pub deadlines: Option<super::Deadlines>,
    /// The timeline, oldest first: a page of it when read through the API.
    pub messages: Vec<Message>,
    /// Older entries exist before the first of `messages` (ask with `before` = its id).
    #[serde(default)]
    pub earlier: bool,
    /// It was moved to the archive tier (CONTRACT "Data lifecycle (v3)"); the timeline
    /// is the same, entry for entry.
    #[serde(default)]
    pub archived: bool,
}

/// Entries a timeline page holds unless asked for fewer (CONTRACT "Long timelines page").
pub const DEFAULT_PAGE: usize = 200;
/// The most entries one page holds.
pub const MAX_PAGE: usize = 1000;

impl ConversationView {
    /// Keeps the page of at most `limit` entries that ends just before `before` (default:
    /// the newest), and says whether older ones exist.
    pub fn page(
        &mut self,
        limit: usize,
        before: Option<&MessageId>,
    ) -> Result<(), super::DomainError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(super::DomainError::invalid(
                "limit",
                format!("1 to {MAX_PAGE}"),
            ));
        }
        let end = match before {
            None => self.messages.len(),
            Some(id) => self
                .messages
                .iter()
                .position(|m| &m.id == id)
                .ok_or_else(|| {
                    super::DomainError::invalid("before", "no such entry in this conversation")
                })?,
        };
        let start = end.saturating_sub(limit);
        self.messages.truncate(end);
        self.messages.drain(..start);
        self.earlier = start > 0;
        Ok(())
    }

    /// The customer's first message: when and where the conversation started.
    pub fn first_inbound(&self) -> Option<&Message> {
        self.messages.iter().find(|m| m.direction == Direction::In)
    }

    /// The customer's latest message: where they are now.
    pub fn last_inbound(&self) -> Option<&Message> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.direction == Direction::In)
    }
}
