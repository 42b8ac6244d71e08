//! The `Store` trait on the embedded store: every operation under the one lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    AgentId, AgentProfile, AgentView, ConversationId, ConversationView, CustomerId, CustomerView,
    DeadlineKind, Deadlines, EntryKind, Identity, InboundMessage, Message, Presence, Receipt,
    Requirements,
};
use crate::routing::Needs;
use crate::store::records::inbound_record;
use crate::store::{
    AgentEvent, Assignment, CallRecord, Delivery, DeliveryOutcome, DeliveryState, EventKind, Queue,
    QueuedConversation, Rated, RatingsOf, ReplyOutcome, ResolveOutcome, RoutingSnapshot,
    SavedAgent, Store, StoreError, TransferOutcome, TransferTarget,
};

use super::MemoryStore;

#[async_trait]
impl Store for MemoryStore {
    async fn ingest(
        &self,
        msg: &InboundMessage,
        now: DateTime<Utc>,
    ) -> Result<Receipt, StoreError> {
        let mut state = self.lock();
        let cid = state.stitch(msg.identities(), now)?;
        let key = msg.idempotency_key();
        let customer = state.customer_mut(&cid)?;
        if let Some((receipt, expires)) = customer.dedup.get(&key) {
            if *expires > now {
                // A retry learns where its conversation stands now.
                let receipt = receipt.clone();
                let group = state.conv_group(&receipt.conversation_id);
                let route = state.routing.current(&group, &receipt.conversation_id);
                return Ok(Receipt {
                    duplicate: true,
                    route: route.unwrap_or(receipt.route.clone()),
                    ..receipt
                });
            }
        }
        customer.dedup.retain(|_, (_, expires)| *expires > now);
        if customer.display_name.is_none() {
            customer.display_name = msg.display_name().map(str::to_owned);
        }
        let (seq, repeat_contact) = state.conversation_for(&cid, now, &self.policy)?;
        let conv_id = ConversationId::new(cid.clone(), seq);
        let message = inbound_record(msg, now);
        let conv = state
            .conversations
            .get_mut(&conv_id)
            .ok_or_else(|| StoreError::Corrupt(format!("conversation {conv_id} missing")))?;
        conv.channels.insert(msg.medium().channel());
        conv.messages.push(message.clone());
        let repeat = conv.repeat_contacts > 0;
        let route = state.route(&cid, &conv_id, msg, repeat, now, &self.policy)?;
        let receipt = Receipt {
            message_id: message.id,
            customer_id: cid.clone(),
            conversation_id: conv_id,
            duplicate: false,
            route,
            repeat_contact,
        };
        let expires = now + self.policy.dedup_ttl;
        state
            .customer_mut(&cid)?
            .dedup
            .insert(key, (receipt.clone(), expires));
        Ok(receipt)
    }

    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerView>, StoreError> {
        self.lock().customer_view(id)
    }

    async fn set_tier(
        &self,
        id: &CustomerId,
        tier: &str,
    ) -> Result<Option<CustomerView>, StoreError> {
        let mut state = self.lock();
        if !state.customers.contains_key(id) {
            return Ok(None);
        }
        let live = state.live(id)?;
        state.customer_mut(&live)?.tier = tier.to_owned();
        state.customer_view(&live)
    }

    async fn customer_by_identity(
        &self,
        identity: &Identity,
    ) -> Result<Option<CustomerView>, StoreError> {
        let state = self.lock();
        match state.identities.get(identity) {
            Some(owner) => state.customer_view(owner),
            None => Ok(None),
        }
    }

    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, StoreError> {
        self.conversation_view(id)
    }

