//! The embedded, in-memory store: one process, nothing durable. It exists for the
//! zero-setup quick start and fast tests, and keeps exactly the Redis store's semantics.
//!
//! One mutex guards the whole state. It is never held across an `.await`, so callers
//! wait microseconds at most; a merge touches several customers at once, and a single
//! lock is what makes it atomic here, as the Lua scripts do in Redis.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::domain::{
    AgentId, Channel, ConversationId, ConversationState, CustomerId, DeadlineKind, Identity,
    Incarnation, Language, Message, Receipt, RoutingGroup, DEFAULT_TIER,
};
use crate::routing::Groups;
use crate::store::archive::Archive;
use crate::store::format::{self, FormatGate, ReplicaFormat, StorageFormat};
use crate::store::{CallRecord, DeliveryStatus, StorePolicy};

mod agent_events;
mod agents;
mod audit;
mod blocks;
mod calls;
mod conversations;
mod credentials;
mod customers;
mod erasure;
mod feed;
mod feedback;
mod ops;
mod outbox;
mod privacy;
mod retention;
mod routing;
mod schedules;
mod state;
mod upgrade;

#[derive(Debug)]
struct CustomerRec {
    created_at: DateTime<Utc>,
    display_name: Option<String>,
    tier: String,
    personal_agent: Option<AgentId>,
    /// Which life of `personal_agent` took them (`Incarnation`).
    personal_born: Option<Incarnation>,
    /// The group of the personal agent (a customer belongs to their agent's group).
    group: RoutingGroup,
    /// The language their last message said they speak (routing falls back on it).
    language: Option<Language>,
    /// The conversation holding their open complaint.
    complaint: Option<ConversationId>,
    identities: BTreeSet<Identity>,
    conversations: Vec<ConversationId>,
    open: Option<u64>,
    last: Option<u64>,
    seq: u64,
    merged_into: Option<CustomerId>,
    /// Being erased: reads find nothing, its identities start a new customer.
    erasing: bool,
    /// Idempotency key → first receipt and when it expires.
    dedup: HashMap<String, (Receipt, DateTime<Utc>)>,
}

impl CustomerRec {
    fn new(now: DateTime<Utc>) -> Self {
        Self {
            created_at: now,
            display_name: None,
            tier: DEFAULT_TIER.to_owned(),
            personal_agent: None,
            personal_born: None,
            group: RoutingGroup::default(),
            language: None,
            complaint: None,
            identities: BTreeSet::new(),
            conversations: Vec::new(),
            open: None,
            last: None,
            seq: 0,
            merged_into: None,
            erasing: false,
            dedup: HashMap::new(),
        }
    }
}

#[derive(Debug)]
struct ConvRec {
    state: ConversationState,
    created_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    repeat_contacts: u32,
    first_response_at: Option<DateTime<Utc>>,
    channels: BTreeSet<Channel>,
    messages: Vec<Message>,
    absorbed: Vec<ConversationId>,
    /// The routing group it is routed in, decided when it (re)opens.
    group: Option<RoutingGroup>,
    /// Who held it when it was last resolved (whom a later rating rates).
    served_by: Option<AgentId>,
    /// Its ratings, by source.
    ratings: std::collections::BTreeMap<String, u8>,
    /// Moved to the archive tier: its timeline is read from there.
    archived: bool,
    /// The closed period whose out-of-hours answer went out, and with which message.
    auto_replied: Option<(DateTime<Utc>, crate::domain::MessageId)>,
    /// Its replies' delivery reports.
    deliveries: HashMap<crate::domain::MessageId, crate::domain::ReplyDelivery>,
    /// Its latest rating (the facts' `csat`) and whether a complaint was raised in it.
    last_rating: Option<u8>,
    complained: bool,
}

