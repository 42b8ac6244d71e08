//! What the retention sweep (`app::archiving`) asks of a store: the customers whose
//! conversations are due to leave for the archive tier, those conversations as the
//! archive keeps them, and the stubs they leave behind.

use chrono::{DateTime, Utc};

use super::archive::ArchivedConversation;
use crate::domain::CustomerId;

/// A customer handed to one sweeper: it has a conversation resolved at `since` (or
/// earlier) that is not archived yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveClaim {
    pub customer: CustomerId,
    /// The earliest resolution the due list held for them before the claim.
    pub since: DateTime<Utc>,
    /// Where the claim put them in the due list (released only if still there).
    pub(crate) leased: DateTime<Utc>,
}

/// A conversation ready to move: the archive's copy, and how many entries of its own the
/// store held when it was read, so the stub is left only if none arrived since.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveCandidate {
    pub conversation: ArchivedConversation,
    pub entries: usize,
}

/// A claimed customer's conversations that are due, each with every conversation it
/// absorbed in a merge (they move together), and when the next one will be due.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Archivable {
    pub candidates: Vec<ArchiveCandidate>,
    /// The earliest resolution among their resolved conversations not due yet.
    pub next: Option<DateTime<Utc>>,
}

/// Shards of the due list: enough that no one key is hot, few enough that the lag gauge
/// reads them all in one pipeline.
pub const DUE_SHARDS: u32 = 16;

/// The due-list shard a customer belongs to (FNV-1a of the id: stable across
/// processes and releases).
pub fn due_shard(customer: &CustomerId) -> u32 {
    let hash = customer.to_string().bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash % DUE_SHARDS
}
