//! What an erasure removes outside the erased customers' own slots: routing state in
//! every group (`lua/routing/erase.lua`), agents' event logs (`erase_events.lua`), the
//! schedules and the archive's due list, and what their timelines point to (e-mail
//! threads, call records, outbox deliveries). Each step is idempotent.

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;

use super::codec::{corrupt, from_redis};
use super::groups::parse_group;
use super::schedules::member;
use super::RedisStore;
use crate::domain::{AgentId, ConversationId, DeadlineKind, Direction, Message, RoutingGroup};
use crate::store::archive::read_through;
use crate::store::erasure::ErasureInventory;
use crate::store::retention::due_shard;
use crate::store::{Assignment, CallRecord, StoreError, CALL_DELIVERY_PREFIX};

/// Agents whose event logs one call scrubs: each log is capped (`EVENTS_KEPT`), so a
/// call stays short however many agents a group has.
const AGENTS_PER_CALL: usize = 50;

/// Conversations one routing call erases.
const CONVERSATIONS_PER_CALL: usize = 500;

impl RedisStore {
    pub(super) async fn erase_from_routing(
        &self,
        inventory: &ErasureInventory,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let personal = self.erased_personal_agent(inventory).await?;
        let mut made = Vec::new();
        for group in self.all_groups().await? {
            let (agent, born) = match &personal {
                Some((g, agent, born)) if *g == group => (agent.as_str(), born.as_str()),
                _ => ("", ""),
            };
            // Batches keep each call short (and within Lua's `unpack`); one call even
            // for none, which settles the portfolio and the merge records.
            let mut batches: Vec<&[ConversationId]> = inventory
                .conversations
                .chunks(CONVERSATIONS_PER_CALL)
                .collect();
            if batches.is_empty() {
                batches.push(&[]);
            }
            for batch in batches {
                let mut call = self.scripts.erase.key(self.keys.routing(&group));
                call.arg(now.timestamp_millis())
                    .arg(agent)
                    .arg(born)
                    .arg(inventory.customer.as_str())
                    .arg(batch.len());
                for conv in batch {
                    call.arg(conv.to_string());
                }
                for merged in &inventory.merged {
                    call.arg(merged.as_str());
                }
                let answer: Vec<Vec<String>> = call
                    .invoke_async(&mut self.conn.clone())
                    .await
                    .map_err(from_redis)?;
                made.extend(self.recorded(answer, &group, now).await?);
            }
            self.erase_events(&group, inventory).await?;
        }
        self.erase_schedules(inventory).await?;
        Ok(made)
    }

    /// The erased customer's personal agent, with their group and recorded life, while
    /// the customer's record still names them.
    async fn erased_personal_agent(
        &self,
        inventory: &ErasureInventory,
    ) -> Result<Option<(RoutingGroup, String, String)>, StoreError> {
        let (agent, born, group): (Option<String>, Option<String>, Option<String>) =
            redis::cmd("HMGET")
                .arg(self.keys.customer(&inventory.customer))
                .arg("personal_agent")
                .arg("pa_born")
                .arg("group")
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
        let Some(agent) = agent else {
            return Ok(None);
        };
        Ok(Some((parse_group(group)?, agent, born.unwrap_or_default())))
    }

    /// Scrubs the group's agents' event logs (former agents' included), a batch at a time.
    async fn erase_events(
        &self,
        group: &RoutingGroup,
        inventory: &ErasureInventory,
    ) -> Result<(), StoreError> {
        let agents: Vec<String> = redis::cmd("SUNION")
            .arg(self.keys.agents(group))
            .arg(self.keys.former_agents(group))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        for batch in agents.chunks(AGENTS_PER_CALL) {
            let mut call = self.scripts.erase_events.key(self.keys.routing(group));
            call.arg(batch.len()).arg(batch);
            for customer in inventory.customers() {
                call.arg(customer.as_str());
            }
            let _: i64 = call
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
        }
        Ok(())
    }

    /// Deadlines, follow-ups and the archive's due list name conversations or customers:
    /// one command per key (each is its own slot on a cluster).
    async fn erase_schedules(&self, inventory: &ErasureInventory) -> Result<(), StoreError> {
        let deadlines: Vec<String> = inventory
            .conversations
            .iter()
            .flat_map(|conv| DeadlineKind::ALL.map(|kind| member(conv, kind)))
            .collect();
        let customers: Vec<String> = inventory.customers().map(ToString::to_string).collect();
        let mut removals = vec![(self.keys.follow_ups(), customers)];
        if !deadlines.is_empty() {
            removals.push((self.keys.deadlines(), deadlines));
        }
        for customer in inventory.customers() {
            let shard = self.keys.archive_due(due_shard(customer));
            removals.push((shard, vec![customer.to_string()]));
        }
        for (key, members) in removals {
            let _: i64 = redis::cmd("ZREM")
                .arg(key)
                .arg(members)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
        }
        Ok(())
    }

    /// Every feed shard's entries about the erased customers: routing's and the
    /// customer side's.
    pub(super) async fn scrub_feeds(&self, inventory: &ErasureInventory) -> Result<(), StoreError> {
        let customers: Vec<String> = inventory.customers().map(ToString::to_string).collect();
        for key in self.feed_keys().await? {
            self.scrub_feed(&key, &customers).await?;
        }
        Ok(())
    }

