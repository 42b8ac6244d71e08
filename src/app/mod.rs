//! The use cases: ingest (and its provider variants), calls and the IVR bypass, replies,
//! transfers, resolutions, agents and presence, rate limits. Each takes the `App` (the
//! store and the rules' settings), does its work over the store, and does all the metric
//! accounting, so every door into the service (HTTP, provider webhooks, workers) counts
//! alike. They answer `AppError`, which the HTTP layer maps onto problem+json.

pub mod access;
pub mod agents;
pub mod archiving;
pub mod audit;
pub mod auto_reply;
pub mod blocks;
pub mod bridge;
pub mod calls;
pub mod complaints;
pub mod conversations;
pub mod deadlines;
pub mod deletion;
pub mod delivery_status;
pub mod desk;
mod entries;
pub mod erasure;
pub mod export;
pub mod feed;
pub mod feed_sinks;
pub mod follow_ups;
pub mod ingest;
mod instrumented;
pub mod metrics;
pub mod outbound;
pub mod rate_limits;
pub mod ratings;
pub mod redaction;
pub mod threading;
pub mod upgrade;
pub mod windows;

use std::sync::Arc;

use crate::domain::{AgentId, DomainError, IdentityNormaliser, Limits};
use crate::store::{Store, StoreError};

pub use instrumented::Instrumented;

/// What every use case may use.
pub struct App {
    pub store: Arc<dyn Store>,
    pub normaliser: IdentityNormaliser,
    pub limits: Limits,
    pub metrics: metrics::Metrics,
    pub ivr: calls::IvrPolicy,
    /// Where agents' replies are delivered, when configured.
    pub outbound: Option<outbound::OutboundConfig>,
    /// Connects queued callers to the agent routing gives them, when the phone
    /// provider's API is configured.
    pub call_bridge: Option<std::sync::Arc<dyn bridge::CallBridge>>,
    /// Business hours and the working-day deadlines' lengths.
    pub deadlines: deadlines::DeadlinePolicy,
    /// How long after a customer's first conversation resolves their personal agent
    /// follows up (`None`: no automatic follow-ups).
    pub follow_up_after: Option<chrono::Duration>,
    /// This process among the deployment's replicas (the storage format gate).
    pub replica: upgrade::Replica,
    /// The archive tier, when `archive.url` is set.
    pub archive: Option<crate::store::archive::Archive>,
    /// The event feed's webhook sink, when `export.webhook_url` is set.
    pub export_webhook: Option<feed_sinks::ExportWebhook>,
    /// How long after resolution conversations move to the archive (`None`: never).
    pub archive_after: Option<chrono::Duration>,
    /// How long after resolution conversations are deleted (`None`: kept).
    pub delete_after: Option<chrono::Duration>,
    /// Whether card numbers are masked in every text before anything keeps it.
    pub card_numbers: crate::domain::CardNumbers,
    /// How long the audit trail keeps an entry.
    pub audit_keep: chrono::Duration,
    /// How long the event feed keeps an entry, and when this replica last trimmed it.
    pub feed_keep: chrono::Duration,
    pub feed_trimmed: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// This replica's copy of the blocked senders (`blocks`).
    pub blocks: blocks::Blocklist,
    /// Where messages arrive, mapped to a group, language and skills.
    pub inboxes: crate::domain::Inboxes,
    /// Conversations whose out-of-hours answer of the current period went out.
    pub auto_replies: auto_reply::Answered,
}

impl App {
    /// `text` with its card numbers masked under the deployment's policy, counted.
    pub fn masked(&self, text: String) -> String {
        let (masked, n) = self.card_numbers.apply(&text);
        if n == 0 {
            return text;
        }
        self.metrics.retention.cards_masked(n);
        masked.into_owned()
    }
}

/// Who acts on a conversation: an admin (or supervisor) reaches every one, an agent only
/// those it holds (or whose customer it owns, for reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Admin,
    Agent(AgentId),
    /// An agent who also watches the floor: reads every conversation and works the
    /// supervisor queue, but is no admin.
    Supervisor(AgentId),
}

/// Why a use case did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input breaks a rule; the caller's to fix.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts the current state (resolved twice, agent full, ...).
    #[error("{0}")]
    Conflict(String),
    /// A reply on a network whose messaging window closed (`windows`): `channels` are
    /// where else the customer can be reached.
    #[error("{detail}")]
    WindowClosed {
        detail: String,
        channels: Vec<String>,
    },
    /// The sender is blocked: nothing was stored (not a failure: answered 202).
    #[error("the sender is blocked")]
    Blocked,
    #[error("the store is unreachable; retry shortly")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        AppError::Invalid(e.to_string())
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) | StoreError::Contention(_) => AppError::Unavailable(e),
            StoreError::Conflict(detail) => AppError::Conflict(detail),
            StoreError::Corrupt(_) => AppError::Internal(Box::new(e)),
        }
    }
}
