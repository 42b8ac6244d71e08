//! How a timeline entry is stored in a conversation's `:m` list: a positional JSON array
//! with times as integer nanoseconds and the id in 22 characters (`codec::compact_id`),
//! `[id, direction, channel, network, from, text, subject, external_id, at_ns,
//! received_after_at_ns, kind]`, about half the bytes of the named-field JSON earlier
//! versions wrote (field names and RFC 3339 times were most of a short message). A time nanoseconds cannot hold (before 1677 or after 2262: a
//! provider's `sent_at` can be anything) is written as RFC 3339 text instead. Exact:
//! every field, to the nanosecond, reads back as written. Entries written as objects by
//! earlier versions are still read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::codec::{compact_id, corrupt, expand_id};
use crate::domain::{Channel, Direction, EntryKind, Message, Network};
use crate::store::StoreError;

#[derive(Serialize, Deserialize)]
struct Record(
    String,
    Direction,
    Channel,
    Option<Network>,
    String,
    String,
    Option<String>,
    Option<String>,
    Time,
    Time,
    EntryKind,
);

/// A time: nanoseconds (since the epoch for `at`, after `at` for `received_at`) when
/// they fit in an `i64`, else the time itself as text.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Time {
    Nanos(i64),
    Text(DateTime<Utc>),
}

impl Time {
    fn since(t: DateTime<Utc>, origin: Option<i64>) -> Self {
        let nanos = t.timestamp_nanos_opt();
        match (nanos, origin) {
            (Some(n), None) => Time::Nanos(n),
            (Some(n), Some(o)) => n.checked_sub(o).map_or(Time::Text(t), Time::Nanos),
            (None, _) => Time::Text(t),
        }
    }

    fn after(self, origin: Option<DateTime<Utc>>) -> DateTime<Utc> {
        match (self, origin) {
            (Time::Text(t), _) => t,
            (Time::Nanos(n), None) => DateTime::from_timestamp_nanos(n),
            (Time::Nanos(n), Some(o)) => o + chrono::Duration::nanoseconds(n),
        }
    }
}

/// The stored form of `m`.
pub(super) fn encode(m: &Message) -> Result<String, StoreError> {
    let at = Time::since(m.at, None);
    // `received_at` counts from `at` only when `at` itself is stored as nanoseconds.
    let origin = match at {
        Time::Nanos(n) => Some(n),
        Time::Text(_) => None,
    };
    let received = match origin {
        Some(_) => Time::since(m.received_at, origin),
        None => Time::Text(m.received_at),
    };
    let record = Record(
        compact_id(&m.id),
        m.direction,
        m.channel,
        m.network,
        m.from.clone(),
        m.text.clone(),
        m.subject.clone(),
        m.external_id.clone(),
        at,
        received,
        m.kind,
    );
    serde_json::to_string(&record).map_err(corrupt)
}

/// The entry a stored form stands for (either layout).
pub(super) fn decode(raw: &str) -> Result<Message, StoreError> {
    if raw.starts_with('{') {
        return serde_json::from_str(raw).map_err(corrupt);
    }
    let Record(id, direction, channel, network, from, text, subject, external_id, at, after, kind) =
        serde_json::from_str(raw).map_err(corrupt)?;
    let at = at.after(None);
    let received_at = after.after(Some(at));
    Ok(Message {
        id: expand_id(&id).ok_or_else(|| StoreError::Corrupt(format!("message id {id}")))?,
        direction,
        channel,
        network,
        from,
        text,
        subject,
        external_id,
        at,
        received_at,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MessageId;

    fn sample() -> Message {
        let at: DateTime<Utc> = "2026-11-26T19:53:58.671831334Z".parse().expect("time");
        Message {
            id: MessageId::generate(),
            direction: Direction::In,
            channel: Channel::Social,
            network: Some(Network::Whatsapp),
            from: "+4915123456789".into(),
            text: "Wo bleibt \"meine\" Bestellung?\n| ok".into(),
            subject: None,
            external_id: Some("wamid.HBgLMTIz".into()),
            at,
            received_at: at + chrono::Duration::nanoseconds(1_234_567),
            kind: EntryKind::Message,
        }
    }

    #[test]
    fn an_entry_reads_back_exactly_and_in_about_half_the_bytes() {
        let m = sample();
        let compact = encode(&m).expect("encode");
        assert_eq!(decode(&compact).expect("decode"), m);
        let named = serde_json::to_string(&m).expect("json");
        assert_eq!(decode(&named).expect("earlier layout"), m);
        assert!(
            compact.len() * 10 < named.len() * 7,
            "{} vs {} bytes",
            compact.len(),
            named.len()
        );
    }

    #[test]
    fn a_note_with_a_subject_keeps_both() {
        let mut m = sample();
        m.kind = EntryKind::Note;
        m.direction = Direction::Out;
        m.subject = Some("Re: order".into());
        m.network = None;
        assert_eq!(decode(&encode(&m).expect("encode")).expect("decode"), m);
    }

    #[test]
    fn times_nanoseconds_cannot_hold_are_kept_as_text() {
        let now = Utc::now();
        for at in [
            "0001-01-02T03:04:05Z",
            "1500-06-01T00:00:00.5Z",
            "9999-12-31T23:59:59Z",
        ] {
            let mut m = sample();
            m.at = at.parse().expect("time");
            m.received_at = now;
            assert_eq!(
                decode(&encode(&m).expect("encode")).expect("decode"),
                m,
                "{at}"
            );
        }
    }

    #[test]
    fn a_record_of_the_wrong_shape_is_corrupt_not_a_panic() {
        for raw in ["[]", "[1,2]", "\"text\"", "", "{\"id\":1}"] {
            assert!(decode(raw).is_err(), "{raw}");
        }
    }
}
