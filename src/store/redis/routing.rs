//! Routing on Redis beyond a message's arrival: timers, transfers, requirements,
//! priorities, queue listings and calls' ends, each in the module that runs its script.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::RedisStore;
use crate::domain::{ConversationId, Message, Requirements};
use crate::store::format::AFTER_CALL_WORK;
use crate::store::{
    Assignment, Queue, QueuedConversation, RoutingSnapshot, RoutingStore, StoreError,
    TransferOutcome, TransferTarget,
};

#[async_trait]
impl RoutingStore for RedisStore {
    async fn fire_timers(&self, now: DateTime<Utc>) -> Result<Vec<Assignment>, StoreError> {
        self.timers(now).await
    }

    async fn transfer(
        &self,
        id: &ConversationId,
        to: &TransferTarget,
        note: Option<&Message>,
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError> {
        self.transfer_conversation(id, to, note, now).await
    }

    async fn snapshot(&self) -> Result<RoutingSnapshot, StoreError> {
        self.routing_snapshot().await
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

    async fn raise_priority(&self, conv: &ConversationId, floor: u8) -> Result<bool, StoreError> {
        self.raise(conv, floor).await
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
        let group = self.conversation_group(id).await?;
        // The holder keeps the conversation (after-call work): its mirror stands.
        Ok(self
            .release_call(&group, id, now)
            .await?
            .unwrap_or_default())
    }
}
