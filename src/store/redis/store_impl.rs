//! The `Store` trait on Redis: each operation runs here or in the module that owns it.

use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::codec::{corrupt, from_redis, parse_customer};
use super::message_record;
use super::RedisStore;
use crate::domain::{
    AgentId, AgentProfile, AgentView, ConversationId, ConversationView, CustomerId, CustomerView,
    DeadlineKind, Deadlines, EntryKind, Identity, InboundMessage, Message, Presence, Receipt,
    Requirements,
};
use crate::store::{
    AgentEvent, Assignment, CallRecord, Delivery, DeliveryOutcome, DeliveryState, EventKind, Queue,
    QueuedConversation, Rated, RatingsOf, ReplyOutcome, ResolveOutcome, RoutingSnapshot,
    SavedAgent, Store, StoreError, TransferOutcome, TransferTarget, CALL_TTL_SECS, THREAD_TTL_SECS,
};

#[async_trait]
impl Store for RedisStore {
    async fn ingest(
        &self,
        msg: &InboundMessage,
        now: DateTime<Utc>,
    ) -> Result<Receipt, StoreError> {
        self.ingest_message(msg, now).await
    }

    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerView>, StoreError> {
        self.load_customer(id).await
    }

    async fn set_tier(
        &self,
        id: &CustomerId,
        tier: &str,
    ) -> Result<Option<CustomerView>, StoreError> {
        let Some(customer) = self.load_customer(id).await? else {
            return Ok(None);
        };
        // HSET XX-like: only an existing record (a concurrent merge leaves a pointer, and
        // the survivor is what `load_customer` found).
        let _: i64 = redis::cmd("HSET")
            .arg(self.keys.customer(&customer.id))
            .arg("tier")
            .arg(tier)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        self.load_customer(&customer.id).await
    }

    async fn customer_by_identity(
        &self,
        identity: &Identity,
    ) -> Result<Option<CustomerView>, StoreError> {
        let owner: Option<String> = redis::cmd("GET")
            .arg(self.keys.identity(identity))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        match owner {
            Some(owner) => self.load_customer(&parse_customer(&owner)?).await,
            None => Ok(None),
        }
    }

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

