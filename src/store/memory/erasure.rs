//! A customer's erasure in the embedded store. One lock makes each step atomic here; the
//! steps stay those of the Redis store, so the saga (`app::erasure`) runs alike on both.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{MemoryStore, State};
use crate::domain::{ConversationId, CustomerId};
use crate::store::erasure::{before_erasures, erasure_id, Erasure, ErasureInventory, ErasureState};
use crate::store::format;
use crate::store::{Assignment, ErasureStore, RatingsOf, StoreError, CALL_DELIVERY_PREFIX};

/// An erasure's record: what it shows, what it removes, and who runs it until when.
#[derive(Debug)]
pub(super) struct ErasureRec {
    erasure: Erasure,
    inventory: Option<ErasureInventory>,
    lease_until: DateTime<Utc>,
}

/// Erasures by the customer they erase, and the customers merged into those.
#[derive(Debug, Default)]
pub(super) struct Erasures {
    records: HashMap<CustomerId, ErasureRec>,
    /// A merged customer's id → the erasure that took it.
    merged: HashMap<CustomerId, CustomerId>,
}

impl State {
    /// Whether `customer`'s data is being erased (or is gone): nothing may reach it.
    pub(super) fn erasing(&self, customer: &CustomerId) -> bool {
        let Ok(live) = self.live(customer) else {
            return true;
        };
        self.customers.get(&live).is_none_or(|c| c.erasing)
    }

    /// The customer and everyone merged into them, at any depth.
    fn merged_into(&self, customer: &CustomerId) -> Vec<CustomerId> {
        self.customers
            .keys()
            .filter(|c| *c != customer && self.live(c).is_ok_and(|l| l == *customer))
            .cloned()
            .collect()
    }

    fn begin(&mut self, customer: &CustomerId, now: DateTime<Utc>, lease_until: DateTime<Utc>) {
        let merged = self.merged_into(customer);
        for c in std::iter::once(customer).chain(&merged) {
            if let Some(rec) = self.customers.get_mut(c) {
                rec.erasing = true;
            }
        }
        self.identities
            .retain(|_, owner| owner != customer && !merged.contains(owner));
        self.erasures.records.insert(
            customer.clone(),
            ErasureRec {
                erasure: Erasure {
                    erasure_id: erasure_id(customer),
                    customer_id: customer.clone(),
                    state: ErasureState::Pending,
                    requested_at: now,
                    done_at: None,
                    merged_customer_ids: Vec::new(),
                    conversation_ids: Vec::new(),
                },
                inventory: None,
                lease_until,
            },
        );
    }

    fn take_inventory(&self, customer: &CustomerId) -> ErasureInventory {
        let merged = self.merged_into(customer);
        let mut conversations: Vec<ConversationId> = Vec::new();
        for c in std::iter::once(customer).chain(&merged) {
            for conv in self
                .customers
                .get(c)
                .map(|r| &r.conversations)
                .into_iter()
                .flatten()
            {
                if !conversations.contains(conv) {
                    conversations.push(conv.clone());
                }
            }
        }
        ErasureInventory {
            customer: customer.clone(),
            merged,
            conversations,
        }
    }
}

