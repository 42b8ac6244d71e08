//! A transfer's note on Redis. The transfer runs on its routing group's slot and the
//! timeline lives on the customer's, so no script can write both: the transfer script
//! keeps the note under the group's `:notes` in its own atomic step, then the note is
//! written into the timeline (once, by its id: `reply.lua`) and dropped from `:notes`. A
//! process that dies between the two leaves the note there, and the timers (any
//! replica) write it: the note exists exactly when the transfer does.

use chrono::{DateTime, Utc};

use super::{corrupt, from_redis, message_record, RedisStore};
use crate::domain::{ConversationId, Message, RoutingGroup};
use crate::store::StoreError;

/// A note younger than this belongs to a transfer still under way; older ones were left
/// by a process that died, and the timers write them.
const ABANDONED_AFTER_MS: i64 = 5_000;

/// A note on its way: its id and what `:notes` keeps, `<conversation>|<ms>|<record>`.
pub(super) struct PendingNote {
    pub id: String,
    pub payload: Vec<u8>,
}

impl PendingNote {
    pub fn new(
        conv: &ConversationId,
        note: &Message,
        now: DateTime<Utc>,
    ) -> Result<Self, StoreError> {
        let mut payload = format!("{conv}|{}|", now.timestamp_millis()).into_bytes();
        payload.extend(message_record::encode(note)?);
        Ok(Self {
            id: note.id.as_str().to_owned(),
            payload,
        })
    }

    /// A script's two arguments for `note`: its id and payload, both empty for none.
    pub fn args(note: Option<&PendingNote>) -> (&str, &[u8]) {
        note.map_or(("", &[][..]), |n| (n.id.as_str(), n.payload.as_slice()))
    }

    /// `(conversation, kept at ms, record)`.
    fn parse(payload: &[u8]) -> Result<(ConversationId, i64, &[u8]), StoreError> {
        let mut parts = payload.splitn(3, |b| *b == b'|');
        let (Some(conv), Some(at), Some(record)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(StoreError::Corrupt(
                "transfer note without its fields".into(),
            ));
        };
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(corrupt);
        let conv = text(conv)?.parse().map_err(corrupt)?;
        let at = text(at)?.parse().map_err(corrupt)?;
        Ok((conv, at, record))
    }
}

impl RedisStore {
    /// Writes the note kept under `group`'s `:notes` into its timeline, then drops it.
    pub(super) async fn write_note(
        &self,
        group: &RoutingGroup,
        id: &str,
        payload: &[u8],
    ) -> Result<(), StoreError> {
        let (conv, _, record) = PendingNote::parse(payload)?;
        let _: String = self
            .scripts
            .reply
            .key(self.keys.customer(conv.customer()))
            .key(self.keys.conversations(conv.customer()))
            .arg(conv.seq())
            .arg(record)
            .arg(Utc::now().timestamp_millis())
            .arg("0")
            .arg(id)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let _: i64 = redis::cmd("HDEL")
            .arg(self.keys.transfer_notes(group))
            .arg(id)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    /// Writes the notes a dead process left under `group`'s `:notes`.
    pub(super) async fn finish_notes(
        &self,
        group: &RoutingGroup,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let kept: Vec<(String, Vec<u8>)> = redis::cmd("HGETALL")
            .arg(self.keys.transfer_notes(group))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        for (id, payload) in kept {
            let (_, at, _) = PendingNote::parse(&payload)?;
            if now.timestamp_millis() - at >= ABANDONED_AFTER_MS {
                self.write_note(group, &id, &payload).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, Direction, EntryKind, MessageId};

    #[test]
    fn a_payload_reads_back_as_its_conversation_time_and_record() {
        let conv: ConversationId = "0193a1b2c3d4e5f60718293a4b5c6d7e-3".parse().expect("id");
        let at: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().expect("time");
        let note = Message {
            id: MessageId::generate(),
            direction: Direction::Out,
            channel: Channel::Chat,
            network: None,
            from: "ann".into(),
            text: "promised a refund".into(),
            subject: None,
            external_id: None,
            at,
            received_at: at,
            kind: EntryKind::Note,
            delivery: None,
        };
        let pending = PendingNote::new(&conv, &note, at).expect("note");
        let (c, ms, record) = PendingNote::parse(&pending.payload).expect("parse");
        assert_eq!((c, ms), (conv, at.timestamp_millis()));
        assert_eq!(record, message_record::encode(&note).expect("record"));
    }
}
