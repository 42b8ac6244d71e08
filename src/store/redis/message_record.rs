//! How a timeline entry is stored in a conversation's `:m` list: a positional MessagePack
//! array `[id, code, from, text, subject, external_id, at_ns, received_after_at_ns]`, the
//! id as its 16 bytes, times as integer nanoseconds and direction, channel, kind and
//! network as one letter each (`Code`): a 100-character message takes about 165 bytes,
//! where the same array in JSON took about 195 and named-field JSON with RFC 3339 times
//! about 420. MessagePack because the fields need no quoting, the id no text form and
//! numbers no digits, and records are only ever read by this module. A time nanoseconds
//! cannot hold (before 1677 or after 2262: a provider's `sent_at` can be anything) is
//! written as RFC 3339 text instead. Exact: every field, to the nanosecond, reads back as
//! written. Entries written by earlier versions (JSON objects, JSON arrays with letters
//! or with the enums spelt out) are still read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::codec::{corrupt, expand_id, id_bytes, id_of_bytes};
use crate::domain::{Channel, Direction, EntryKind, Message, MessageId, Network};
use crate::store::StoreError;

/// `[id, code, from, text, subject, external_id, at, received_after_at]`: the id as 16
/// bytes (`IdBytes`) in MessagePack, as 22 characters in the JSON of earlier versions.
#[derive(Serialize, Deserialize)]
struct Record<Id>(
    Id,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Time,
    Time,
);

