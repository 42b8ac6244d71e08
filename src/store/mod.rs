//! Persistence of customers, identities and conversations behind one trait, with a
//! Redis implementation for production and an in-memory one for the quick start and
//! fast tests. Both pass the same conformance suite (`tests/api/conformance.rs`).

pub mod archive;
pub mod erasure;
pub mod feed_relay;
pub mod format;
mod memory;
mod records;
pub mod redaction;
mod redis;
pub mod retention;
mod roles;
pub mod sharded_cache;

use chrono::{DateTime, Utc};
use roles::define_roles;

use self::erasure::{Erasure, ErasureInventory};
use self::feed_relay::{FeedClaim, FeedMoved, FeedNote};
use self::format::{FinalizeOutcome, FormatStatus, ReplicaFormat, StorageFormat};
use self::retention::{Archivable, ArchiveCandidate, ArchiveClaim};
use crate::domain::feed::{FeedEvent, PendingEvent};
pub(crate) use roles::for_each_operation;

use crate::domain::{
    AgentId, AgentProfile, AgentView, AuditEntry, CallDecision, CallState, ConversationId,
    ConversationView, CustomerId, CustomerView, DeadlineKind, Deadlines, Identity, InboundMessage,
    Message, MessageId, Presence, Queue, Receipt, ReplyDelivery, Requirements, Skills, QUEUES,
};

pub use crate::routing::{
    AgentEvent, Assignment, EventKind, QueueStat, QueuedConversation, RoutingSnapshot, StorePolicy,
    TransferOutcome, TransferTarget, EVENTS_KEPT, MAX_TRANSFERS,
};

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;
pub use self::redis::{Keys, RedisOptions};

/// An agent created or updated: its view, whether it is new, and the waiting work its
/// (new) capacity took at once, which counts as assignments like any other.
#[derive(Debug, Clone)]
pub struct SavedAgent {
    pub view: AgentView,
    pub created: bool,
    pub assignments: Vec<Assignment>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached right now; the request may be retried.
    #[error("store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store answered something this code never writes.
    #[error("unexpected data in store: {0}")]
    Corrupt(String),
    /// Customers kept moving under us (merges chained past the hop limit).
    #[error("contention: {0}")]
    Contention(String),
    /// The change contradicts what is stored (e.g. moving a busy agent to another group).
    #[error("{0}")]
    Conflict(String),
}

/// A phone call's state, kept for a day: what was decided for it and where it stands.
/// Stored as JSON; the API shows it as `http::calls::CallView`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallRecord {
    pub external_id: String,
    /// The caller, E.164.
    pub from: String,
    pub to: String,
    pub customer_id: Option<CustomerId>,
    pub conversation_id: Option<ConversationId>,
    pub decision: CallDecision,
    pub agent_id: Option<AgentId>,
    /// Why: a routing reason for `connect`/`queue`, or `unknown_caller` for `ivr`.
    pub reason: String,
    pub state: CallState,
    pub menu_entered_at: Option<DateTime<Utc>>,
    /// When the caller left the menu (asked for a person, served themselves, hung up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub menu_left_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    /// When the call ended: its duration is `ended_at - answered_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// The routing group of the line called, as the adapter named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The caller's language and the skills the call needs, as the adapter named them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<Skills>,
}

/// What recording a rating found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rated {
    /// The conversation was rated from this source before: nothing changed.
    pub duplicate: bool,
    /// Whom it rates: the agent holding the conversation, or who last served it, or the
    /// customer's personal agent.
    pub agent: Option<AgentId>,
}

/// Whose ratings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RatingsOf {
    Agent(AgentId),
    Customer(CustomerId),
}

/// A reply waiting in the outbox to be delivered to the adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The outbound message's id.
    pub id: String,
    pub url: String,
    pub body: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// Where a delivery stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryState {
    pub state: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// Where a reply's delivery is: waiting for (another) attempt, landed, or given up.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "failed" => Ok(DeliveryStatus::Failed),
            other => Err(StoreError::Corrupt(format!("delivery state `{other}`"))),
        }
    }
}

/// What an attempt to deliver did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Try again at this time.
    Retry {
        at: DateTime<Utc>,
        error: String,
    },
    /// Given up.
    Failed {
        error: String,
    },
}

/// How long an e-mail Message-ID is remembered for threading.
pub const THREAD_TTL_SECS: u64 = 180 * 86_400;

/// How long a call's record is kept.
pub const CALL_TTL_SECS: u64 = 86_400;

/// What storing an agent's reply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// Stored; `first` when it is the conversation's first response.
    Stored {
        first: bool,
    },
    NotFound,
    /// The conversation moved to the archive tier, whose timelines are final.
    Archived,
}

/// What resolving a conversation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveOutcome {
    /// Resolved; the freed unit went at once to these waiting conversations.
    Resolved(Vec<Assignment>),
    AlreadyResolved,
    NotFound,
}

for_each_operation!(define_roles);

/// Where customers and their conversations live: every role at once (`roles.rs` lists
/// their operations).
pub trait Store:
    CustomerStore
    + ConversationStore
    + AgentStore
    + RoutingStore
    + EventStore
    + CallStore
    + ScheduleStore
    + FeedbackStore
    + OutboxStore
    + OpsStore
    + UpgradeStore
    + ArchiveStore
    + AuditStore
    + PrivacyStore
    + ErasureStore
    + BlockStore
    + CredentialStore
    + FeedStore
{
    /// Routing decisions of this process that the Rust placement rule disagreed with
    /// (the Redis scripts are checked against `routing::place`; the embedded store runs it).
    fn placement_mismatches(&self) -> u64 {
        0
    }
}

/// The outbox id of a request connecting a queued call to its agent is
/// `<prefix><call id>:<agent>` (`app::bridge`), which an erasure finds from the call.
pub const CALL_DELIVERY_PREFIX: &str = "call:";

/// Most merge hops a request follows before it gives up with `Contention`.
const MAX_HOPS: usize = 16;

/// Test hook: with `SWITCHBOARD_CRASH_AT=<name>` the process aborts here, as a `kill -9`
/// would, so a test can prove a saga (a hand-off, an archive move) is finished by someone
/// else.
pub fn crash_point(name: &str) {
    if std::env::var("SWITCHBOARD_CRASH_AT").is_ok_and(|at| at == name) {
        eprintln!("SWITCHBOARD_CRASH_AT={name}: aborting");
        std::process::abort();
    }
}
