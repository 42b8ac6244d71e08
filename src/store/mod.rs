//! Persistence of customers, identities and conversations behind one trait, with a
//! Redis implementation for production and an in-memory one for the quick start and
//! fast tests. Both pass the same conformance suite (`tests/api/conformance.rs`).

mod memory;
mod records;
mod redis;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    AgentId, AgentProfile, AgentView, CallDecision, CallState, ConversationId, ConversationView,
    CustomerId, CustomerView, DeadlineKind, Deadlines, Identity, InboundMessage, Message, Presence,
    Receipt, Requirements, Skills,
};

pub use crate::routing::{
    AgentEvent, Assignment, EventKind, Queue, QueueStat, QueuedConversation, RoutingSnapshot,
    StorePolicy, TransferOutcome, TransferTarget, EVENTS_KEPT, MAX_TRANSFERS, QUEUES,
    SUPERVISOR_QUEUE,
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CallRecord {
    pub external_id: String,
    /// The caller, E.164.
    pub from: String,
    pub to: String,
    pub customer_id: Option<String>,
    pub conversation_id: Option<String>,
    pub decision: CallDecision,
    pub agent_id: Option<String>,
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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
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
}

/// What resolving a conversation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveOutcome {
    /// Resolved; the freed unit went at once to these waiting conversations.
    Resolved(Vec<Assignment>),
    AlreadyResolved,
    NotFound,
}