/// A message id as its 16 bytes (MessagePack `bin`).
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct IdBytes(#[serde(with = "serde_bytes")] [u8; 16]);

/// The array earlier versions wrote: the enums spelt out.
#[derive(Deserialize)]
struct Spelt(
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

/// Direction, channel, kind and network (when there is one) as a letter each. The
/// matches are exhaustive, so a new variant cannot be stored without its letter.
struct Code;

impl Code {
    fn direction(d: Direction) -> char {
        match d {
            Direction::In => 'i',
            Direction::Out => 'o',
        }
    }

    fn channel(c: Channel) -> char {
        match c {
            Channel::Phone => 'p',
            Channel::Email => 'e',
            Channel::Chat => 'c',
            Channel::Social => 's',
        }
    }

    fn kind(k: EntryKind) -> char {
        match k {
            EntryKind::Message => 'm',
            EntryKind::Note => 'n',
        }
    }

    fn network(n: Network) -> char {
        match n {
            Network::Voice => 'v',
            Network::Sms => 's',
            Network::Whatsapp => 'w',
            Network::Telegram => 't',
            Network::Messenger => 'm',
            Network::Instagram => 'i',
            Network::X => 'x',
        }
    }

    fn encode(m: &Message) -> String {
        Self::of(m.direction, m.channel, m.kind, m.network)
    }

    fn of(d: Direction, c: Channel, k: EntryKind, n: Option<Network>) -> String {
        let mut code = String::with_capacity(4);
        code.push(Self::direction(d));
        code.push(Self::channel(c));
        code.push(Self::kind(k));
        code.extend(n.map(Self::network));
        code
    }

    /// The variant of `all` whose letter is `letter`.
    fn find<T: Copy>(all: &[T], letter: Option<char>, code: fn(T) -> char) -> Option<T> {
        all.iter().copied().find(|v| Some(code(*v)) == letter)
    }

    fn decode(raw: &str) -> Option<(Direction, Channel, EntryKind, Option<Network>)> {
        let mut letters = raw.chars();
        let direction = Self::find(&Direction::ALL, letters.next(), Self::direction)?;
        let channel = Self::find(&Channel::ALL, letters.next(), Self::channel)?;
        let kind = Self::find(&EntryKind::ALL, letters.next(), Self::kind)?;
        let network = match letters.next() {
            None => None,
            letter => Some(Self::find(&Network::ALL, letter, Self::network)?),
        };
        letters
            .next()
            .is_none()
            .then_some((direction, channel, kind, network))
    }
}

/// The stored form of `m` (MessagePack).
pub(super) fn encode(m: &Message) -> Result<Vec<u8>, StoreError> {
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
    let id = id_bytes(&m.id)
        .ok_or_else(|| StoreError::Corrupt(format!("message id {}", m.id.as_str())))?;
    let record = Record(
        IdBytes(id),
        Code::encode(m),
        m.from.clone(),
        m.text.clone(),
        m.subject.clone(),
        m.external_id.clone(),
        at,
        received,
    );
    rmp_serde::to_vec(&record).map_err(corrupt)
}

/// The entry a stored form stands for (any layout).
pub(super) fn decode(raw: &[u8]) -> Result<Message, StoreError> {
    match raw.first() {
        Some(b'{') => serde_json::from_slice(raw).map_err(corrupt),
        Some(b'[') => json_array(raw),
        _ => {
            let record: Record<IdBytes> = rmp_serde::from_slice(raw).map_err(corrupt)?;
            from_record(record, |IdBytes(id)| id_of_bytes(id))
        }
    }
}

/// The message a record stands for, its id read by `id`.
fn from_record<I>(
    Record(id, code, from, text, subject, external_id, at, after): Record<I>,
    id_of: impl FnOnce(I) -> Option<MessageId>,
) -> Result<Message, StoreError> {
    let (direction, channel, kind, network) =
        Code::decode(&code).ok_or_else(|| StoreError::Corrupt(format!("entry code {code}")))?;
    let at = at.after(None);
    Ok(Message {
        id: id_of(id).ok_or_else(|| StoreError::Corrupt("message id".into()))?,
        direction,
        channel,
        network,
        from,
        text,
        subject,
        external_id,
        at,
        received_at: after.after(Some(at)),
        kind,
        delivery: None,
    })
}

/// A JSON array as earlier versions wrote it: with letters, or the enums spelt out.
fn json_array(raw: &[u8]) -> Result<Message, StoreError> {
    if let Ok(record) = serde_json::from_slice::<Record<String>>(raw) {
        return from_record(record, |id| expand_id(&id));
    }
    let Spelt(id, direction, channel, network, from, text, subject, external_id, at, after, kind) =
        serde_json::from_slice(raw).map_err(corrupt)?;
    let code = Code::of(direction, channel, kind, network);
    let record = Record(id, code, from, text, subject, external_id, at, after);
    from_record(record, |id| expand_id(&id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MessageId;
    use crate::store::redis::codec::compact_id;

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
            delivery: None,
        }
    }

    /// `m` in the JSON array layout of the previous version (letters, compact id).
    fn json_array_of(m: &Message) -> String {
        serde_json::json!([
            compact_id(&m.id),
            Code::encode(m),
            m.from,
            m.text,
            m.subject,
            m.external_id,
            m.at.timestamp_nanos_opt(),
            1_234_567
        ])
        .to_string()
    }

    #[test]
    fn an_entry_reads_back_exactly_and_in_under_half_the_bytes() {
        let m = sample();
        let packed = encode(&m).expect("encode");
        assert_eq!(decode(&packed).expect("decode"), m);
        let named = serde_json::to_string(&m).expect("json");
        assert_eq!(decode(named.as_bytes()).expect("earlier layout"), m);
        assert!(
            packed.len() * 2 < named.len(),
            "{} vs {} bytes",
            packed.len(),
            named.len()
        );
    }

    #[test]
    fn the_previous_json_array_still_reads_and_takes_more_bytes() {
        let m = sample();
        let array = json_array_of(&m);
        assert_eq!(decode(array.as_bytes()).expect("json array"), m);
        let packed = encode(&m).expect("encode");
        // The id's 6 characters and quotes, the time's 10 digits, the other quotes.
        assert!(
            packed.len() + 20 <= array.len(),
            "{} vs {array}",
            packed.len()
        );
    }

    #[test]
    fn every_direction_channel_kind_and_network_reads_back() {
        let networks = Network::ALL.into_iter().map(Some).chain([None]);
        for network in networks {
            for channel in Channel::ALL {
                for direction in Direction::ALL {
                    for kind in EntryKind::ALL {
                        let m = Message {
                            network,
                            channel,
                            direction,
                            kind,
                            ..sample()
                        };
                        let stored = encode(&m).expect("encode");
                        assert_eq!(decode(&stored).expect("decode"), m, "{stored:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_entry_with_its_enums_spelt_out_still_reads_and_takes_more_bytes() {
        let m = sample();
        let spelt = serde_json::json!([
            compact_id(&m.id),
            "in",
            "social",
            "whatsapp",
            m.from,
            m.text,
            null,
            m.external_id,
            m.at.timestamp_nanos_opt(),
            1_234_567,
            "message"
        ])
        .to_string();
        assert_eq!(decode(spelt.as_bytes()).expect("earlier array"), m);
        let letters = encode(&m).expect("encode");
        assert!(letters.len() + 20 <= spelt.len(), "{letters:?} vs {spelt}");
    }

    #[test]
    fn an_unknown_letter_is_corrupt() {
        let mut stored = encode(&sample()).expect("encode");
        let at = stored
            .windows(4)
            .position(|w| w == b"ismw")
            .expect("the code's letters");
        stored[at + 2] = b'q';
        assert!(decode(&stored).is_err(), "{stored:?}");
        let array = json_array_of(&sample()).replace("\"ism", "\"isq");
        assert!(decode(array.as_bytes()).is_err(), "{array}");
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
            assert!(decode(raw.as_bytes()).is_err(), "{raw}");
        }
        // MessagePack: an empty array, a short id, a string where the id goes, a cut record.
        let cut = encode(&sample()).expect("encode");
        for raw in [
            &[0x90][..],
            &[0x98, 0xc4, 0x01, 0x00],
            &[0x91, 0xa1, b'x'],
            &cut[..40],
        ] {
            assert!(decode(raw).is_err(), "{raw:?}");
        }
    }
}
