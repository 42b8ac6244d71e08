//! The event feed (CONTRACT "Event export (v3)"): facts for reporting as CloudEvents 1.0,
//! never any text a customer or an agent wrote. Events are kept in shards (a routing
//! group's, or a customer-side shard), each in order; a reader's cursor holds its place
//! in every shard, so a page merges the shards by time and a restart resumes exactly.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `source` of every event.
pub const SOURCE: &str = "urn:switchboard";

/// The version of every type's `data` schema (`docs/events/<type>.json`).
pub const SCHEMA_VERSION: u32 = 1;

/// The feed's event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FeedType {
    ConversationOpened,
    ConversationAssigned,
    ConversationTransferred,
    ConversationFirstResponse,
    ConversationResolved,
    ConversationReopened,
    RatingRecorded,
    ComplaintRaised,
    DeadlineBreached,
    CustomerMerged,
    CustomerErased,
    AgentPresenceChanged,
}

impl FeedType {
    pub const ALL: [FeedType; 12] = [
        FeedType::ConversationOpened,
        FeedType::ConversationAssigned,
        FeedType::ConversationTransferred,
        FeedType::ConversationFirstResponse,
        FeedType::ConversationResolved,
        FeedType::ConversationReopened,
        FeedType::RatingRecorded,
        FeedType::ComplaintRaised,
        FeedType::DeadlineBreached,
        FeedType::CustomerMerged,
        FeedType::CustomerErased,
        FeedType::AgentPresenceChanged,
    ];

    /// The CloudEvents `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedType::ConversationOpened => "switchboard.conversation.opened",
            FeedType::ConversationAssigned => "switchboard.conversation.assigned",
            FeedType::ConversationTransferred => "switchboard.conversation.transferred",
            FeedType::ConversationFirstResponse => "switchboard.conversation.first_response",
            FeedType::ConversationResolved => "switchboard.conversation.resolved",
            FeedType::ConversationReopened => "switchboard.conversation.reopened",
            FeedType::RatingRecorded => "switchboard.rating.recorded",
            FeedType::ComplaintRaised => "switchboard.complaint.raised",
            FeedType::DeadlineBreached => "switchboard.deadline.breached",
            FeedType::CustomerMerged => "switchboard.customer.merged",
            FeedType::CustomerErased => "switchboard.customer.erased",
            FeedType::AgentPresenceChanged => "switchboard.agent.presence_changed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The `dataschema`: the type's JSON Schema, versioned.
    pub fn dataschema(self) -> String {
        format!("urn:switchboard:schema:{}:{SCHEMA_VERSION}", self.as_str())
    }
}

/// One event as a shard keeps it: its place (`seq`, increasing within the shard), what
/// happened, to whom, when, and the figures.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    pub shard: String,
    /// `<ms>-<n>`, as Redis streams number entries: when it entered the shard.
    pub seq: String,
    /// A customer-side event's own id (`<customer>/<n>`), the same however often the
    /// relay moved it; `None`: the id is its place (`<shard>/<seq>`).
    pub id: Option<String>,
    pub kind: FeedType,
    /// The conversation, customer or agent the event is about.
    pub subject: String,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// A CloudEvents 1.0 event in JSON (structured mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub specversion: String,
    /// `<shard>/<seq>`: stable, so a consumer dedupes a redelivery by it.
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
    pub time: DateTime<Utc>,
    pub datacontenttype: String,
    pub dataschema: String,
    pub data: serde_json::Value,
}

impl FeedEvent {
    pub fn cloud_event(&self) -> CloudEvent {
        CloudEvent {
            specversion: "1.0".into(),
            id: self
                .id
                .clone()
                .unwrap_or_else(|| format!("{}/{}", self.shard, self.seq)),
            source: SOURCE.into(),
            kind: self.kind.as_str().into(),
            subject: self.subject.clone(),
            time: self.at,
            datacontenttype: "application/json".into(),
            dataschema: self.kind.dataschema(),
            data: self.data.clone(),
        }
    }
}

