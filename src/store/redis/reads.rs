//! Reads: customers (following merges) and conversations with their whole timeline.

use std::collections::BTreeSet;

use super::codec::{corrupt, from_redis, parse_channels, parse_customer, Hash};
use super::message_record;
use super::RedisStore;
use crate::domain::{
    AgentId, Channel, ConversationId, ConversationState, ConversationView, CustomerId,
    CustomerView, Identity, Message, DEFAULT_TIER,
};
use crate::store::records::sort_timeline;
use crate::store::{StoreError, MAX_HOPS};

/// `HGETALL`, `LRANGE` messages, `SMEMBERS` channels, `LRANGE` merged conversations.
type ConversationReply = (
    Vec<(String, String)>,
    Vec<Vec<u8>>,
    Vec<String>,
    Vec<String>,
);

/// One conversation's own keys, parsed.
pub(super) struct StoredConversation {
    hash: Hash,
    messages: Vec<Message>,
    channels: BTreeSet<Channel>,
    absorbed: Vec<ConversationId>,
}

impl RedisStore {
    /// Loads a customer, following merges; `None` if nothing was ever stored under `id`.
    pub(super) async fn load_customer(
        &self,
        id: &CustomerId,
    ) -> Result<Option<CustomerView>, StoreError> {
        let mut id = id.clone();
        for _ in 0..MAX_HOPS {
            let (fields, ids, convs): (Vec<(String, String)>, Vec<String>, Vec<String>) =
                redis::pipe()
                    .hgetall(self.keys.customer(&id))
                    .smembers(self.keys.customer_identities(&id))
                    .lrange(self.keys.customer_conversations(&id), 0, -1)
                    .query_async(&mut self.conn.clone())
                    .await
                    .map_err(from_redis)?;
            if fields.is_empty() {
                return Ok(None);
            }
            let hash = Hash(fields);
            if let Some(next) = hash.get("merged_into") {
                id = parse_customer(next)?;
                continue;
            }
            let mut identities: Vec<Identity> = ids
                .iter()
                .filter_map(|k| Identity::from_stored_key(k))
                .collect();
            identities.sort();
            let seq = |name: &str| hash.get(name).map(|s| s.parse::<u64>()).transpose();
            let open = seq("open").map_err(corrupt)?;
            // A removed agent is nobody's personal agent any more, nor is one created
            // again under the same id since (`Incarnation`).
            let recorded = hash.get("pa_born").unwrap_or_default();
            let personal_agent = match hash.get("personal_agent").map(|a| a.parse::<AgentId>()) {
                Some(Ok(a)) if self.personal_alive(&a, recorded).await? => Some(a),
                _ => None,
            };
            return Ok(Some(CustomerView {
                open_conversation_id: open.map(|n| ConversationId::new(id.clone(), n)),
                conversation_ids: convs
                    .iter()
                    .map(|c| c.parse())
                    .collect::<Result<_, _>>()
                    .map_err(corrupt)?,
                display_name: hash.get("display_name").map(str::to_owned),
                tier: hash.get("tier").unwrap_or(DEFAULT_TIER).to_owned(),
                personal_agent_id: personal_agent,
                created_at: hash.time("created_at")?.unwrap_or_default(),
                open_complaint_conversation_id: hash.get("complaint").and_then(|c| c.parse().ok()),
                identities,
                id,
                satisfaction: None,
                follow_up_due: None,
            }));
        }
        Err(StoreError::Contention(format!(
            "merge chain from {id} too long"
        )))
    }

    /// One conversation's own record, messages, channels and merged conversations.
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
        Ok(Some(StoredConversation {
            hash: Hash(fields),
            messages,
            channels: parse_channels(&channels)?,
            absorbed,
        }))
    }

    pub(super) async fn conversation_view(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, StoreError> {
        let Some(StoredConversation {
            hash,
            mut messages,
            mut channels,
            absorbed,
        }) = self.load_conversation(id).await?
        else {
            return Ok(None);
        };
        let Some(customer) = self.load_customer(id.customer()).await? else {
            return Ok(None);
        };
        // Merged timelines live on other customers' slots: walk them, bounded, each once
        // (a merge saga finished by two callers racing may absorb one conversation both
        // directly and through the conversation that absorbed it first).
        let mut pending = absorbed.clone();
        let mut visited = BTreeSet::from([id.clone()]);
        while let Some(next) = pending.pop() {
            if visited.len() > MAX_HOPS * MAX_HOPS {
                break;
            }
            if !visited.insert(next.clone()) {
                continue;
            }
            if let Some(more) = self.load_conversation(&next).await? {
                messages.extend(more.messages);
                channels.extend(more.channels);
                pending.extend(more.absorbed);
            }
        }
        sort_timeline(&mut messages);
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
            queue: route.as_ref().and_then(|r| r.queue.clone()),
            route,
            needs,
            channels: channels.into_iter().collect(),
            repeat_contacts: hash
                .get("repeat_contacts")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            merged_conversation_ids: absorbed,
            created_at: hash.time("created_at")?.unwrap_or_default(),
            resolved_at: hash.time("resolved_at")?,
            deadlines: None,
            messages,
        }))
    }
}
