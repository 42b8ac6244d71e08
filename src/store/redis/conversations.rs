//! Conversations on Redis: the timeline read, resolving (`resolve.lua`, then routing lets
//! go), agents' replies (`reply.lua`) and the e-mail thread index.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::codec::{corrupt, from_redis};
use super::{message_record, RedisStore};
use crate::domain::{ConversationId, ConversationView, EntryKind, Message};
use crate::store::{ConversationStore, ReplyOutcome, ResolveOutcome, StoreError, THREAD_TTL_SECS};

#[async_trait]
impl ConversationStore for RedisStore {
    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, StoreError> {
        self.conversation_view(id).await
    }

    async fn resolve(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<ResolveOutcome, StoreError> {
        let answer: Vec<String> = self
            .scripts
            .resolve
            .key(self.keys.customer(id.customer()))
            .key(self.keys.conversations(id.customer()))
            .arg(id.seq())
            .arg(now.timestamp_millis())
            .arg(id.to_string())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        match answer.as_slice() {
            [status, group, episode] if status == "resolved" => {
                let group = group.parse().map_err(corrupt)?;
                Ok(ResolveOutcome::Resolved(
                    self.release_resolved(&group, id, episode, now).await?,
                ))
            }
            [status] if status == "already_resolved" => Ok(ResolveOutcome::AlreadyResolved),
            [status] if status == "not_found" => Ok(ResolveOutcome::NotFound),
            other => Err(StoreError::Corrupt(format!("resolve answered {other:?}"))),
        }
    }

    async fn add_reply(
        &self,
        id: &ConversationId,
        message: &Message,
        now: DateTime<Utc>,
    ) -> Result<ReplyOutcome, StoreError> {
        let answer: String = self
            .scripts
            .reply
            .key(self.keys.customer(id.customer()))
            .key(self.keys.conversations(id.customer()))
            .arg(id.seq())
            .arg(message_record::encode(message)?)
            .arg(now.timestamp_millis())
            .arg(if message.kind == EntryKind::Message {
                "1"
            } else {
                "0"
            })
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(match answer.as_str() {
            "not_found" => ReplyOutcome::NotFound,
            first => ReplyOutcome::Stored {
                first: first == "first",
            },
        })
    }

    async fn record_thread(
        &self,
        message_id: &str,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        let _: () = redis::cmd("SET")
            .arg(self.keys.thread(message_id))
            .arg(conversation.to_string())
            .arg("EX")
            .arg(THREAD_TTL_SECS)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    async fn thread(&self, message_id: &str) -> Result<Option<ConversationId>, StoreError> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.keys.thread(message_id))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        raw.map(|c| c.parse().map_err(corrupt)).transpose()
    }
}
