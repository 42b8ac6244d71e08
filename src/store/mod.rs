//! Persistence of customers, identities and conversations behind one trait, with a
//! Redis implementation for production and an in-memory one for the quick start and
//! fast tests. Both pass the same conformance suite (`tests/api/conformance.rs`).

mod keys;
mod memory;
mod redis;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::domain::{
    ConversationId, ConversationView, CustomerId, CustomerView, Identity, InboundMessage, Receipt,
};

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;
pub use keys::Keys;

/// Rules the stores apply that come from settings.
#[derive(Debug, Clone)]
pub struct StorePolicy {
    /// How long a message's idempotency record is kept.
    pub dedup_ttl: Duration,
    /// How long after resolution a new message reopens a conversation.
    pub reopen_window: Duration,
}

impl Default for StorePolicy {
    fn default() -> Self {
        Self {
            dedup_ttl: Duration::days(7),
            reopen_window: Duration::hours(72),
        }
    }
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
}

/// What resolving a conversation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolveOutcome {
    Resolved,
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

    /// Marks a conversation resolved, which starts its reopen window.
    async fn resolve(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<ResolveOutcome, StoreError>;

    /// Answers while the store is reachable.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Most merge hops a request follows before it gives up with `Contention`.
const MAX_HOPS: usize = 16;