    async fn put_agent(
        &self,
        profile: &AgentProfile,
        now: DateTime<Utc>,
    ) -> Result<SavedAgent, StoreError> {
        let (created, assignments) = self.put_agent_profile(profile, now).await?;
        let view = self
            .load_agent(&profile.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("agent {} vanished", profile.id)))?;
        Ok(SavedAgent {
            view,
            created,
            assignments,
        })
    }

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentView>, StoreError> {
        self.load_agent(id).await
    }

    async fn agents(&self) -> Result<Vec<AgentView>, StoreError> {
        self.load_agents().await
    }

    async fn held(&self, agent: &AgentId) -> Result<Vec<ConversationId>, StoreError> {
        self.held_by(agent).await
    }

    async fn set_presence(
        &self,
        id: &AgentId,
        presence: Presence,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        self.presence(id, presence, now).await
    }

    async fn fire_timers(&self, now: DateTime<Utc>) -> Result<Vec<Assignment>, StoreError> {
        self.timers(now).await
    }

    async fn delete_agent(
        &self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        self.remove_agent(id, now).await
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

    async fn push_event(
        &self,
        agent: &AgentId,
        kind: EventKind,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        self.push_agent_event(agent, kind, conversation).await
    }

    async fn agent_events(
        &self,
        agent: &AgentId,
        after: &str,
        limit: usize,
    ) -> Result<Vec<AgentEvent>, StoreError> {
        self.read_agent_events(agent, after, limit).await
    }

    async fn last_event_id(&self, agent: &AgentId) -> Result<String, StoreError> {
        self.newest_event_id(agent).await
    }

    async fn newest_events(
        &self,
        cursors: &[(AgentId, String)],
        limit: usize,
    ) -> Result<Vec<(AgentId, String)>, StoreError> {
        self.newest_of_streams(cursors, limit).await
    }

    async fn transfer(
        &self,
        id: &ConversationId,
        to: &TransferTarget,
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError> {
        self.transfer_conversation(id, to, now).await
    }

    async fn call(&self, external_id: &str) -> Result<Option<CallRecord>, StoreError> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.keys.call(external_id))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        raw.map(|r| serde_json::from_str(&r).map_err(corrupt))
            .transpose()
    }

    async fn save_call(&self, call: &CallRecord) -> Result<(), StoreError> {
        let _: () = redis::cmd("SET")
            .arg(self.keys.call(&call.external_id))
            .arg(serde_json::to_string(call).map_err(corrupt)?)
            .arg("EX")
            .arg(CALL_TTL_SECS)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    async fn set_requirements(
        &self,
        id: &ConversationId,
        requirements: &Requirements,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        self.require(id, requirements, now).await
    }

    async fn queued(
        &self,
        queue: &Queue,
        limit: usize,
    ) -> Result<Vec<QueuedConversation>, StoreError> {
        self.queue_listing(queue, limit).await
    }

    async fn schedule_deadlines(
        &self,
        conv: &ConversationId,
        due: &Deadlines,
    ) -> Result<(), StoreError> {
        self.schedule(conv, due).await
    }

    async fn clear_deadlines(
        &self,
        conv: &ConversationId,
        kinds: &[DeadlineKind],
    ) -> Result<(), StoreError> {
        self.unschedule(conv, kinds).await
    }

    async fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ConversationId, DeadlineKind)>, StoreError> {
        self.take_due(now, limit).await
    }

    async fn schedule_follow_up(
        &self,
        customer: &CustomerId,
        at: DateTime<Utc>,
        replace: bool,
    ) -> Result<(), StoreError> {
        self.schedule_follow_up_at(customer, at, replace).await
    }

    async fn cancel_follow_up(&self, customer: &CustomerId) -> Result<bool, StoreError> {
        self.cancel_follow_up_of(customer).await
    }

    async fn follow_up(&self, customer: &CustomerId) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.follow_up_of(customer).await
    }

    async fn due_follow_ups(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<CustomerId>, StoreError> {
        self.take_due_follow_ups(now, limit).await
    }

    async fn set_open_complaint(
        &self,
        customer: &CustomerId,
        conv: Option<&ConversationId>,
    ) -> Result<(), StoreError> {
        self.complaint(customer, conv).await
    }

    async fn raise_priority(&self, conv: &ConversationId, floor: u8) -> Result<bool, StoreError> {
        self.raise(conv, floor).await
    }

    async fn rate(
        &self,
        conv: &ConversationId,
        source: &str,
        rating: u8,
        now: DateTime<Utc>,
    ) -> Result<Option<Rated>, StoreError> {
        self.record_rating(conv, source, rating, now).await
    }

    async fn recent_ratings(&self, of: &RatingsOf) -> Result<Vec<u8>, StoreError> {
        self.ratings_of(of).await
    }

    async fn set_waiting_call(
        &self,
        conv: &ConversationId,
        external_id: &str,
    ) -> Result<(), StoreError> {
        let _: () = redis::cmd("SET")
            .arg(self.keys.waiting_call(conv))
            .arg(external_id)
            .arg("EX")
            .arg(CALL_TTL_SECS)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    async fn take_waiting_call(&self, conv: &ConversationId) -> Result<Option<String>, StoreError> {
        redis::cmd("GETDEL")
            .arg(self.keys.waiting_call(conv))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)
    }

    async fn release(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let group = self.conversation_group(id).await?;
        // The holder keeps the conversation (after-call work): its mirror stands.
        Ok(self
            .release_call(&group, id, now)
            .await?
            .unwrap_or_default())
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

    async fn enqueue_delivery(
        &self,
        id: &str,
        url: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.outbox_enqueue(id, url, body, now).await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.outbox_claim(now, lease_until, limit).await
    }

    async fn finish_delivery(&self, id: &str, outcome: &DeliveryOutcome) -> Result<(), StoreError> {
        self.outbox_finish(id, outcome).await
    }

    async fn delivery_state(&self, id: &str) -> Result<Option<DeliveryState>, StoreError> {
        self.outbox_state(id).await
    }

    async fn snapshot(&self) -> Result<RoutingSnapshot, StoreError> {
        self.routing_snapshot().await
    }

    fn placement_mismatches(&self) -> u64 {
        self.placement_mismatches
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    async fn count_request(
        &self,
        bucket: &str,
        n: u64,
        window: StdDuration,
    ) -> Result<(u64, StdDuration), StoreError> {
        // MULTI, so a counter can never be left without its expiry (a lost PEXPIRE
        // would block the caller forever); `NX` keeps the window's first expiry.
        let key = self.keys.rate(bucket);
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let (count, _, left): (u64, i64, i64) = redis::pipe()
            .atomic()
            .incr(&key, n)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(window_ms)
            .arg("NX")
            .pttl(&key)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let left = u64::try_from(left).unwrap_or(window_ms);
        Ok((count, StdDuration::from_millis(left)))
    }
}
