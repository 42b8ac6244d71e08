//! Customers in the embedded store: a message stitched to its customer (the idempotency
//! record answered first, then the conversation opened or joined and routed), and reads.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{ConversationId, CustomerId, CustomerView, Identity, InboundMessage, Receipt};
use crate::store::records::inbound_record;
use crate::store::{CustomerStore, StoreError};

#[async_trait]
impl CustomerStore for MemoryStore {
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
        let was_open = state.customers.get(&cid).and_then(|c| c.open).is_some();
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
        let reopened = conv.repeat_contacts;
        let route = state.route(&cid, &conv_id, msg, repeat, now, &self.policy)?;
        if !was_open {
            state.opened_event(
                &conv_id,
                msg.medium().channel(),
                repeat_contact.then_some(reopened),
                now,
            );
        }
        let receipt = Receipt {
            message_id: message.id,
            customer_id: cid.clone(),
            conversation_id: conv_id,
            duplicate: false,
            route,
            repeat_contact,
            auto_reply: None,
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
}
