//! A customer's data on request on Redis: redacting one entry where it is kept. The
//! entry is found by decoding the timeline lists of the conversation and of those merged
//! into it (each in its own customer's slot), then replaced in place by `redact.lua`
//! only if unchanged since read; an archived part is redacted in the archive.

use async_trait::async_trait;

use super::codec::from_redis;
use super::{message_record, RedisStore};
use crate::domain::{ConversationId, MessageId};
use crate::store::archive::read_through;
use crate::store::redaction::{redacted, redacted_body};
use crate::store::{PrivacyStore, StoreError, MAX_HOPS};

/// Where part of a timeline is kept.
enum Part {
    Here(ConversationId),
    Archived(ConversationId),
}

/// Tries before a redaction that keeps meeting a changed entry gives up.
const REDACT_TRIES: usize = 3;

#[async_trait]
impl PrivacyStore for RedisStore {
    async fn redact_message(
        &self,
        conv: &ConversationId,
        message: &MessageId,
    ) -> Result<bool, StoreError> {
        for part in self.timeline_parts(conv).await? {
            let found = match &part {
                Part::Here(id) => self.redact_entry(id, message).await?,
                Part::Archived(id) => {
                    read_through::redact(self.archive.as_ref(), id, message).await?
                }
            };
            if found {
                self.redact_delivery(message).await?;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl RedisStore {
    /// The conversation and those merged into it, as `composed` walks them: a stub stands
    /// for itself and all it absorbed (the archive keeps them composed).
    async fn timeline_parts(&self, id: &ConversationId) -> Result<Vec<Part>, StoreError> {
        let mut parts = Vec::new();
        let mut pending = vec![id.clone()];
        let mut visited = std::collections::BTreeSet::new();
        while let Some(next) = pending.pop() {
            if visited.len() > MAX_HOPS * MAX_HOPS || !visited.insert(next.clone()) {
                continue;
            }
            let Some(stored) = self.load_conversation(&next).await? else {
                continue;
            };
            if stored.hash.get("archived").is_some() {
                parts.push(Part::Archived(next));
                continue;
            }
            pending.extend(stored.absorbed);
            parts.push(Part::Here(next));
        }
        Ok(parts)
    }

    /// Redacts the entry in one conversation's own list; answers whether it is there.
    async fn redact_entry(
        &self,
        id: &ConversationId,
        message: &MessageId,
    ) -> Result<bool, StoreError> {
        let list = self.keys.conversation_messages(id);
        for _ in 0..REDACT_TRIES {
            let raw: Vec<Vec<u8>> = redis::cmd("LRANGE")
                .arg(&list)
                .arg(0)
                .arg(-1)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            let Some((index, before, entry)) = find(&raw, message)? else {
                return Ok(false);
            };
            let after = message_record::encode(&redacted(entry))?;
            let replaced: i64 = self
                .scripts
                .redact
                .key(&list)
                .arg(index)
                .arg(before)
                .arg(after)
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            if replaced == 1 {
                return Ok(true);
            }
        }
        Err(StoreError::Contention(format!(
            "an entry of {id} kept changing"
        )))
    }

    /// Redacts the text of the entry's delivery in the outbox, if it has one.
    async fn redact_delivery(&self, message: &MessageId) -> Result<(), StoreError> {
        let record = self.keys.delivery(message.as_str());
        let body: Option<String> = redis::cmd("HGET")
            .arg(&record)
            .arg("body")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        if let Some(body) = body.as_deref().and_then(redacted_body) {
            let _: () = redis::cmd("HSET")
                .arg(&record)
                .arg("body")
                .arg(body)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
        }
        Ok(())
    }
}

/// The entry `message` in a raw list: its index, its record as stored, and itself.
fn find(
    raw: &[Vec<u8>],
    message: &MessageId,
) -> Result<Option<(usize, Vec<u8>, crate::domain::Message)>, StoreError> {
    for (index, record) in raw.iter().enumerate() {
        let entry = message_record::decode(record)?;
        if entry.id == *message {
            return Ok(Some((index, record.clone(), entry)));
        }
    }
    Ok(None)
}
