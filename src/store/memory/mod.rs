//! The embedded, in-memory store: one process, nothing durable. It exists for the
//! zero-setup quick start and fast tests, and keeps exactly the Redis store's semantics.
//!
//! One mutex guards the whole state. It is never held across an `.await`, so callers
//! wait microseconds at most; a merge touches several customers at once, and a single
//! lock is what makes it atomic here, as the Lua scripts do in Redis.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    merge_target, next_step, AgentId, AgentProfile, AgentView, Channel, ConversationId,
    ConversationState, ConversationStep, ConversationView, CustomerId, CustomerView, EntryKind,
    Identity, InboundMessage, Message, Presence, Receipt, DEFAULT_TIER,
};
use crate::routing::priority;
use crate::routing::{Request, Routing};
use crate::store::records::{inbound_record, sort_timeline};
use crate::store::{
    AgentEvent, Assignment, CallRecord, Delivery, DeliveryOutcome, DeliveryState, ReplyOutcome,
    ResolveOutcome, RoutingSnapshot, SavedAgent, Store, StoreError, StorePolicy, TransferOutcome,
    TransferTarget, MAX_HOPS,
};

#[derive(Debug)]
struct CustomerRec {
    created_at: DateTime<Utc>,
    display_name: Option<String>,
    tier: String,
    personal_agent: Option<AgentId>,
    identities: BTreeSet<Identity>,
    conversations: Vec<ConversationId>,
    open: Option<u64>,
    last: Option<u64>,
    seq: u64,
    merged_into: Option<CustomerId>,
    /// Idempotency key → first receipt and when it expires.
    dedup: HashMap<String, (Receipt, DateTime<Utc>)>,
}

impl CustomerRec {
    fn new(now: DateTime<Utc>) -> Self {
        Self {
            created_at: now,
            display_name: None,
            tier: DEFAULT_TIER.to_owned(),
            personal_agent: None,
            identities: BTreeSet::new(),
            conversations: Vec::new(),
            open: None,
            last: None,
            seq: 0,
            merged_into: None,
            dedup: HashMap::new(),
        }
    }
}

#[derive(Debug)]
struct ConvRec {
    state: ConversationState,
    created_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    repeat_contacts: u32,
    first_response_at: Option<DateTime<Utc>>,
    channels: BTreeSet<Channel>,
    messages: Vec<Message>,
    absorbed: Vec<ConversationId>,
}

