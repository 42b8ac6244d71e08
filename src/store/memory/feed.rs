//! The event feed in the embedded store: each routing group's shard, kept by the
//! reference engine where the change is made; and the customer side as the Redis store
//! keeps it (`store::feed_relay`): events pending per customer, written under the same
//! lock as their change, which the relay moves to the customer-side shards. One lock
//! makes every step atomic, so nothing needs announcing: every customer with pending
//! events is due.

use std::collections::{HashMap, VecDeque};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{MemoryStore, State};
use crate::domain::facts::RecordedMilestones;
use crate::domain::feed::{
    customer_shard_name, names_customer, parse_customer_shard, seq_parts, FeedEvent, FeedType,
    PendingEvent, CUSTOMER_SHARDS,
};
use crate::domain::{Channel, ConversationId, CustomerId};
use crate::store::feed_relay::{FeedClaim, FeedMoved, FeedNote, NoteEffect};
use crate::store::{FeedStore, StoreError};
use serde_json::json;

/// The customer side: pending events per customer (and each customer's last number),
/// and the shards they are relayed to.
#[derive(Debug, Default)]
pub(super) struct CustomerFeed {
    pending: HashMap<CustomerId, VecDeque<PendingEvent>>,
    /// Sinks' cursors by name.
    cursors: HashMap<String, String>,
    numbered: HashMap<CustomerId, u64>,
    shards: HashMap<u32, Shard>,
}

/// One customer-side shard, numbered as a Redis stream numbers its entries.
#[derive(Debug, Default)]
struct Shard {
    entries: VecDeque<FeedEvent>,
    last: (u64, u64),
}

impl State {
    /// Appends a customer-side event to the customer's pending ones (`customer_feed` in
    /// `lua/feed/customer.lua`).
    pub(super) fn customer_feed(
        &mut self,
        customer: &CustomerId,
        kind: FeedType,
        subject: &str,
        at: DateTime<Utc>,
        data: serde_json::Value,
    ) {
        let n = self.feed.numbered.entry(customer.clone()).or_insert(0);
        *n += 1;
        let event = PendingEvent {
            n: *n,
            kind: kind.as_str().to_owned(),
            subject: subject.to_owned(),
            at: at.timestamp_millis(),
            data,
        };
        self.feed
            .pending
            .entry(customer.clone())
            .or_default()
            .push_back(event);
    }

    /// `conversation.opened`, or `.reopened` (with its repeat contacts), as `ingest.lua`
    /// writes them.
    pub(super) fn opened_event(
        &mut self,
        conv: &ConversationId,
        channel: Channel,
        reopened: Option<u32>,
        now: DateTime<Utc>,
    ) {
        let customer = conv.customer().clone();
        let (kind, data) = match reopened {
            Some(n) => (
                FeedType::ConversationReopened,
                json!({"conversation_id": conv.to_string(), "customer_id": customer.as_str(),
                    "channel": channel.as_str(), "reopened": n}),
            ),
            None => (
                FeedType::ConversationOpened,
                json!({"conversation_id": conv.to_string(), "customer_id": customer.as_str(),
                    "channel": channel.as_str(), "group": self.conv_group(conv).as_str()}),
            ),
        };
        self.customer_feed(&customer, kind, &conv.to_string(), now, data);
    }

    /// `conversation.resolved` with the milestones its facts are computed from, as
    /// `resolve.lua` writes it (before the resolve changes the conversation).
    pub(super) fn resolved_event(&mut self, conv: &ConversationId, now: DateTime<Utc>) {
        let Some(rec) = self.conversations.get(conv) else {
            return;
        };
        let customer = self.customers.get(conv.customer());
        let group = self.conv_group(conv);
        let facts = self.routing.assignment_facts(conv);
        let held = self.routing.current(&group, conv).and_then(|r| r.agent_id);
        let recorded = RecordedMilestones {
            conversation_id: conv.to_string(),
            customer_id: conv.customer().to_string(),
            waiting_since: rec.created_at.timestamp_millis(),
            first_assigned_at: facts.first.as_ref().map(|(at, _)| at.timestamp_millis()),
            first_agent: facts.first.map(|(_, a)| a.to_string()),
            first_response_at: rec.first_response_at.map(|t| t.timestamp_millis()),
            resolved_at: now.timestamp_millis(),
            transfers: facts.transfers,
            channels: rec.channels.iter().map(|c| c.as_str().to_owned()).collect(),
            agent_id: held.map(|a| a.to_string()),
            personal_agent_id: customer
                .and_then(|c| c.personal_agent.as_ref())
                .map(ToString::to_string),
            csat: rec.last_rating,
            complaint: rec.complained
                || customer.is_some_and(|c| c.complaint.as_ref() == Some(conv)),
            reopened: rec.repeat_contacts,
            group: group.as_str().to_owned(),
        };
        let data = serde_json::to_value(&recorded).unwrap_or_default();
        self.customer_feed(
            &conv.customer().clone(),
            FeedType::ConversationResolved,
            &conv.to_string(),
            now,
            data,
        );
    }