/// Where a reader is in every shard: the last `seq` it was given of each. A shard it
/// has not seen starts from its beginning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor(pub BTreeMap<String, String>);

/// The longest cursor accepted (a deployment has tens of shards, not thousands).
pub const MAX_CURSOR_CHARS: usize = 8192;

impl Cursor {
    /// The opaque form a reader keeps (base64url of its JSON).
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(&self.0).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// `None` for anything that is not a cursor this service made.
    pub fn decode(s: &str) -> Option<Self> {
        if s.len() > MAX_CURSOR_CHARS {
            return None;
        }
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        let map: BTreeMap<String, String> = serde_json::from_slice(&json).ok()?;
        map.values()
            .all(|seq| seq_parts(seq).is_some())
            .then_some(Self(map))
    }

    /// The reader's place in `shard` (`0-0`: its beginning).
    pub fn position(&self, shard: &str) -> &str {
        self.0.get(shard).map_or("0-0", String::as_str)
    }
}

/// How many shards hold customer-side events (`c:0` … `c:15`): fixed, so a cursor
/// names them all, and enough that none is a hot key.
pub const CUSTOMER_SHARDS: u32 = 16;

/// The customer-side shard a customer's events go to.
pub fn customer_shard(customer: &str) -> u32 {
    let hash = customer.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash % CUSTOMER_SHARDS
}

/// A customer-side shard's name (a routing group's name never holds `:`).
pub fn customer_shard_name(k: u32) -> String {
    format!("c:{k}")
}

/// The number of a customer-side shard named `name`.
pub fn parse_customer_shard(name: &str) -> Option<u32> {
    let k: u32 = name.strip_prefix("c:")?.parse().ok()?;
    (k < CUSTOMER_SHARDS).then_some(k)
}

/// Whether a feed entry's field `value` names customer `c` (what an erasure scrubs):
/// their id, one of their conversations (`<c>-N`), a relayed event of theirs (`<c>/N`),
/// or JSON holding one of those as a string.
pub fn names_customer(value: &str, c: &str) -> bool {
    let at_start = |v: &str| {
        v.strip_prefix(c)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '/']))
    };
    at_start(value) || value.split('"').any(at_start)
}

/// A customer-side event as its change wrote it on the customer's slot, waiting for the
/// relay to move it to its shard: numbered `n` by the customer, so its id is stable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingEvent {
    pub n: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
    /// ms since the epoch.
    pub at: i64,
    pub data: serde_json::Value,
}

impl PendingEvent {
    /// The event in `customer`'s shard (`seq` is given when it enters it).
    pub fn relayed(&self, customer: &str, data: serde_json::Value) -> Option<FeedEvent> {
        Some(FeedEvent {
            shard: customer_shard_name(customer_shard(customer)),
            seq: String::new(),
            id: Some(format!("{customer}/{}", self.n)),
            kind: FeedType::parse(&self.kind)?,
            subject: self.subject.clone(),
            at: DateTime::from_timestamp_millis(self.at)?,
            data,
        })
    }
}

/// A `seq`'s numbers, for ordering.
pub fn seq_parts(seq: &str) -> Option<(u64, u64)> {
    let (ms, n) = seq.split_once('-')?;
    Some((ms.parse().ok()?, n.parse().ok()?))
}