impl ConvRec {
    fn new(now: DateTime<Utc>) -> Self {
        Self {
            state: ConversationState::Open,
            created_at: now,
            resolved_at: None,
            repeat_contacts: 0,
            first_response_at: None,
            channels: BTreeSet::new(),
            messages: Vec::new(),
            absorbed: Vec::new(),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    identities: HashMap<Identity, CustomerId>,
    customers: HashMap<CustomerId, CustomerRec>,
    conversations: HashMap<ConversationId, ConvRec>,
    routing: Routing,
    /// Calls by provider id (not expired: the embedded store lives one process).
    calls: HashMap<String, CallRecord>,
    /// E-mail Message-IDs → their conversation.
    threads: HashMap<String, ConversationId>,
    outbox: HashMap<String, OutboxRec>,
}

#[derive(Debug)]
struct OutboxRec {
    url: String,
    body: String,
    attempts: u32,
    state: String,
    error: Option<String>,
    /// When it is next due; `None` once delivered or given up.
    due: Option<DateTime<Utc>>,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    policy: StorePolicy,
    /// Rate-limit windows: bucket → (requests, window end). Apart from `state`, so a
    /// limit check never waits for routing.
    windows: Mutex<HashMap<String, (u64, std::time::Instant)>>,
}

impl MemoryStore {
    pub fn new(policy: StorePolicy) -> Self {
        Self {
            state: Mutex::default(),
            policy,
            windows: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change worth
        // refusing service over in a non-durable store; carry on with the data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    /// Follows merge pointers to the customer that holds `id`'s data now.
    fn live(&self, id: &CustomerId) -> Result<CustomerId, StoreError> {
        let mut id = id.clone();
        for _ in 0..MAX_HOPS {
            match self.customers.get(&id).and_then(|c| c.merged_into.clone()) {
                Some(next) => id = next,
                None => return Ok(id),
            }
        }
        Err(StoreError::Contention(format!(
            "merge chain from {id} too long"
        )))
    }

    fn customer_mut(&mut self, id: &CustomerId) -> Result<&mut CustomerRec, StoreError> {
        self.customers
            .get_mut(id)
            .ok_or_else(|| StoreError::Corrupt(format!("customer {id} missing")))
    }

    fn start_conversation(
        &mut self,
        cid: &CustomerId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let c = self.customer_mut(cid)?;
        c.seq += 1;
        let seq = c.seq;
        let id = ConversationId::new(cid.clone(), seq);
        c.conversations.push(id.clone());
        c.open = Some(seq);
        c.last = Some(seq);
        self.conversations.insert(id, ConvRec::new(now));
        Ok(seq)
    }

    /// Moves `source`'s identities, history and open conversation into `target`.
    fn merge(
        &mut self,
        source: &CustomerId,
        target: &CustomerId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut src = self
            .customers
            .remove(source)
            .ok_or_else(|| StoreError::Corrupt(format!("customer {source} missing")))?;
        let src_open = src
            .open
            .take()
            .map(|seq| ConversationId::new(source.clone(), seq));
        if let Some(open) = &src_open {
            if let Some(conv) = self.conversations.get_mut(open) {
                conv.state = ConversationState::Resolved;
                conv.resolved_at = Some(now);
            }
            // Its timeline joins the survivor's conversation, which routing owns now.
            self.routing.release(open, now);
        }
        for identity in &src.identities {
            self.identities.insert(identity.clone(), target.clone());
        }
        let t = self.customer_mut(target)?;
        t.identities.extend(src.identities.iter().cloned());
        for conv in &src.conversations {
            if !t.conversations.contains(conv) {
                t.conversations.push(conv.clone());
            }
        }
        for (key, entry) in src.dedup.drain() {
            t.dedup.entry(key).or_insert(entry);
        }
        t.personal_agent = t.personal_agent.take().or(src.personal_agent.take());
        t.display_name = t.display_name.take().or(src.display_name.take());
        let t_open = t.open;
        if let Some(absorbed) = src_open {
            let seq = match t_open {
                Some(seq) => seq,
                None => self.start_conversation(target, now)?,
            };
            let conv = ConversationId::new(target.clone(), seq);
            if let Some(c) = self.conversations.get_mut(&conv) {
                c.absorbed.push(absorbed);
            }
        }
        src.merged_into = Some(target.clone());
        self.customers.insert(source.clone(), src);
        Ok(())
    }

    /// Finds (or creates) the one customer all of `identities` belong to, merging as needed.
    fn stitch(
        &mut self,
        identities: &[Identity],
        now: DateTime<Utc>,
    ) -> Result<CustomerId, StoreError> {
        let mut owners = BTreeSet::new();
        for identity in identities {
            if let Some(owner) = self.identities.get(identity) {
                owners.insert(self.live(owner)?);
            }
        }
        let fresh = CustomerId::generate();
        let target = merge_target(owners.iter(), &fresh);
        self.customers
            .entry(target.clone())
            .or_insert_with(|| CustomerRec::new(now));
        for other in owners.iter().filter(|o| **o != target) {
            self.merge(other, &target, now)?;
        }
        for identity in identities {
            self.identities.insert(identity.clone(), target.clone());
        }
        self.customer_mut(&target)?
            .identities
            .extend(identities.iter().cloned());
        Ok(target)
    }

    fn conversation_for(
        &mut self,
        cid: &CustomerId,
        now: DateTime<Utc>,
        policy: &StorePolicy,
    ) -> Result<(u64, bool), StoreError> {
        let c = self.customer_mut(cid)?;
        let last_resolved = c.last.and_then(|seq| {
            let conv = self
                .conversations
                .get(&ConversationId::new(cid.clone(), seq))?;
            Some((seq, conv.resolved_at?))
        });
        let open = self.customers.get(cid).and_then(|c| c.open);
        match next_step(open, last_resolved, now, policy.reopen_window) {
            ConversationStep::Append(seq) => Ok((seq, false)),
            ConversationStep::Reopen(seq) => {
                if let Some(conv) = self
                    .conversations
                    .get_mut(&ConversationId::new(cid.clone(), seq))
                {
                    conv.state = ConversationState::Open;
                    conv.resolved_at = None;
                    conv.repeat_contacts += 1;
                }
                self.customer_mut(cid)?.open = Some(seq);
                Ok((seq, true))
            }
            ConversationStep::Start => Ok((self.start_conversation(cid, now)?, false)),
        }
    }

    /// Routes the conversation (or answers where it stands), recording a newly chosen
    /// personal agent on the customer.
    fn route(
        &mut self,
        cid: &CustomerId,
        conv: &ConversationId,
        channel: Channel,
        repeat: bool,
        now: DateTime<Utc>,
        policy: &StorePolicy,
    ) -> Result<crate::domain::Route, StoreError> {
        let State {
            customers, routing, ..
        } = self;
        let customer = customers
            .get_mut(cid)
            .ok_or_else(|| StoreError::Corrupt(format!("customer {cid} missing")))?;
        let request = Request {
            conversation: conv,
            channel,
            priority: priority(&customer.tier, repeat, channel),
            tier: &customer.tier,
            personal_agent: &mut customer.personal_agent,
        };
        Ok(routing.route(request, now, policy).0)
    }

    fn customer_view(&self, id: &CustomerId) -> Result<Option<CustomerView>, StoreError> {
        if !self.customers.contains_key(id) {
            return Ok(None);
        }
        let id = self.live(id)?;
        let Some(c) = self.customers.get(&id) else {
            return Ok(None);
        };
        Ok(Some(CustomerView {
            id: id.clone(),
            display_name: c.display_name.clone(),
            identities: c.identities.iter().cloned().collect(),
            tier: c.tier.clone(),
            personal_agent_id: c
                .personal_agent
                .as_ref()
                .filter(|a| self.routing.agent(a).is_some())
                .map(ToString::to_string),
            open_conversation_id: c.open.map(|seq| ConversationId::new(id.clone(), seq)),
            conversation_ids: c.conversations.clone(),
            created_at: c.created_at,
        }))
    }

    /// Messages of `id` and of every conversation merged into it, depth-first.
    fn timeline(
        &self,
        id: &ConversationId,
        depth: usize,
        out: &mut Vec<Message>,
        channels: &mut BTreeSet<Channel>,
    ) {
        let Some(conv) = self.conversations.get(id) else {
            return;
        };
        out.extend(conv.messages.iter().cloned());
        channels.extend(conv.channels.iter().copied());
        if depth < MAX_HOPS {
            for absorbed in &conv.absorbed {
                self.timeline(absorbed, depth + 1, out, channels);
            }
        }
    }
}

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
                let route = state.routing.current(&receipt.conversation_id);
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
        let route = state.route(
            &cid,
            &conv_id,
            msg.medium().channel(),
            repeat,
            now,
            &self.policy,
        )?;
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
        let state = self.lock();
        let Some(conv) = state.conversations.get(id) else {
            return Ok(None);
        };
        let Some(customer) = state.customer_view(id.customer())? else {
            return Ok(None);
        };
        let mut messages = Vec::new();
        let mut channels = BTreeSet::new();
        state.timeline(id, 0, &mut messages, &mut channels);
        sort_timeline(&mut messages);
        let route = state.routing.current(id);
        Ok(Some(ConversationView {
            id: id.clone(),
            customer,
            state: conv.state,
            agent_id: route.as_ref().and_then(|r| r.agent_id.clone()),
            queue: route.as_ref().and_then(|r| r.queue.clone()),
            route,
            channels: channels.into_iter().collect(),
            repeat_contacts: conv.repeat_contacts,
            merged_conversation_ids: conv.absorbed.clone(),
            created_at: conv.created_at,
            resolved_at: conv.resolved_at,
            messages,
        }))
    }

    async fn resolve(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<ResolveOutcome, StoreError> {
        let mut state = self.lock();
        let Some(conv) = state.conversations.get_mut(id) else {
            return Ok(ResolveOutcome::NotFound);
        };
        if conv.state == ConversationState::Resolved {
            return Ok(ResolveOutcome::AlreadyResolved);
        }
        conv.state = ConversationState::Resolved;
        conv.resolved_at = Some(now);
        let customer = state.customer_mut(id.customer())?;
        if customer.open == Some(id.seq()) {
            customer.open = None;
        }
        Ok(ResolveOutcome::Resolved(state.routing.release(id, now)))
    }

    async fn put_agent(
        &self,
        profile: &AgentProfile,
        now: DateTime<Utc>,
    ) -> Result<SavedAgent, StoreError> {
        let (view, created, assignments) = self.lock().routing.put_agent(profile.clone(), now);
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

    async fn set_presence(
        &self,
        id: &AgentId,
        presence: Presence,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        let grace = self.policy.offline_grace;
        Ok(self.lock().routing.set_presence(id, presence, now, grace))
    }

    async fn fire_timers(&self, now: DateTime<Utc>) -> Result<Vec<Assignment>, StoreError> {
        Ok(self.lock().routing.fire_timers(now))
    }

    async fn delete_agent(
        &self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        Ok(self.lock().routing.delete_agent(id, now))
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
        kind: &str,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        self.lock()
            .routing
            .event(agent, kind, conversation, "", None);
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

    async fn transfer(
        &self,
        id: &ConversationId,
        to: &TransferTarget,
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError> {
        Ok(self.lock().routing.transfer(id, to, now))
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

    async fn release(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        Ok(self.lock().routing.release(id, now))
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
        let record = OutboxRec {
            url: url.to_owned(),
            body: body.to_owned(),
            attempts: 0,
            state: "pending".into(),
            error: None,
            due: Some(now),
        };
        self.lock().outbox.entry(id.to_owned()).or_insert(record);
        Ok(())
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
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
        Ok(out)
    }

    async fn finish_delivery(&self, id: &str, outcome: &DeliveryOutcome) -> Result<(), StoreError> {
        if let Some(d) = self.lock().outbox.get_mut(id) {
            match outcome {
                DeliveryOutcome::Delivered => (d.state, d.due) = ("delivered".into(), None),
                DeliveryOutcome::Retry { at, error } => {
                    (d.error, d.due) = (Some(error.clone()), Some(*at))
                }
                DeliveryOutcome::Failed { error } => {
                    (d.state, d.error, d.due) = ("failed".into(), Some(error.clone()), None)
                }
            }
        }
        Ok(())
    }

    async fn delivery_state(&self, id: &str) -> Result<Option<DeliveryState>, StoreError> {
        Ok(self.lock().outbox.get(id).map(|d| DeliveryState {
            state: d.state.clone(),
            attempts: d.attempts,
            last_error: d.error.clone(),
        }))
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
        entry.0 += 1;
        Ok((entry.0, entry.1 - now))
    }
}
