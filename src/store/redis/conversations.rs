//! Conversations on Redis: the timeline read, resolving (`resolve.lua`, then routing lets
//! go), agents' replies (`reply.lua`) and the e-mail thread index.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::codec::{corrupt, from_redis, parse_channels, Hash};
use super::{message_record, RedisStore};
use crate::domain::{
    Channel, ConversationId, ConversationState, ConversationView, EntryKind, Message, MessageId,
};
use crate::store::archive::read_through;
use crate::store::{
    ConversationStore, ReplyOutcome, ResolveOutcome, StoreError, MAX_HOPS, THREAD_TTL_SECS,
};

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
        // Both before the step they announce (see each): the archive's due list and the
        // feed relay's (the resolve writes `conversation.resolved`).
        tokio::try_join!(
            self.announce_resolution(id.customer(), now),
            self.announce_feed(id.customer(), now)
        )?;
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
        let record = message_record::encode(message)?;
        let mut answer = self.reply_script(id, message, &record, now, false).await?;
        // A first response writes a feed event: announced first, then stored.
        if answer == "announce" {
            self.announce_feed(id.customer(), now).await?;
            answer = self.reply_script(id, message, &record, now, true).await?;
        }
        Ok(match answer.as_str() {
            "not_found" => ReplyOutcome::NotFound,
            "archived" => ReplyOutcome::Archived,
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

    async fn claim_auto_reply(
        &self,
        id: &ConversationId,
        until: DateTime<Utc>,
        message: &MessageId,
    ) -> Result<bool, StoreError> {
        let held: i64 = self
            .scripts
            .auto_reply
            .key(self.keys.conversation(id))
            .arg(until.timestamp_millis())
            .arg(message.as_str())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(held == 1)
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

/// `HGETALL`, `LRANGE` messages, `SMEMBERS` channels, `LRANGE` merged conversations.
pub(super) type ConversationReply = (
    Vec<(String, String)>,
    Vec<Vec<u8>>,
    Vec<String>,
    Vec<String>,
);

/// One conversation's own keys, parsed.
pub(super) struct StoredConversation {
    pub(super) hash: Hash,
    pub(super) messages: Vec<Message>,
    pub(super) channels: BTreeSet<Channel>,
    pub(super) absorbed: Vec<ConversationId>,
}

impl StoredConversation {
    /// What `HGETALL`, `LRANGE` messages, `SMEMBERS` channels and `LRANGE` merged
    /// conversations answered (in a pipeline, or a script reading them alike).
    pub(super) fn parse(
        (fields, messages, channels, absorbed): ConversationReply,
    ) -> Result<Self, StoreError> {
        let messages = messages
            .iter()
            .map(|m| message_record::decode(m))
            .collect::<Result<_, _>>()?;
        let absorbed = absorbed
            .iter()
            .map(|c| c.parse())
            .collect::<Result<_, _>>()
            .map_err(corrupt)?;
        // The channels: `ch:<channel>` marks in the hash (the set is earlier versions').
        let marked = fields
            .iter()
            .filter_map(|(name, _)| name.strip_prefix("ch:").map(str::to_owned));
        let channels: Vec<String> = channels.into_iter().chain(marked).collect();
        Ok(StoredConversation {
            hash: Hash(fields),
            messages,
            channels: parse_channels(&channels)?,
            absorbed,
        })
    }
}

impl RedisStore {
    /// One conversation's own record, messages, channels and merged conversations.
    /// `reply.lua` for `message` (`announced`: the customer is on the feed relay's due
    /// list, so a first response may be stored).
    async fn reply_script(
        &self,
        id: &ConversationId,
        message: &Message,
        record: &[u8],
        now: DateTime<Utc>,
        announced: bool,
    ) -> Result<String, StoreError> {
        self.scripts
            .reply
            .key(self.keys.customer(id.customer()))
            .key(self.keys.conversations(id.customer()))
            .arg(id.seq())
            .arg(record)
            .arg(now.timestamp_millis())
            .arg(if message.kind == EntryKind::Message {
                "1"
            } else {
                "0"
            })
            .arg("")
            .arg(id.to_string())
            .arg(&message.from)
            .arg(if announced { "1" } else { "0" })
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)
    }

    pub(super) async fn load_conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<StoredConversation>, StoreError> {
        let (fields, messages, channels, absorbed): ConversationReply = redis::pipe()
            .hgetall(self.keys.conversation(id))
            .lrange(self.keys.conversation_messages(id), 0, -1)
            .smembers(self.keys.conversation_channels(id))
            .lrange(self.keys.conversation_absorbed(id), 0, -1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        if fields.is_empty() {
            return Ok(None);
        }
        StoredConversation::parse((fields, messages, channels, absorbed)).map(Some)
    }

    /// A conversation's own record and its timeline composed with the merged
    /// conversations' (on other customers' slots), read through the archive for those
    /// that moved there; `archived` when the conversation itself did (nothing composed).
    pub(super) async fn composed(
        &self,
        id: &ConversationId,
    ) -> Result<Option<StoredConversation>, StoreError> {
        let Some(mut own) = self.load_conversation(id).await? else {
            return Ok(None);
        };
        if own.hash.get("archived").is_some() {
            return Ok(Some(own));
        }
        // Walk the merged ones, bounded, each once (a merge saga finished by two callers
        // racing may absorb one conversation both directly and through the conversation
        // that absorbed it first). One archived on its own is read from the archive, with
        // what it absorbed.
        let mut pending = own.absorbed.clone();
        let mut visited = BTreeSet::from([id.clone()]);
        let mut parts = Vec::new();
        while let Some(next) = pending.pop() {
            if visited.len() > MAX_HOPS * MAX_HOPS {
                break;
            }
            if !visited.insert(next.clone()) {
                continue;
            }
            if let Some(more) = self.load_conversation(&next).await? {
                if more.hash.get("archived").is_some() {
                    parts.push(next);
                    continue;
                }
                own.messages.extend(more.messages);
                own.channels.extend(more.channels);
                pending.extend(more.absorbed);
            }
        }
        read_through::add_parts(
            self.archive.as_ref(),
            &parts,
            &mut own.messages,
            &mut own.channels,
        )
        .await?;
        Ok(Some(own))
    }

    pub(super) async fn conversation_view(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, StoreError> {
        let Some(StoredConversation {
            hash,
            mut messages,
            channels,
            absorbed,
        }) = self.composed(id).await?
        else {
            return Ok(None);
        };
        let Some(customer) = self.load_customer(id.customer()).await? else {
            return Ok(None);
        };
        if hash.get("archived").is_some() {
            let archived = read_through::archived(self.archive.as_ref(), id).await?;
            return Ok(Some(archived.into_view(customer)));
        }
        self.with_deliveries(id, &mut messages).await?;
        let (route, needs) = self
            .current_route_and_needs(id)
            .await?
            .map_or((None, Vec::new()), |(r, n)| (Some(r), n));
        Ok(Some(ConversationView {
            id: id.clone(),
            customer,
            state: match hash.get("state") {
                Some("open") => ConversationState::Open,
                _ => ConversationState::Resolved,
            },
            agent_id: route.as_ref().and_then(|r| r.agent_id.clone()),
            queue: route.as_ref().and_then(|r| r.queue),
            route,
            needs,
            channels: channels.into_iter().collect(),
            repeat_contacts: hash
                .get("repeat_contacts")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            merged_conversation_ids: absorbed,
            earlier: false,
            archived: false,
            created_at: hash.time("created_at")?.unwrap_or_default(),
            resolved_at: hash.time("resolved_at")?,
            deadlines: None,
            messages,
        }))
    }
}
