//! Types and rules of the conversation domain. No I/O lives here: raw input is parsed
//! into these types once, at the edge, and stores and services only ever see them.

mod agent;
mod audit;
mod calendar;
mod call;
mod card_numbers;
mod channel;
mod delivery;
pub mod facts;
pub mod feed;
mod group;
mod identity;
mod ids;
mod inbound;
mod inbox;
mod per_channel;
mod personal;
mod phone;
#[cfg(test)]
mod phone_examples;
mod queue;
mod requirements;
mod rules;
mod satisfaction;
mod sender;
mod views;
mod whole;

pub use agent::{
    AgentId, AgentProfile, AgentView, Capacity, ManagerCard, Presence, PublicCard, MAX_CAPACITY,
};
pub use audit::{audit_id_parts, AuditAction, AuditEntry};
pub use calendar::{Calendar, DeadlineKind, Deadlines};
pub use call::{CallDecision, CallState};
pub use card_numbers::CardNumbers;
pub use channel::{Channel, Medium, Network};
pub use delivery::{ReplyDelivery, ReplyStatus};
pub use group::{RoutingGroup, DEFAULT_GROUP};
pub use identity::{Identity, IdentityKind, IdentityNormaliser, MAX_IDENTITY_LEN};
pub use ids::{ConversationId, CustomerId, Incarnation, MessageId};
pub use inbound::{InboundMessage, Limits, RawIdentity, RawInbound};
pub use inbox::{InboxSettings, Inboxes};
pub use per_channel::PerChannel;
pub use personal::{clipped, Masked, MaskedIdentity};
pub use queue::{Queue, QUEUES, SUPERVISOR_QUEUE};
pub use requirements::{Language, Requirements, Skills, MAX_LABELS, SKILL_PATTERN};
pub use rules::{merge_target, next_step, ConversationStep};
pub use satisfaction::{rating, rating_source, Satisfaction, RECENT_RATINGS};
pub use views::{
    tier, AutoReply, ConversationState, ConversationView, CustomerView, Decision, Direction,
    EntryKind, Message, Receipt, Route, RouteReason, DEFAULT_PAGE, DEFAULT_TIER, MAX_PAGE,
    TIER_PATTERN,
};
pub use whole::{whole_u8, whole_u8_opt};

/// Input that breaks a domain rule; always the client's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("`{field}` is invalid: {reason}")]
    Invalid { field: String, reason: String },
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        DomainError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
