//! The storage format gate: what this release reads, what the deployment writes, and
//! when the newer format may be written.
//!
//! Every replica announces the newest format it reads; the deployment's write format is
//! a stored setting (absent: [`PREVIOUS`]). A release reads its own format and the
//! previous one but writes the previous one until an operator finalizes, which the store
//! refuses while a live replica announces it cannot read the new one. Until then a
//! rollback to the previous release serves without errors; after it, a replica that
//! cannot read what the deployment writes refuses to start.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A storage format: a number that grows by one with each release that changes what it
/// stores in a way the release before cannot read.
pub type StorageFormat = u32;

/// What release 0.1.0 wrote, and every release writes until finalized: route records
/// without after-call work.
pub const PREVIOUS: StorageFormat = 1;

/// The newest format this release reads (and writes once finalized). Format 2: a call's
/// end frees its phone unit and keeps the conversation with its holder as after-call
/// work (`wrap` on the route record, `after_call` on the agent), which a replica of
/// 0.1.0 would free a second time when it resolves the conversation; and archived
/// conversations' stubs.
pub const NEWEST: StorageFormat = 2;

/// The format that introduced after-call work.
pub const AFTER_CALL_WORK: StorageFormat = 2;

/// The format that introduced archived conversations' stubs (a hash marked `archived`
/// whose timeline is in the archive tier), which 0.1.0 would show as an empty timeline
/// and append replies to. Same release as after-call work, so the same format.
pub const ARCHIVE_STUBS: StorageFormat = 2;

/// The format that introduced erasures: a customer marked `erasing`, whom 0.1.0 would
/// still route messages to, and erased customers' records, whose ids 0.1.0 could give
/// back to an identity it remembered. Same release, same format.
pub const ERASURES: StorageFormat = 2;

/// The format that introduced `message.delivery` events in agents' streams, whose kind
/// 0.1.0 cannot read (its stream would fail on them). Same release, same format.
pub const DELIVERY_EVENTS: StorageFormat = 2;

/// The format that introduced revoked agent tokens (`P:ag:{agent}:revoked`), which 0.1.0
/// never reads: it would go on taking a revoked agent's tokens. Same release, same format.
pub const TOKEN_REVOCATION: StorageFormat = 2;

/// Why a change that 0.1.0 replicas would not honour waits for finalize: `what` names it
/// with its verb ("erasures need", "revoking tokens needs").
pub fn before_finalize(what: &str) -> crate::store::StoreError {
    crate::store::StoreError::Conflict(format!(
        "{what} every replica on this release: finalize the storage format first \
         (`switchboard upgrade finalize`)"
    ))
}

/// One replica's announcement: who, what it reads, which release, until when it counts
/// as alive (it renews the announcement long before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaFormat {
    pub replica: String,
    pub reads: StorageFormat,
    pub version: String,
    pub alive_until: DateTime<Utc>,
}

impl ReplicaFormat {
    /// The stored value: `<reads>|<alive until, ms>|<version>`.
    pub fn encode(&self) -> String {
        format!(
            "{}|{}|{}",
            self.reads,
            self.alive_until.timestamp_millis(),
            self.version
        )
    }

    /// The announcement stored under `replica`, if it is one.
    pub fn decode(replica: &str, value: &str) -> Option<Self> {
        let mut parts = value.splitn(3, '|');
        let reads = parts.next()?.parse().ok()?;
        let until = DateTime::from_timestamp_millis(parts.next()?.parse().ok()?)?;
        Some(Self {
            replica: replica.to_owned(),
            reads,
            version: parts.next().unwrap_or("").to_owned(),
            alive_until: until,
        })
    }

    pub fn alive(&self, now: DateTime<Utc>) -> bool {
        self.alive_until > now
    }
}

/// The deployment's formats as the store holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FormatStatus {
    /// The format every replica writes.
    pub write: StorageFormat,
    /// The live replicas' announcements.
    pub replicas: Vec<ReplicaFormat>,
}

impl FormatStatus {
    /// The status from what is stored: the live announcements, by replica.
    pub fn live(
        write: StorageFormat,
        announced: impl IntoIterator<Item = ReplicaFormat>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut replicas: Vec<ReplicaFormat> =
            announced.into_iter().filter(|r| r.alive(now)).collect();
        replicas.sort_by(|a, b| a.replica.cmp(&b.replica));
        Self { write, replicas }
    }
}

/// What a finalize did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalizeOutcome {
    /// The deployment writes `write` from now on (it may have already).
    Finalized { write: StorageFormat },
    /// Refused: these live replicas cannot read the format.
    Refused { replicas: Vec<ReplicaFormat> },
}

/// The write format this process follows, as last read from the store: every store
/// consults it before writing anything of a newer format.
#[derive(Debug)]
pub struct FormatGate {
    write: AtomicU32,
}

impl Default for FormatGate {
    fn default() -> Self {
        Self {
            write: AtomicU32::new(PREVIOUS),
        }
    }
}

impl FormatGate {
    pub fn write(&self) -> StorageFormat {
        self.write.load(Ordering::Relaxed)
    }

    /// Whether data of `format` may be written now.
    pub fn allows(&self, format: StorageFormat) -> bool {
        self.write() >= format
    }

    /// Follows the stored setting. A format only ever grows, so an older reading that
    /// arrives late never takes it back.
    pub fn follow(&self, write: StorageFormat) {
        self.write.fetch_max(write, Ordering::Relaxed);
    }
}

/// The replicas among `announced` that cannot read `format` and are still alive.
pub fn refusers(
    announced: impl IntoIterator<Item = ReplicaFormat>,
    format: StorageFormat,
    now: DateTime<Utc>,
) -> Vec<ReplicaFormat> {
    announced
        .into_iter()
        .filter(|r| r.alive(now) && r.reads < format)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_reads_back_and_counts_only_while_alive() {
        let now = Utc::now();
        let r = ReplicaFormat {
            replica: "pod-a".into(),
            reads: 1,
            version: "0.2.0|odd".into(),
            alive_until: DateTime::from_timestamp_millis(now.timestamp_millis() + 5000)
                .expect("time"),
        };
        assert_eq!(ReplicaFormat::decode("pod-a", &r.encode()), Some(r.clone()));
        assert!(ReplicaFormat::decode("pod-a", "garbage").is_none());
        assert_eq!(refusers([r.clone()], 2, now), std::slice::from_ref(&r));
        assert!(refusers([r.clone()], 1, now).is_empty());
        let later = now + chrono::Duration::seconds(6);
        assert!(refusers([r], 2, later).is_empty());
    }

    #[test]
    fn the_gate_starts_at_the_previous_format_and_never_goes_back() {
        let gate = FormatGate::default();
        assert!(!gate.allows(AFTER_CALL_WORK));
        gate.follow(NEWEST);
        gate.follow(PREVIOUS);
        assert_eq!(gate.write(), NEWEST);
        assert!(gate.allows(AFTER_CALL_WORK));
    }
}
