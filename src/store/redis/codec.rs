//! Reading what Redis answers: hashes, ids, receipts and events, and which errors are
//! transient (503) and which are bugs or corrupt data.

use std::collections::BTreeSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use redis::{ErrorKind, RedisError, ServerErrorKind};

use crate::domain::{Channel, CustomerId, MessageId};
use crate::store::{AgentEvent, StoreError};

/// A message id's 16 bytes (a UUIDv7's), or `None` for an id that is not 32 hex digits.
pub(super) fn id_bytes(id: &MessageId) -> Option<[u8; 16]> {
    u128::from_str_radix(id.as_str(), 16)
        .ok()
        .map(u128::to_be_bytes)
}

/// The message id 16 bytes stand for.
pub(super) fn id_of_bytes(bytes: [u8; 16]) -> Option<MessageId> {
    MessageId::parse(&format!("{:032x}", u128::from_be_bytes(bytes)))
}

/// A message id as stored: its 16 bytes in base64url (22 characters, not 32 hex digits).
pub(super) fn compact_id(id: &MessageId) -> String {
    match id_bytes(id) {
        Some(bytes) => URL_SAFE_NO_PAD.encode(bytes),
        None => id.as_str().to_owned(),
    }
}

/// The message id a stored one stands for: compact, or 32 hex digits as earlier
/// versions stored it.
pub(super) fn expand_id(stored: &str) -> Option<MessageId> {
    if stored.len() == 22 {
        return id_of_bytes(URL_SAFE_NO_PAD.decode(stored).ok()?.try_into().ok()?);
    }
    MessageId::parse(stored)
}

/// A hash read with `HGETALL`.
pub(super) struct Hash(pub(super) Vec<(String, String)>);

impl Hash {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.get(name)
            .map(|ms| {
                let ms: i64 = ms.parse().map_err(corrupt)?;
                Utc.timestamp_millis_opt(ms)
                    .single()
                    .ok_or_else(|| StoreError::Corrupt(format!("bad time {ms}")))
            })
            .transpose()
    }
}

pub(super) fn agent_event(
    id: String,
    fields: Vec<(String, String)>,
) -> Result<AgentEvent, StoreError> {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    Ok(AgentEvent {
        kind: get("kind")
            .ok_or_else(|| StoreError::Corrupt(format!("event {id} has no kind")))?
            .parse()
            .map_err(corrupt)?,
        conversation_id: get("conversation")
            .unwrap_or_default()
            .parse()
            .map_err(corrupt)?,
        reason: get("reason"),
        other_agent: get("agent"),
        id,
    })
}

pub(super) fn parse_customer(raw: &str) -> Result<CustomerId, StoreError> {
    raw.parse().map_err(corrupt)
}

pub(super) fn parse_channels(raw: &[String]) -> Result<BTreeSet<Channel>, StoreError> {
    raw.iter()
        .map(|c| c.parse::<Channel>())
        .collect::<Result<_, _>>()
        .map_err(corrupt)
}

pub(crate) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub(super) fn unavailable(e: RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// Transient faults (network, timeouts, a loading or failing-over server) are
/// `Unavailable` and answer 503; anything else is a bug or corrupt data.
pub(crate) fn from_redis(e: RedisError) -> StoreError {
    let transient = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error()
        || matches!(
            e.kind(),
            ErrorKind::Io
                | ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                )
        );
    if transient || failover_inside(&e) {
        unavailable(e)
    } else {
        StoreError::Corrupt(e.to_string())
    }
}

/// Errors a failover causes that redis-rs wraps instead of classifying: a transaction
/// (`MULTI`) aborted because its slot moved (`EXECABORT` around `MOVED`), or a `WAIT`
/// unblocked because its master became a replica (`UNBLOCKED`, inside a pipeline
/// failure). They are the same "retry shortly" as the ones classified above; seen in
/// the failover drill, where they had answered 500.
fn failover_inside(e: &RedisError) -> bool {
    let wrapped = matches!(
        e.kind(),
        ErrorKind::Server(ServerErrorKind::ExecAbort) | ErrorKind::Extension
    );
    let text = e.to_string();
    wrapped
        && [
            "Moved",
            "MOVED",
            "Ask",
            "ASK",
            "UNBLOCKED",
            "TRYAGAIN",
            "CLUSTERDOWN",
            "READONLY",
        ]
        .iter()
        .any(|marker| text.contains(marker))
}

/// A script's answer given as name/value pairs, read by name, so that adding a field
/// never shifts the others.
pub(super) struct Named {
    script: &'static str,
    fields: std::collections::HashMap<String, String>,
}

impl Named {
    pub fn of(parts: Vec<String>, script: &'static str) -> Result<Self, StoreError> {
        if !parts.len().is_multiple_of(2) {
            return Err(StoreError::Corrupt(format!("{script} answered {parts:?}")));
        }
        let mut parts = parts.into_iter();
        let mut fields = std::collections::HashMap::new();
        while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
            fields.insert(name, value);
        }
        Ok(Self { script, fields })
    }

    pub fn get(&self, name: &str) -> Result<&str, StoreError> {
        self.fields
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| StoreError::Corrupt(format!("{} answered no `{name}`", self.script)))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_named_answer_reads_by_name_and_refuses_a_missing_or_odd_one() {
        let parts = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let answer = Named::of(parts(&["state", "queued", "agent", ""]), "route").expect("pairs");
        assert_eq!(answer.get("state").expect("state"), "queued");
        assert_eq!(answer.get("agent").expect("agent"), "");
        assert!(matches!(answer.get("born"), Err(StoreError::Corrupt(_))));
        assert!(Named::of(parts(&["state"]), "route").is_err());
    }

    use super::*;

    #[test]
    fn errors_a_failover_wraps_are_retryable_others_are_not() {
        let unblocked = RedisError::from((
            ErrorKind::Extension,
            "Pipeline failure",
            "UNBLOCKED force unblock from blocking operation".to_owned(),
        ));
        assert!(matches!(from_redis(unblocked), StoreError::Unavailable(_)));
        let aborted = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ExecAbort),
            "Transaction aborted",
            "error: Moved: 3781 127.0.0.1:20671".to_owned(),
        ));
        assert!(matches!(from_redis(aborted), StoreError::Unavailable(_)));
        let wrong = RedisError::from((ErrorKind::Parse, "bad reply", "x".to_owned()));
        assert!(matches!(from_redis(wrong), StoreError::Corrupt(_)));
    }
    #[test]
    fn message_ids_are_stored_in_22_characters_and_read_back() {
        let id = MessageId::generate();
        let stored = compact_id(&id);
        assert_eq!(stored.len(), 22);
        assert_eq!(expand_id(&stored), Some(id.clone()));
        assert_eq!(expand_id(id.as_str()), Some(id), "32 hex digits, as before");
        assert_eq!(expand_id("not an id"), None);
    }
}