impl ConvRec {
    fn new(now: DateTime<Utc>) -> Self {
        Self {
            state: ConversationState::Open,
            created_at: now,
            resolved_at: None,
            repeat_contacts: 0,
            first_response_at: None,
            channels: BTreeSet::new(),
            messages: Vec::new(),
            absorbed: Vec::new(),
            group: None,
            served_by: None,
            ratings: Default::default(),
            archived: false,
            auto_replied: None,
            deliveries: HashMap::new(),
            last_rating: None,
            complained: false,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    identities: HashMap<Identity, CustomerId>,
    customers: HashMap<CustomerId, CustomerRec>,
    conversations: HashMap<ConversationId, ConvRec>,
    routing: Groups,
    /// Calls by provider id (not expired: the embedded store lives one process).
    calls: HashMap<String, CallRecord>,
    /// The call waiting in the phone queue for each conversation's agent.
    waiting_calls: HashMap<ConversationId, String>,
    /// Scheduled working-day deadlines, by when they are due, and each one's due time.
    deadlines: BTreeSet<(DateTime<Utc>, ConversationId, DeadlineKind)>,
    deadline_at: HashMap<(ConversationId, DeadlineKind), DateTime<Utc>>,
    /// Customers with resolved conversations not archived yet: the earliest resolution
    /// (or where a claim put them), as the Redis store's due list.
    archive_due: HashMap<CustomerId, DateTime<Utc>>,
    /// Follow-ups, by customer: when each is due.
    follow_ups: HashMap<CustomerId, DateTime<Utc>>,
    /// Recent ratings (newest first) of each agent and customer.
    ratings: HashMap<crate::store::RatingsOf, std::collections::VecDeque<u8>>,
    /// E-mail Message-IDs → their conversation.
    threads: HashMap<String, ConversationId>,
    outbox: HashMap<String, OutboxRec>,
    erasures: erasure::Erasures,
    /// Providers' message ids (and replies' own) → the reply they name.
    provider_ids: HashMap<String, (ConversationId, crate::domain::MessageId)>,
    /// Blocked senders, and the list's version.
    blocks: BTreeSet<Identity>,
    blocks_version: u64,
    /// Agents' revoked tokens: at or before when, and until when that is kept.
    revoked: HashMap<AgentId, (DateTime<Utc>, DateTime<Utc>)>,
    /// The event feed's customer side.
    feed: feed::CustomerFeed,
}

#[derive(Debug)]
struct OutboxRec {
    url: String,
    body: String,
    attempts: u32,
    state: DeliveryStatus,
    error: Option<String>,
    /// When it is next due; `None` once delivered or given up.
    due: Option<DateTime<Utc>>,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    policy: StorePolicy,
    /// Rate-limit windows: bucket → (requests, window end). Apart from `state`, so a
    /// limit check never waits for routing.
    windows: Mutex<HashMap<String, (u64, std::time::Instant)>>,
    /// The storage format gate's stored setting and announcements (`store::format`).
    formats: Mutex<Formats>,
    /// The write format this store follows.
    format_gate: FormatGate,
    /// Where archived conversations are read from (`store::archive`).
    archive: Option<Archive>,
    /// The audit trail, apart from `state` so that recording a read never waits for
    /// routing.
    audit: Mutex<audit::AuditTrail>,
}

/// What the Redis store keeps under `P:fmt:{fmt}`.
#[derive(Debug)]
struct Formats {
    write: StorageFormat,
    replicas: Vec<ReplicaFormat>,
}

impl Default for Formats {
    fn default() -> Self {
        Self {
            write: format::PREVIOUS,
            replicas: Vec::new(),
        }
    }
}

impl MemoryStore {
    pub fn new(policy: StorePolicy) -> Self {
        Self {
            state: Mutex::default(),
            policy,
            windows: Mutex::default(),
            formats: Mutex::default(),
            format_gate: FormatGate::default(),
            archive: None,
            audit: Mutex::default(),
        }
    }

    /// Reads archived conversations through `archive`.
    pub fn with_archive(mut self, archive: Option<Archive>) -> Self {
        self.archive = archive;
        self
    }

    fn formats(&self) -> std::sync::MutexGuard<'_, Formats> {
        self.formats.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change worth
        // refusing service over in a non-durable store; carry on with the data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
