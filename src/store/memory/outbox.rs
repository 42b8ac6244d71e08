//! The embedded store's outbox: deliveries by id, each due at a time, claimed with a
//! lease (as `claim.lua` does on Redis) and finished as delivered, retried or failed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{MemoryStore, OutboxRec};
use crate::domain::{ConversationId, MessageId, ReplyDelivery};
use crate::store::{
    Delivery, DeliveryOutcome, DeliveryState, DeliveryStatus, OutboxStore, StoreError,
};

impl MemoryStore {
    /// A re-enqueue of the same id (a retried request) changes nothing.
    pub(super) fn outbox_enqueue(&self, id: &str, url: &str, body: &str, now: DateTime<Utc>) {
        let record = OutboxRec {
            url: url.to_owned(),
            body: body.to_owned(),
            attempts: 0,
            state: DeliveryStatus::Pending,
            error: None,
            due: Some(now),
        };
        self.lock().outbox.entry(id.to_owned()).or_insert(record);
    }

    pub(super) fn outbox_claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<Delivery> {
        let mut state = self.lock();
        let mut due: Vec<(DateTime<Utc>, String)> = state
            .outbox
            .iter()
            .filter_map(|(id, d)| d.due.filter(|t| *t <= now).map(|t| (t, id.clone())))
            .collect();
        due.sort();
        let mut out = Vec::new();
        for (_, id) in due.into_iter().take(limit) {
            if let Some(d) = state.outbox.get_mut(&id) {
                d.due = Some(lease_until);
                d.attempts += 1;
                out.push(Delivery {
                    id,
                    url: d.url.clone(),
                    body: d.body.clone(),
                    attempts: d.attempts,
                });
            }
        }
        out
    }

    pub(super) fn outbox_finish(&self, id: &str, outcome: &DeliveryOutcome) {
        if let Some(d) = self.lock().outbox.get_mut(id) {
            match outcome {
                DeliveryOutcome::Delivered => (d.state, d.due) = (DeliveryStatus::Delivered, None),
                DeliveryOutcome::Retry { at, error } => {
                    (d.error, d.due) = (Some(error.clone()), Some(*at))
                }
                DeliveryOutcome::Failed { error } => {
                    (d.state, d.error, d.due) = (DeliveryStatus::Failed, Some(error.clone()), None)
                }
            }
        }
    }

    pub(super) fn outbox_state(&self, id: &str) -> Option<DeliveryState> {
        self.lock().outbox.get(id).map(|d| DeliveryState {
            state: d.state,
            attempts: d.attempts,
            last_error: d.error.clone(),
        })
    }
}

#[async_trait]
impl OutboxStore for MemoryStore {
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
    async fn record_provider_id(
        &self,
        conv: &ConversationId,
        message: &MessageId,
        provider_id: &str,
    ) -> Result<(), StoreError> {
        self.lock()
            .provider_ids
            .insert(provider_id.to_owned(), (conv.clone(), message.clone()));
        Ok(())
    }

    async fn reply_by_provider_id(
        &self,
        provider_id: &str,
    ) -> Result<Option<(ConversationId, MessageId)>, StoreError> {
        Ok(self.lock().provider_ids.get(provider_id).cloned())
    }

    async fn advance_delivery(
        &self,
        conv: &ConversationId,
        message: &MessageId,
        report: &ReplyDelivery,
    ) -> Result<Option<ReplyDelivery>, StoreError> {
        let mut state = self.lock();
        let Some(c) = state.conversations.get_mut(conv) else {
            return Ok(None);
        };
        let known = c.deliveries.get(message).map(|d| d.status.rank());
        if known.is_some_and(|rank| rank >= report.status.rank()) {
            return Ok(None);
        }
        c.deliveries.insert(message.clone(), report.clone());
        Ok(Some(report.clone()))
    }
}