    /// Drops an erased customer's pending events and every shard's entries about them.
    pub(super) fn forget_customer_feed(&mut self, customers: &[String]) {
        for c in customers {
            if let Ok(id) = c.parse::<CustomerId>() {
                self.feed.pending.remove(&id);
            }
        }
        let names = |v: &str| customers.iter().any(|c| names_customer(v, c));
        for shard in self.feed.shards.values_mut() {
            shard.entries.retain(|e| {
                e.kind == FeedType::CustomerErased
                    || !(names(&e.subject)
                        || e.id.as_deref().is_some_and(names)
                        || names(&e.data.to_string()))
            });
        }
    }
}

impl Shard {
    fn append(&mut self, mut event: FeedEvent, name: &str) {
        let ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
        self.last = match ms > self.last.0 {
            true => (ms, 0),
            false => (self.last.0, self.last.1 + 1),
        };
        event.shard = name.to_owned();
        event.seq = format!("{}-{}", self.last.0, self.last.1);
        self.entries.push_back(event);
    }
}

#[async_trait]
impl FeedStore for MemoryStore {
    async fn feed_shards(&self) -> Result<Vec<String>, StoreError> {
        let mut shards = self.lock().routing.feed_shards();
        shards.extend((0..CUSTOMER_SHARDS).map(customer_shard_name));
        Ok(shards)
    }

    async fn feed_after(
        &self,
        shard: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let state = self.lock();
        let Some(k) = parse_customer_shard(shard) else {
            return Ok(state.routing.feed_after(shard, after, limit));
        };
        let after = seq_parts(after).unwrap_or((0, 0));
        Ok(state.feed.shards.get(&k).map_or_else(Vec::new, |s| {
            s.entries
                .iter()
                .filter(|e| seq_parts(&e.seq).is_some_and(|p| p > after))
                .take(limit)
                .cloned()
                .collect()
        }))
    }

    async fn trim_feed(&self, before: DateTime<Utc>) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.routing.trim_feed(before);
        let before = u64::try_from(before.timestamp_millis()).unwrap_or(0);
        for shard in state.feed.shards.values_mut() {
            shard
                .entries
                .retain(|e| seq_parts(&e.seq).is_some_and(|(ms, _)| ms >= before));
        }
        Ok(())
    }

    async fn claim_feed_due(
        &self,
        _announced_before: DateTime<Utc>,
        _until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<FeedClaim>, StoreError> {
        let state = self.lock();
        Ok(state
            .feed
            .pending
            .iter()
            .filter(|(_, events)| !events.is_empty())
            .take(limit)
            .map(|(customer, _)| FeedClaim {
                customer: customer.clone(),
                leased: 0,
            })
            .collect())
    }

    async fn pending_feed(
        &self,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<Vec<PendingEvent>, StoreError> {
        let state = self.lock();
        Ok(state
            .feed
            .pending
            .get(customer)
            .map_or_else(Vec::new, |p| p.iter().take(limit).cloned().collect()))
    }

    async fn append_feed(&self, shard: u32, events: &[FeedEvent]) -> Result<(), StoreError> {
        let mut state = self.lock();
        let name = customer_shard_name(shard);
        let log = state.feed.shards.entry(shard).or_default();
        for e in events {
            log.append(e.clone(), &name);
        }
        Ok(())
    }

    async fn settle_feed(
        &self,
        _shard: u32,
        moved: &[FeedMoved],
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        for m in moved {
            if let Some(pending) = state.feed.pending.get_mut(&m.claim.customer) {
                pending.retain(|e| e.n > m.through);
                if pending.is_empty() {
                    state.feed.pending.remove(&m.claim.customer);
                }
            }
        }
        Ok(())
    }

    async fn note_feed(&self, customer: &CustomerId, note: &FeedNote) -> Result<(), StoreError> {
        let mut state = self.lock();
        // An erased customer records nothing (as `note.lua`).
        if !state.customers.contains_key(customer) || state.erasing(customer) {
            return Ok(());
        }
        if let NoteEffect::OpenComplaint(conv) = &note.effect {
            state.customer_mut(customer)?.complaint = Some(conv.clone());
            if let Some(rec) = state.conversations.get_mut(conv) {
                rec.complained = true;
            }
        }
        state.customer_feed(
            customer,
            note.kind,
            &note.subject,
            note.at,
            note.data.clone(),
        );
        Ok(())
    }

    async fn export_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().feed.cursors.get(name).cloned())
    }

    async fn advance_export_cursor(
        &self,
        name: &str,
        from: Option<&str>,
        to: &str,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        if state.feed.cursors.get(name).map(String::as_str) != from {
            return Ok(false);
        }
        state.feed.cursors.insert(name.to_owned(), to.to_owned());
        Ok(true)
    }
}
