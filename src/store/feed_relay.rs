//! What the customer side of the event feed asks of a store. A customer's events are
//! written on the customer's own slot, in the same step as the change (a pending list);
//! the relay (`app::feed::relay`) moves them to a fixed set of shards (`c:0` … `c:15`),
//! at least once and always under the same id. Before a step that may write one, the
//! caller announces the customer on the shard's due list (a crash after the announcement
//! leaves an entry for nothing, which the relay drops), and the relay claims only
//! announcements older than [`ANNOUNCE_GRACE_MS`], by when their step has run.

use chrono::{DateTime, Utc};

use crate::domain::feed::FeedType;
use crate::domain::{ConversationId, CustomerId};

/// How long after its announcement a customer's step may still write its event. The
/// relay leaves younger announcements alone, so it never drops a customer from the due
/// list while a step it announced is on its way.
pub const ANNOUNCE_GRACE_MS: i64 = 5_000;

/// How long a relay's claim on a customer holds before another replica may take it.
pub const CLAIM_LEASE_MS: i64 = 30_000;

/// A customer handed to one relay, and where the claim put them on the due list (the
/// claim ends only if they are still there: not announced again meanwhile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedClaim {
    pub customer: CustomerId,
    pub(crate) leased: i64,
}

/// What one relay step moved of a claimed customer's pending events: those numbered up
/// to `through`, the first `read` of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedMoved {
    pub claim: FeedClaim,
    pub through: u64,
    pub read: usize,
}

/// A customer-side event that no other step of its change writes, and what the change
/// itself sets, in the same step.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedNote {
    pub kind: FeedType,
    pub subject: String,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
    pub effect: NoteEffect,
}

/// The change a [`FeedNote`] records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteEffect {
    /// Nothing stored besides the event (a deadline found breached).
    None,
    /// The conversation holds the customer's open complaint (and had one).
    OpenComplaint(ConversationId),
}