    async fn resolve(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<ResolveOutcome, StoreError> {
        self.resolve_conversation(id, now)
    }

    async fn put_agent(
        &self,
        profile: &AgentProfile,
        now: DateTime<Utc>,
    ) -> Result<SavedAgent, StoreError> {
        let mut state = self.lock();
        let (view, created, assignments) = state
            .routing
            .put_agent(profile.clone(), now)
            .map_err(|busy| StoreError::Conflict(busy.to_owned()))?;
        state.adopt(&assignments);
        Ok(SavedAgent {
            view,
            created,
            assignments,
        })
    }

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentView>, StoreError> {
        Ok(self.lock().routing.agent(id))
    }

    async fn agents(&self) -> Result<Vec<AgentView>, StoreError> {
        Ok(self.lock().routing.agents())
    }

    async fn held(&self, agent: &AgentId) -> Result<Vec<ConversationId>, StoreError> {
        Ok(self.lock().routing.held(agent))
    }

    async fn set_presence(
        &self,
        id: &AgentId,
        presence: Presence,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        let grace = self.policy.offline_grace;
        let mut state = self.lock();
        let made = state.routing.set_presence(id, presence, now, grace);
        state.adopt(made.as_deref().unwrap_or_default());
        Ok(made)
    }

    async fn fire_timers(&self, now: DateTime<Utc>) -> Result<Vec<Assignment>, StoreError> {
        let mut state = self.lock();
        let made = state.routing.fire_timers(now);
        state.adopt(&made);
        Ok(made)
    }

    async fn delete_agent(
        &self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        let mut state = self.lock();
        let made = state.routing.delete_agent(id, now);
        state.adopt(made.as_deref().unwrap_or_default());
        Ok(made)
    }

    async fn add_reply(
        &self,
        id: &ConversationId,
        message: &Message,
        now: DateTime<Utc>,
    ) -> Result<ReplyOutcome, StoreError> {
        let mut state = self.lock();
        let Some(conv) = state.conversations.get_mut(id) else {
            return Ok(ReplyOutcome::NotFound);
        };
        conv.messages.push(message.clone());
        let first = message.kind == EntryKind::Message && conv.first_response_at.is_none();
        if first {
            conv.first_response_at = Some(now);
        }
        Ok(ReplyOutcome::Stored { first })
    }

    async fn push_event(
        &self,
        agent: &AgentId,
        kind: EventKind,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        self.lock().routing.event(agent, kind, conversation);
        Ok(())
    }

    async fn agent_events(
        &self,
        agent: &AgentId,
        after: &str,
        limit: usize,
    ) -> Result<Vec<AgentEvent>, StoreError> {
        Ok(self.lock().routing.events(agent, after, limit))
    }

    async fn last_event_id(&self, agent: &AgentId) -> Result<String, StoreError> {
        Ok(self.lock().routing.last_event_id(agent))
    }

    async fn newest_events(
        &self,
        cursors: &[(AgentId, String)],
        limit: usize,
    ) -> Result<Vec<(AgentId, String)>, StoreError> {
        let state = self.lock();
        Ok(cursors
            .iter()
            .filter_map(|(agent, after)| {
                let events = state.routing.events(agent, after, limit);
                events.last().map(|e| (agent.clone(), e.id.clone()))
            })
            .collect())
    }

    async fn transfer(
        &self,
        id: &ConversationId,
        to: &TransferTarget,
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError> {
        let mut state = self.lock();
        let group = state.conv_group(id);
        let (outcome, now_in) = state.routing.transfer(&group, id, to, now);
        if let TransferOutcome::Transferred { assignments, .. } = &outcome {
            state.adopt(assignments);
        }
        if let Some(conv) = state.conversations.get_mut(id) {
            conv.group = Some(now_in);
        }
        Ok(outcome)
    }

    async fn call(&self, external_id: &str) -> Result<Option<CallRecord>, StoreError> {
        Ok(self.lock().calls.get(external_id).cloned())
    }

    async fn save_call(&self, call: &CallRecord) -> Result<(), StoreError> {
        self.lock()
            .calls
            .insert(call.external_id.clone(), call.clone());
        Ok(())
    }

    async fn set_requirements(
        &self,
        id: &ConversationId,
        requirements: &Requirements,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        let mut state = self.lock();
        let Some((channel, tier)) = state.route_inputs(id) else {
            return Ok(None);
        };
        let needs = Needs::new(requirements, channel, &tier, now, &self.policy);
        let group = state.conv_group(id);
        let made = state.routing.require(&group, id, needs, now);
        if let Some(made) = &made {
            state.adopt(made);
        }
        Ok(made)
    }

    async fn queued(
        &self,
        queue: &Queue,
        limit: usize,
    ) -> Result<Vec<QueuedConversation>, StoreError> {
        let mut all = self.lock().routing.queued(queue.as_str());
        all.truncate(limit);
        Ok(all)
    }

    async fn schedule_deadlines(
        &self,
        conv: &ConversationId,
        due: &Deadlines,
    ) -> Result<(), StoreError> {
        self.schedule(conv, due);
        Ok(())
    }

    async fn clear_deadlines(
        &self,
        conv: &ConversationId,
        kinds: &[DeadlineKind],
    ) -> Result<(), StoreError> {
        self.unschedule(conv, kinds);
        Ok(())
    }

    async fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ConversationId, DeadlineKind)>, StoreError> {
        Ok(self.take_due(now, limit))
    }

    async fn schedule_follow_up(
        &self,
        customer: &CustomerId,
        at: DateTime<Utc>,
        replace: bool,
    ) -> Result<(), StoreError> {
        MemoryStore::schedule_follow_up(self, customer, at, replace);
        Ok(())
    }

    async fn cancel_follow_up(&self, customer: &CustomerId) -> Result<bool, StoreError> {
        Ok(MemoryStore::cancel_follow_up(self, customer))
    }

    async fn follow_up(&self, customer: &CustomerId) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(MemoryStore::follow_up(self, customer))
    }