#[async_trait]
impl ErasureStore for MemoryStore {
    async fn begin_erasure(
        &self,
        customer: &CustomerId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Erasure>, StoreError> {
        if !self.format_gate.allows(format::ERASURES) {
            return Err(before_erasures());
        }
        let mut state = self.lock();
        let id = match state.erasures.merged.get(customer) {
            Some(main) => main.clone(),
            None if state.customers.contains_key(customer) => state.live(customer)?,
            None => customer.clone(),
        };
        if let Some(rec) = state.erasures.records.get(&id) {
            return Ok(Some(rec.erasure.clone()));
        }
        if !state.customers.contains_key(&id) {
            return Ok(None);
        }
        state.begin(&id, now, lease_until);
        Ok(state.erasures.records.get(&id).map(|r| r.erasure.clone()))
    }

    async fn erasure(&self, customer: &CustomerId) -> Result<Option<Erasure>, StoreError> {
        let state = self.lock();
        Ok(state
            .erasures
            .records
            .get(customer)
            .map(|r| r.erasure.clone()))
    }

    async fn claim_erasures(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<CustomerId>, StoreError> {
        let mut state = self.lock();
        let mut claimed = Vec::new();
        for (customer, rec) in state.erasures.records.iter_mut() {
            if claimed.len() == limit {
                break;
            }
            if rec.erasure.state == ErasureState::Pending && rec.lease_until <= now {
                rec.lease_until = lease_until;
                claimed.push(customer.clone());
            }
        }
        Ok(claimed)
    }

    async fn erasure_inventory(
        &self,
        customer: &CustomerId,
    ) -> Result<ErasureInventory, StoreError> {
        let mut state = self.lock();
        if let Some(kept) = state
            .erasures
            .records
            .get(customer)
            .and_then(|r| r.inventory.clone())
        {
            return Ok(kept);
        }
        let inventory = state.take_inventory(customer);
        if let Some(rec) = state.erasures.records.get_mut(customer) {
            rec.erasure.merged_customer_ids = inventory.merged.clone();
            rec.erasure.conversation_ids = inventory.conversations.clone();
            rec.inventory = Some(inventory.clone());
        }
        Ok(inventory)
    }

    async fn erase_routing(
        &self,
        inventory: &ErasureInventory,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let mut state = self.lock();
        let mut made = Vec::new();
        for conv in &inventory.conversations {
            let group = state.conv_group(conv);
            made.extend(state.routing.release(&group, conv, now));
            state.waiting_calls.remove(conv);
        }
        state.adopt(&made);
        if let Some(agent) = state
            .customers
            .get_mut(&inventory.customer)
            .and_then(|c| c.personal_agent.take())
        {
            state.routing.drop_from_portfolio(&agent);
        }
        state.routing.forget_events(&|conv| inventory.holds(conv));
        let customers: Vec<String> = inventory.customers().map(ToString::to_string).collect();
        state.forget_customer_feed(&customers);
        state
            .deadlines
            .retain(|(_, conv, _)| !inventory.holds(conv));
        state
            .deadline_at
            .retain(|(conv, _), _| !inventory.holds(conv));
        for customer in inventory.customers() {
            state.follow_ups.remove(customer);
            state.archive_due.remove(customer);
        }
        Ok(made)
    }

    async fn erase_references(&self, inventory: &ErasureInventory) -> Result<(), StoreError> {
        let mut state = self.lock();
        let held = |conv: &Option<ConversationId>, customer: &Option<CustomerId>| {
            conv.as_ref().is_some_and(|c| inventory.holds(c))
                || customer
                    .as_ref()
                    .is_some_and(|c| inventory.customers().any(|e| e == c))
        };
        let calls: Vec<String> = state
            .calls
            .iter()
            .filter(|(_, call)| held(&call.conversation_id, &call.customer_id))
            .map(|(sid, _)| format!("{CALL_DELIVERY_PREFIX}{sid}:"))
            .collect();
        state
            .calls
            .retain(|_, call| !held(&call.conversation_id, &call.customer_id));
        state.threads.retain(|_, conv| !inventory.holds(conv));
        state
            .provider_ids
            .retain(|_, (conv, _)| !inventory.holds(conv));
        // A reply's delivery names its conversation (`<customer>-<n>`), wherever its
        // timeline is now; a call's request names the call.
        let named: Vec<String> = inventory.customers().map(|c| format!("\"{c}-")).collect();
        state.outbox.retain(|id, delivery| {
            !named.iter().any(|n| delivery.body.contains(n.as_str()))
                && !calls.iter().any(|c| id.starts_with(c.as_str()))
        });
        Ok(())
    }

    async fn erase_records(&self, inventory: &ErasureInventory) -> Result<(), StoreError> {
        let mut state = self.lock();
        for customer in inventory.customers() {
            state.customers.remove(customer);
            state.ratings.remove(&RatingsOf::Customer(customer.clone()));
            state
                .erasures
                .merged
                .insert(customer.clone(), inventory.customer.clone());
        }
        state.erasures.merged.remove(&inventory.customer);
        state
            .identities
            .retain(|_, owner| owner != &inventory.customer && !inventory.merged.contains(owner));
        state.conversations.retain(|id, _| !inventory.holds(id));
        Ok(())
    }

    async fn finish_erasure(
        &self,
        inventory: &ErasureInventory,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        // What a relay moved since the routing step, as the Redis store's last scrub.
        let customers: Vec<String> = inventory.customers().map(ToString::to_string).collect();
        state.forget_customer_feed(&customers);
        let Some(rec) = state.erasures.records.get_mut(&inventory.customer) else {
            return Ok(false);
        };
        if rec.erasure.state == ErasureState::Done {
            return Ok(false);
        }
        rec.erasure.state = ErasureState::Done;
        rec.erasure.done_at = Some(now);
        Ok(true)
    }
}