/// One page from what each shard has after the cursor (each shard's events in order):
/// the `limit` earliest by when they entered their shard, each shard's order kept, and
/// the cursor moved past what the page holds, shard by shard. (Not by `at`: a relayed
/// customer-side event may enter its shard after a later one, and skipping past it in
/// its shard would lose it.)
pub fn page(
    cursor: &Cursor,
    shards: Vec<Vec<FeedEvent>>,
    limit: usize,
) -> (Vec<FeedEvent>, Cursor) {
    let mut all: Vec<FeedEvent> = shards.into_iter().flatten().collect();
    all.sort_by(|a, b| (seq_parts(&a.seq), &a.shard).cmp(&(seq_parts(&b.seq), &b.shard)));
    all.truncate(limit);
    let mut next = cursor.clone();
    for event in &all {
        next.0.insert(event.shard.clone(), event.seq.clone());
    }
    (all, next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(shard: &str, seq: &str, secs: i64) -> FeedEvent {
        FeedEvent {
            shard: shard.into(),
            seq: seq.into(),
            id: None,
            kind: FeedType::AgentPresenceChanged,
            subject: "ann".into(),
            at: DateTime::from_timestamp(secs, 0).expect("time"),
            data: json!({ "agent_id": "ann" }),
        }
    }

    #[test]
    fn an_entry_names_a_customer_by_id_conversation_event_or_inside_json() {
        for yes in [
            "abc",
            "abc-3",
            "abc/7",
            r#"{"into":"abc"}"#,
            r#"{"c":"abc-2"}"#,
        ] {
            assert!(names_customer(yes, "abc"), "{yes}");
        }
        for no in ["abcd", "xabc", "abcd-3", r#"{"into":"abcd"}"#, "ab"] {
            assert!(!names_customer(no, "abc"), "{no}");
        }
    }

    #[test]
    fn types_round_trip_and_name_their_schema() {
        for t in FeedType::ALL {
            assert_eq!(FeedType::parse(t.as_str()), Some(t));
            assert!(t.as_str().starts_with("switchboard."));
            assert!(t.dataschema().ends_with(":1"));
        }
        let e = event("default", "1000-0", 1).cloud_event();
        assert_eq!(e.id, "default/1000-0");
        let json = serde_json::to_value(&e).expect("json");
        assert_eq!(json["type"], "switchboard.agent.presence_changed");
        assert_eq!(json["specversion"], "1.0");
    }

    #[test]
    fn a_cursor_round_trips_and_refuses_what_it_did_not_make() {
        let mut c = Cursor::default();
        c.0.insert("default".into(), "1700000000000-3".into());
        c.0.insert("c:7".into(), "1700000000001-0".into());
        assert_eq!(Cursor::decode(&c.encode()), Some(c.clone()));
        assert_eq!(c.position("sales"), "0-0");
        for bad in ["", "!!", "e30x", &"A".repeat(MAX_CURSOR_CHARS + 1)] {
            assert_ne!(Cursor::decode(bad), Some(c.clone()), "{bad}");
        }
        let odd = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"a":"x"}"#);
        assert_eq!(Cursor::decode(&odd), None, "positions are stream ids");
        assert_eq!(
            Cursor::decode(&Cursor::default().encode()),
            Some(Cursor::default())
        );
    }

    #[test]
    fn a_page_merges_shards_by_time_keeps_each_in_order_and_moves_the_cursor() {
        let a = vec![
            event("a", "1-0", 1),
            event("a", "3-0", 3),
            event("a", "5-0", 5),
        ];
        let b = vec![event("b", "2-0", 2), event("b", "4-0", 4)];
        let (first, cursor) = page(&Cursor::default(), vec![a.clone(), b.clone()], 3);
        let seqs: Vec<_> = first
            .iter()
            .map(|e| format!("{}/{}", e.shard, e.seq))
            .collect();
        assert_eq!(seqs, ["a/1-0", "b/2-0", "a/3-0"]);
        assert_eq!(cursor.position("a"), "3-0");
        assert_eq!(cursor.position("b"), "2-0");
        // The rest, as the shards would answer after the cursor.
        let rest_a: Vec<_> = a.into_iter().filter(|e| e.seq == "5-0").collect();
        let rest_b: Vec<_> = b.into_iter().filter(|e| e.seq == "4-0").collect();
        let (second, cursor) = page(&cursor, vec![rest_a, rest_b], 10);
        let seqs: Vec<_> = second.iter().map(|e| e.seq.as_str()).collect();
        assert_eq!(seqs, ["4-0", "5-0"]);
        assert_eq!((cursor.position("a"), cursor.position("b")), ("5-0", "4-0"));
        let (empty, same) = page(&cursor, vec![vec![], vec![]], 10);
        assert!(empty.is_empty());
        assert_eq!(same, cursor, "an empty page keeps the place");
    }
}
