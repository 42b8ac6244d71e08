//! Identifiers. Customer ids are UUIDv7 (time-ordered, so "older" is "smaller");
//! a conversation id embeds its customer's id so its keys share the customer's hash slot.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::{ContextV7, Timestamp, Uuid};

use super::DomainError;

thread_local! {
    /// Each thread orders its own ids: `Uuid::now_v7` shares one context behind a
    /// process-wide mutex, which every message would take.
    static V7: ContextV7 = const { ContextV7::new() };
}

/// A fresh UUIDv7 in 32 hex digits: later than the thread's previous one, and than
/// any made by another thread in an earlier millisecond.
fn v7() -> String {
    V7.with(|context| Uuid::new_v7(Timestamp::now(context)).simple().to_string())
}

/// One life of an agent id. An agent removed and created again under the same id is a
/// new person: the customers whose personal agent the old one was are strangers to them.
/// The agent record keeps its life (`born`), a customer the life of their personal agent
/// (`pa_born`); records written before lives existed carry none, and match any life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incarnation(String);

impl Incarnation {
    pub fn generate() -> Self {
        Incarnation(v7())
    }

    /// A stored life; `None` for the empty string an old record reads as.
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty()).then(|| Incarnation(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a customer's record of their personal agent's life (`recorded`) names the
    /// agent living under that id now (`current`); either unknown matches (older records).
    pub fn same(recorded: Option<&Incarnation>, current: Option<&Incarnation>) -> bool {
        match (recorded, current) {
            (Some(r), Some(c)) => r == c,
            _ => true,
        }
    }
}

/// A customer: 32 lower-case hex digits of a UUIDv7.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomerId(String);

impl CustomerId {
    /// What `from_str` accepts, as the OpenAPI document's pattern.
    pub const PATTERN: &'static str = "^[0-9a-f]{32}$";

    /// A fresh id; ids made later compare greater (to the millisecond, then at random).
    pub fn generate() -> Self {
        CustomerId(v7())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CustomerId {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(CustomerId(s.to_owned()))
        } else {
            Err(DomainError::invalid("customer_id", "not a customer id"))
        }
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `seq`-th conversation of a customer, written `<customer>-<seq>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConversationId {
    customer: CustomerId,
    seq: u64,
}

impl ConversationId {
    /// What `from_str` accepts, as the OpenAPI document's pattern.
    pub const PATTERN: &'static str = "^[0-9a-f]{32}-[0-9]{1,19}$";

    pub fn new(customer: CustomerId, seq: u64) -> Self {
        Self { customer, seq }
    }

    pub fn customer(&self) -> &CustomerId {
        &self.customer
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }
}

impl FromStr for ConversationId {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DomainError::invalid("conversation_id", "not a conversation id");
        let (customer, seq) = s.split_once('-').ok_or_else(bad)?;
        let seq = seq.parse().map_err(|_| bad())?;
        Ok(Self {
            customer: customer.parse().map_err(|_| bad())?,
            seq,
        })
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.customer, self.seq)
    }
}

impl Serialize for ConversationId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ConversationId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A message: a UUIDv7 in hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(String);

impl MessageId {
    pub fn generate() -> Self {
        MessageId(v7())
    }

    /// A stored message id (32 hex digits), as `generate` made it.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| MessageId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_customer_ids_compare_greater() {
        let a = CustomerId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = CustomerId::generate();
        assert!(a < b);
    }

    #[test]
    fn ids_of_one_thread_increase_within_a_millisecond_and_another_threads_later_ones_too() {
        let ids: Vec<MessageId> = (0..1000).map(|_| MessageId::generate()).collect();
        assert!(ids.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
        let last = ids
            .last()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let other = std::thread::spawn(MessageId::generate)
            .join()
            .expect("thread");
        assert!(last.as_str() < other.as_str());
    }

    #[test]
    fn conversation_ids_round_trip_and_reject_garbage() {
        let c = CustomerId::generate();
        let id = ConversationId::new(c.clone(), 7);
        let parsed: ConversationId = id.to_string().parse().expect("round trip");
        assert_eq!(parsed, id);
        assert_eq!(parsed.customer(), &c);
        for bad in [
            "",
            "abc-1",
            &format!("{c}"),
            &format!("{c}-x"),
            &format!("{c}-1-2"),
        ] {
            assert!(bad.parse::<ConversationId>().is_err(), "{bad}");
        }
    }
}