    async fn due_follow_ups(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<CustomerId>, StoreError> {
        Ok(self.take_due_follow_ups(now, limit))
    }

    async fn set_open_complaint(
        &self,
        customer: &CustomerId,
        conv: Option<&ConversationId>,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let rec = state.customer_mut(customer)?;
        rec.complaint = conv.cloned();
        Ok(())
    }

    async fn raise_priority(&self, conv: &ConversationId, floor: u8) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let group = state.conv_group(conv);
        Ok(state.routing.raise_priority(&group, conv, floor))
    }

    async fn rate(
        &self,
        conv: &ConversationId,
        source: &str,
        rating: u8,
        _now: DateTime<Utc>,
    ) -> Result<Option<Rated>, StoreError> {
        Ok(self.record_rating(conv, source, rating))
    }

    async fn recent_ratings(&self, of: &RatingsOf) -> Result<Vec<u8>, StoreError> {
        Ok(self.ratings_of(of))
    }

    async fn set_waiting_call(
        &self,
        conv: &ConversationId,
        external_id: &str,
    ) -> Result<(), StoreError> {
        self.lock()
            .waiting_calls
            .insert(conv.clone(), external_id.to_owned());
        Ok(())
    }

    async fn take_waiting_call(&self, conv: &ConversationId) -> Result<Option<String>, StoreError> {
        Ok(self.lock().waiting_calls.remove(conv))
    }

    async fn release(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let mut state = self.lock();
        let group = state.conv_group(id);
        let made = state
            .routing
            .release_call(&group, id, now)
            .unwrap_or_default();
        state.adopt(&made);
        Ok(made)
    }

    async fn record_thread(
        &self,
        message_id: &str,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        self.lock()
            .threads
            .insert(message_id.to_owned(), conversation.clone());
        Ok(())
    }

    async fn thread(&self, message_id: &str) -> Result<Option<ConversationId>, StoreError> {
        Ok(self.lock().threads.get(message_id).cloned())
    }

    async fn enqueue_delivery(
        &self,
        id: &str,
        url: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.outbox_enqueue(id, url, body, now);
        Ok(())
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        Ok(self.outbox_claim(now, lease_until, limit))
    }

    async fn finish_delivery(&self, id: &str, outcome: &DeliveryOutcome) -> Result<(), StoreError> {
        self.outbox_finish(id, outcome);
        Ok(())
    }

    async fn delivery_state(&self, id: &str) -> Result<Option<DeliveryState>, StoreError> {
        Ok(self.outbox_state(id))
    }

    async fn snapshot(&self) -> Result<RoutingSnapshot, StoreError> {
        Ok(self.lock().routing.snapshot())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn count_request(
        &self,
        bucket: &str,
        n: u64,
        window: std::time::Duration,
    ) -> Result<(u64, std::time::Duration), StoreError> {
        let now = std::time::Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        // Windows that ended are dropped as they are met, and all of them now and then,
        // so idle callers do not accumulate.
        if windows.len() > 10_000 {
            windows.retain(|_, (_, end)| *end > now);
        }
        let entry = windows
            .entry(bucket.to_owned())
            .or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 += n;
        Ok((entry.0, entry.1 - now))
    }
}