/// Where customers and their conversations live.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stitches the message to its customer (creating or merging customers as its
    /// identities prove), appends it to their one open conversation and answers the
    /// receipt. A message with an idempotency key seen within the dedup TTL stores
    /// nothing and answers the first receipt with `duplicate: true`.
    async fn ingest(&self, msg: &InboundMessage, now: DateTime<Utc>)
        -> Result<Receipt, StoreError>;

    /// A customer by id; the id of a customer merged into another finds the survivor.
    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerView>, StoreError>;

    /// Sets a customer's tier (following merges); `None` if there is no such customer.
    async fn set_tier(
        &self,
        id: &CustomerId,
        tier: &str,
    ) -> Result<Option<CustomerView>, StoreError>;

    /// The one customer holding a normalised identity.
    async fn customer_by_identity(
        &self,
        identity: &Identity,
    ) -> Result<Option<CustomerView>, StoreError>;

    /// A conversation with its whole timeline (merged conversations included), in order.
    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, StoreError>;

    /// Marks a conversation resolved, which starts its reopen window (and closes the
    /// customer's open complaint if this conversation holds it).
    async fn resolve(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<ResolveOutcome, StoreError>;

    /// Creates or updates an agent's profile (new agents start offline); answers the
    /// agent and whether it was created.
    async fn put_agent(
        &self,
        profile: &AgentProfile,
        now: DateTime<Utc>,
    ) -> Result<SavedAgent, StoreError>;

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentView>, StoreError>;

    async fn agents(&self) -> Result<Vec<AgentView>, StoreError>;

    /// The conversations an agent holds now, longest held first (their desk's list).
    async fn held(&self, agent: &AgentId) -> Result<Vec<ConversationId>, StoreError>;

    /// Sets presence: coming online fills the agent's free capacity from their waiting
    /// customers and the queues; going offline sends their waiting customers elsewhere.
    /// `None` when there is no such agent.
    async fn set_presence(
        &self,
        id: &AgentId,
        presence: Presence,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError>;

    /// Removes an agent: what it holds and who waits for it go back to routing now; its
    /// customers get a new personal agent when they next need one. `None` if unknown.
    async fn delete_agent(
        &self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError>;

    /// Sticky waits that expired by `now` fall back or join the queue. Safe to call
    /// from every replica at once: each expiry is claimed by exactly one caller.
    async fn fire_timers(&self, now: DateTime<Utc>) -> Result<Vec<Assignment>, StoreError>;

    /// Appends an agent's outbound message (or note) to the conversation's timeline.
    async fn add_reply(
        &self,
        id: &ConversationId,
        message: &Message,
        now: DateTime<Utc>,
    ) -> Result<ReplyOutcome, StoreError>;

    /// Moves a routed conversation to another agent or a queue, freeing its holder's unit.
    async fn transfer(
        &self,
        id: &ConversationId,
        to: &TransferTarget,
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError>;

    /// Tells an agent something (e.g. `message.created`) outside a routing decision.
    async fn push_event(
        &self,
        agent: &AgentId,
        kind: EventKind,
        conversation: &ConversationId,
    ) -> Result<(), StoreError>;

    /// Up to `limit` of the agent's events after `after` (exclusive), oldest first.
    async fn agent_events(
        &self,
        agent: &AgentId,
        after: &str,
        limit: usize,
    ) -> Result<Vec<AgentEvent>, StoreError>;

    /// The id of the agent's newest event (`0-0` when there is none): where a client
    /// with no `Last-Event-ID` starts.
    async fn last_event_id(&self, agent: &AgentId) -> Result<String, StoreError>;

    /// For each agent with events after its cursor, the id of the newest of the next
    /// `limit`. One round trip per routing group however many agents: what lets every
    /// open event stream of a replica share one poll (`workers::event_hub`).
    async fn newest_events(
        &self,
        cursors: &[(AgentId, String)],
        limit: usize,
    ) -> Result<Vec<(AgentId, String)>, StoreError>;

    /// Queue depths, oldest waits and agents by presence, deployment-wide.
    async fn snapshot(&self) -> Result<RoutingSnapshot, StoreError>;

    /// A call's record, by the provider's call id.
    async fn call(&self, external_id: &str) -> Result<Option<CallRecord>, StoreError>;

    /// Stores (or replaces) a call's record, kept for `CALL_TTL_SECS`.
    async fn save_call(&self, call: &CallRecord) -> Result<(), StoreError>;

    /// Sets what a routed conversation needs from its agent, relaxing again from `now`
    /// (`routing::Routing::require`); `None` when it is not routed. Answers the
    /// assignments this made.
    async fn set_requirements(
        &self,
        id: &ConversationId,
        requirements: &Requirements,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError>;

    /// The conversations waiting in a queue (a channel's, or the supervisor's) across
    /// every routing group, first first, at most `limit`.
    async fn queued(
        &self,
        queue: &Queue,
        limit: usize,
    ) -> Result<Vec<QueuedConversation>, StoreError>;

    /// Schedules a conversation's working-day deadlines, keeping any already scheduled.
    async fn schedule_deadlines(
        &self,
        conv: &ConversationId,
        due: &Deadlines,
    ) -> Result<(), StoreError>;

    /// Drops deadlines that no longer apply (answered, resolved).
    async fn clear_deadlines(
        &self,
        conv: &ConversationId,
        kinds: &[DeadlineKind],
    ) -> Result<(), StoreError>;

    /// Takes up to `limit` deadlines due by `now`, oldest first; each is handed to one
    /// caller however many replicas ask.
    async fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ConversationId, DeadlineKind)>, StoreError>;

    /// Schedules a customer's follow-up (a proactive contact by their personal agent);
    /// with `replace` false a follow-up already scheduled holds.
    async fn schedule_follow_up(
        &self,
        customer: &CustomerId,
        at: DateTime<Utc>,
        replace: bool,
    ) -> Result<(), StoreError>;

    /// Cancels a customer's follow-up; whether one was scheduled.
    async fn cancel_follow_up(&self, customer: &CustomerId) -> Result<bool, StoreError>;

    /// When a customer's follow-up is due, if one is scheduled.
    async fn follow_up(&self, customer: &CustomerId) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Takes up to `limit` follow-ups due by `now`, each handed to one caller.
    async fn due_follow_ups(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<CustomerId>, StoreError>;

    /// Marks (or, with `None`, clears) the conversation holding a customer's open
    /// complaint: it raises their queue priority and sends their calls past the menu.
    async fn set_open_complaint(
        &self,
        customer: &CustomerId,
        conv: Option<&ConversationId>,
    ) -> Result<(), StoreError>;

    /// Raises a routed conversation's queue priority to at least `floor` (a queued one
    /// moves up at once); false when it is not routed.
    async fn raise_priority(&self, conv: &ConversationId, floor: u8) -> Result<bool, StoreError>;

    /// Records a customer's rating (1–5) of a conversation, once per conversation and
    /// source; `None` when there is no such conversation.
    async fn rate(
        &self,
        conv: &ConversationId,
        source: &str,
        rating: u8,
        now: DateTime<Utc>,
    ) -> Result<Option<Rated>, StoreError>;

    /// The most recent ratings (newest first, at most `RECENT_RATINGS`) of the
    /// conversations an agent served, or of a customer's.
    async fn recent_ratings(&self, of: &RatingsOf) -> Result<Vec<u8>, StoreError>;

    /// Remembers that call `external_id` waits in the provider's queue for whoever
    /// routing gives `conv` to (kept for `CALL_TTL_SECS`).
    async fn set_waiting_call(
        &self,
        conv: &ConversationId,
        external_id: &str,
    ) -> Result<(), StoreError>;

    /// Takes (reads and forgets, in one step) the call waiting for `conv`: of two
    /// replicas asking at once, one gets it.
    async fn take_waiting_call(&self, conv: &ConversationId) -> Result<Option<String>, StoreError>;

    /// A call hung up: frees the phone unit the conversation holds (it stays open), or
    /// takes it out of the phone queue, but only while it is routed on the phone
    /// channel; a conversation the call joined on another channel, or in the supervisor
    /// queue, keeps its holder or queue. The freed unit serves whoever waits.
    async fn release(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError>;

    /// Remembers which conversation an e-mail `Message-ID` belongs to (for 180 days), so a
    /// reply that names it in `In-Reply-To`/`References` finds its thread.
    async fn record_thread(
        &self,
        message_id: &str,
        conversation: &ConversationId,
    ) -> Result<(), StoreError>;

    /// The conversation an e-mail `Message-ID` belongs to.
    async fn thread(&self, message_id: &str) -> Result<Option<ConversationId>, StoreError>;

    /// Puts a reply in the durable outbox, due now.
    async fn enqueue_delivery(
        &self,
        id: &str,
        url: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Claims up to `limit` due deliveries, leased until `lease_until` (see `claim.lua`).
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Records an attempt's outcome.
    async fn finish_delivery(&self, id: &str, outcome: &DeliveryOutcome) -> Result<(), StoreError>;

    /// Where a reply's delivery stands.
    async fn delivery_state(&self, id: &str) -> Result<Option<DeliveryState>, StoreError>;

    /// Answers while the store is reachable.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Routing decisions of this process that the Rust placement rule disagreed with
    /// (the Redis scripts are checked against `routing::place`; the embedded store runs it).
    fn placement_mismatches(&self) -> u64 {
        0
    }

    /// Counts `n` requests against `bucket` in a fixed window that starts with the
    /// bucket's first request; answers the count so far and the time left in the window.
    /// Shared by every replica (one Redis round trip).
    async fn count_request(
        &self,
        bucket: &str,
        n: u64,
        window: std::time::Duration,
    ) -> Result<(u64, std::time::Duration), StoreError>;
}

/// Most merge hops a request follows before it gives up with `Contention`.
const MAX_HOPS: usize = 16;