    /// The last of routing's records of the erased customer (`erase_done.lua`).
    pub(super) async fn erase_routing_records(
        &self,
        inventory: &ErasureInventory,
    ) -> Result<(), StoreError> {
        self.scrub_feeds(inventory).await?;
        for group in self.all_groups().await? {
            let _: i64 = self
                .scripts
                .erase_done
                .key(self.keys.routing(&group))
                .arg(inventory.customer.as_str())
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
        }
        Ok(())
    }

    /// What the erased timelines point to: each inbound entry's e-mail thread and call
    /// record (by the provider's id), each reply's delivery and thread.
    pub(super) async fn erase_pointers(
        &self,
        inventory: &ErasureInventory,
    ) -> Result<(), StoreError> {
        for conv in &inventory.conversations {
            let entries = self.erased_timeline(conv).await?;
            try_join_all(entries.iter().map(|m| self.erase_pointers_of(m, inventory))).await?;
            self.erase_provider_ids(conv, &entries).await?;
        }
        Ok(())
    }

    /// A conversation's own entries, from Redis or (once archived) the archive.
    async fn erased_timeline(&self, conv: &ConversationId) -> Result<Vec<Message>, StoreError> {
        let Some(own) = self.load_conversation(conv).await? else {
            return Ok(Vec::new());
        };
        if own.hash.get("archived").is_none() {
            return Ok(own.messages);
        }
        read_through::archived_entries(self.archive.as_ref(), conv).await
    }

    async fn erase_pointers_of(
        &self,
        entry: &Message,
        inventory: &ErasureInventory,
    ) -> Result<(), StoreError> {
        // The outbox's commands, all on its slot.
        let mut pipe = redis::pipe();
        match entry.direction {
            Direction::Out => {
                let id = entry.id.as_str();
                pipe.del(self.keys.delivery(id)).ignore();
                pipe.zrem(self.keys.outbox_due(), id).ignore();
                self.erase_thread(&format!("{id}@switchboard"), inventory)
                    .await?;
            }
            Direction::In => {
                let Some(external) = &entry.external_id else {
                    return Ok(());
                };
                self.erase_thread(external, inventory).await?;
                if let Some(call) = self.erased_call(external, inventory).await? {
                    let _: i64 = redis::cmd("DEL")
                        .arg(self.keys.call(external))
                        .query_async(&mut self.conn.clone())
                        .await
                        .map_err(from_redis)?;
                    if let Some(agent) = &call.agent_id {
                        let delivery = call_delivery(external, agent);
                        pipe.del(self.keys.delivery(&delivery)).ignore();
                        pipe.zrem(self.keys.outbox_due(), delivery).ignore();
                    }
                }
            }
        }
        if pipe.cmd_iter().next().is_some() {
            let _: () = pipe
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
        }
        Ok(())
    }

    /// Drops the keys that find a conversation's replies by the provider's id, and by
    /// their own (`deliveries.rs`).
    async fn erase_provider_ids(
        &self,
        conv: &ConversationId,
        entries: &[Message],
    ) -> Result<(), StoreError> {
        for reply in entries.iter().filter(|m| m.direction == Direction::Out) {
            let provider: Option<String> = redis::cmd("HGET")
                .arg(self.keys.conversation_deliveries(conv))
                .arg(super::deliveries::provider_field(&reply.id))
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            for id in provider
                .iter()
                .map(String::as_str)
                .chain([reply.id.as_str()])
            {
                let _: i64 = redis::cmd("DEL")
                    .arg(self.keys.provider_message(id))
                    .query_async(&mut self.conn.clone())
                    .await
                    .map_err(from_redis)?;
            }
        }
        Ok(())
    }

    /// Drops an e-mail thread's pointer if it leads to an erased conversation.
    async fn erase_thread(
        &self,
        message_id: &str,
        inventory: &ErasureInventory,
    ) -> Result<(), StoreError> {
        let key = self.keys.thread(message_id);
        let conv: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let erased = conv
            .and_then(|c| c.parse::<ConversationId>().ok())
            .is_some_and(|c| inventory.holds(&c));
        if erased {
            let _: i64 = redis::cmd("DEL")
                .arg(&key)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
        }
        Ok(())
    }

    /// The call record under a provider id, when it is an erased customer's.
    async fn erased_call(
        &self,
        external_id: &str,
        inventory: &ErasureInventory,
    ) -> Result<Option<CallRecord>, StoreError> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.keys.call(external_id))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        let call: CallRecord = serde_json::from_str(&raw).map_err(corrupt)?;
        let theirs = call
            .conversation_id
            .as_ref()
            .is_some_and(|c| inventory.holds(c))
            || call
                .customer_id
                .as_ref()
                .is_some_and(|c| inventory.customers().any(|e| e == c));
        Ok(theirs.then_some(call))
    }
}

fn call_delivery(call: &str, agent: &AgentId) -> String {
    format!("{CALL_DELIVERY_PREFIX}{call}:{agent}")
}
