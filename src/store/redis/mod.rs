//! The Redis store. An ingest costs two round trips in the common case: one to claim
//! (or look up) the message's identities, one Lua script that does everything else on
//! the customer's hash slot. Merges, rare by nature, run as a saga of idempotent
//! single-slot scripts that whoever meets a half-merged customer finishes.

mod agent_events;
mod agents;
mod audit;
mod blocks;
mod calls;
mod claims;
mod codec;
mod conn;
mod constants;
mod conversations;
mod credentials;
mod customers;
mod deliveries;
mod erasure;
mod erasure_traces;
mod event_batch;
mod feed;
mod feed_relay;
mod feedback;
mod groups;
mod handoff;
mod identity_cache;
mod ingest;
mod keys;
mod merge;
mod message_record;
mod ops;
mod outbox;
mod personal_agents;
mod placement;
mod placement_check;
mod privacy;
mod queues;
mod receipts;
mod release;
mod requirements;
mod retention;
mod routing;
mod schedules;
mod scripts;
mod transfer_notes;
mod upgrade;

use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;
use std::time::Duration as StdDuration;

pub use conn::RedisOptions;
pub use keys::Keys;

use self::conn::Conn;

use self::codec::unavailable;
pub(super) use self::codec::{corrupt, from_redis};
use self::identity_cache::IdentityCache;
use self::scripts::Scripts;
use crate::store::archive::Archive;
use crate::store::format::FormatGate;
use crate::store::{StoreError, StorePolicy};

/// Identities remembered per process (see `identity_cache`).
const IDENTITY_CACHE_ENTRIES: usize = 100_000;

/// See the module docs and [`Keys`] for the layout.
pub struct RedisStore {
    conn: Conn,
    /// One link of its own for the archive sweep's bulk reads and writes, so that their
    /// large replies never queue ahead of a request's on the link it shares.
    bulk: Conn,
    keys: Keys,
    policy: StorePolicy,
    scripts: Scripts,
    identities: IdentityCache,
    groups: groups::GroupMemory,
    /// The writer of batched agents' events, started on first use (on the runtime).
    events: OnceLock<event_batch::EventBatcher>,
    /// Routing decisions the Rust placement rule disagreed with (see `placement.rs`).
    placement_mismatches: AtomicU64,
    /// Replicas that must hold an ingested message before it is acknowledged, and how
    /// long to wait for them (see `ingest.rs`).
    replicas_to_ack: u32,
    ack_timeout: StdDuration,
    /// The write format this process follows (`store::format`).
    format_gate: FormatGate,
    /// How long finalize probes for replicas of releases before announcements.
    old_release_probe: StdDuration,
    /// Where archived conversations are read from (`store::archive`).
    archive: Option<Archive>,
}

impl RedisStore {
    /// Connects lazily: the service starts (not ready) while Redis is still down. `url`
    /// is one server's, or a comma-separated list of a Redis Cluster's nodes.
    pub fn connect(url: &str, prefix: &str, policy: StorePolicy) -> Result<Self, StoreError> {
        Self::connect_with(url, prefix, policy, &RedisOptions::default())
    }

    pub fn connect_with(
        url: &str,
        prefix: &str,
        policy: StorePolicy,
        timeouts: &RedisOptions,
    ) -> Result<Self, StoreError> {
        let conn = Conn::open(url, timeouts, timeouts.replicas_to_ack == 0).map_err(unavailable)?;
        let bulk = Conn::open(url, timeouts, false).map_err(unavailable)?;
        // Half the response timeout: WAIT must answer before the client gives up on it.
        let (replicas_to_ack, ack_timeout) = (timeouts.replicas_to_ack, timeouts.response / 2);
        Ok(Self {
            conn,
            bulk,
            keys: Keys::new(prefix),
            policy,
            scripts: Scripts::load(),
            identities: IdentityCache::new(IDENTITY_CACHE_ENTRIES, timeouts.identity_cache_ttl),
            groups: groups::GroupMemory::default(),
            events: OnceLock::new(),
            placement_mismatches: AtomicU64::new(0),
            replicas_to_ack,
            ack_timeout,
            format_gate: FormatGate::default(),
            old_release_probe: timeouts.old_release_probe,
            archive: None,
        })
    }

    /// Reads archived conversations through `archive`.
    pub fn with_archive(mut self, archive: Option<Archive>) -> Self {
        self.archive = archive;
        self
    }
}
