//! Routing in the embedded store beyond a message's arrival: timers, transfers,
//! requirements, priorities, queue listings and calls' ends, all in the routing engine.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{ConversationId, Message, Requirements};
use crate::routing::Needs;
use crate::store::format::AFTER_CALL_WORK;
use crate::store::{
    Assignment, Queue, QueuedConversation, RoutingSnapshot, RoutingStore, StoreError,
    TransferOutcome, TransferTarget,
};

#[async_trait]
impl RoutingStore for MemoryStore {
    async fn fire_timers(&self, now: DateTime<Utc>) -> Result<Vec<Assignment>, StoreError> {
        let mut state = self.lock();
        let made = state.routing.fire_timers(now);
        state.adopt(&made);
        Ok(made)
    }

    async fn transfer(
        &self,
        id: &ConversationId,
        to: &TransferTarget,
        note: Option<&Message>,
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError> {
        let mut state = self.lock();
        let group = state.conv_group(id);
        let (outcome, now_in) = state.routing.transfer(&group, id, to, now);
        let transferred = matches!(outcome, TransferOutcome::Transferred { .. });
        if let TransferOutcome::Transferred { assignments, .. } = &outcome {
            state.adopt(assignments);
        }
        if let Some(conv) = state.conversations.get_mut(id) {
            conv.group = Some(now_in);
            // Under the same lock as the transfer: the note exists exactly when it does.
            if let Some(note) = note.filter(|_| transferred) {
                conv.messages.push(note.clone());
            }
        }
        Ok(outcome)
    }

    async fn snapshot(&self) -> Result<RoutingSnapshot, StoreError> {
        Ok(self.lock().routing.snapshot())
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
        let mut all = self.lock().routing.queued(*queue);
        all.truncate(limit);
        Ok(all)
    }

    async fn raise_priority(&self, conv: &ConversationId, floor: u8) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let group = state.conv_group(conv);
        Ok(state.routing.raise_priority(&group, conv, floor))
    }

    async fn release(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        // Until after-call work may be written, the holder keeps the call's unit too.
        if !self.format_gate.allows(AFTER_CALL_WORK) {
            return Ok(Vec::new());
        }
        let mut state = self.lock();
        let group = state.conv_group(id);
        let made = state
            .routing
            .release_call(&group, id, now)
            .unwrap_or_default();
        state.adopt(&made);
        Ok(made)
    }
}
