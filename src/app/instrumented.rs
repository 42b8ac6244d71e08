//! A `Store` decorator that times every operation and counts failures by kind, so the
//! store's (Redis's) latency and errors show up in the metrics without touching either
//! implementation.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::Instrument;

use crate::app::metrics::Metrics;
use crate::domain::{
    AgentId, AgentProfile, AgentView, ConversationId, ConversationView, CustomerId, CustomerView,
    DeadlineKind, Deadlines, Identity, InboundMessage, Message, Presence, Receipt, Requirements,
};
use crate::store::{
    AgentEvent, Assignment, CallRecord, Delivery, DeliveryOutcome, DeliveryState, EventKind, Queue,
    QueuedConversation, Rated, RatingsOf, ReplyOutcome, ResolveOutcome, RoutingSnapshot,
    SavedAgent, Store, StoreError, TransferOutcome, TransferTarget,
};

pub struct Instrumented {
    inner: Arc<dyn Store>,
    metrics: Metrics,
}

impl Instrumented {
    pub fn new(inner: Arc<dyn Store>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(
        &self,
        op: &str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.timed_on(op, "", call).await
    }

    /// Runs one store call in a `store` span named by its operation and the id it touches
    /// (when it names one), timing it and counting its failure by kind.
    async fn timed_on<T>(
        &self,
        op: &str,
        id: &str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let span = tracing::debug_span!("store", op, id);
        let started = Instant::now();
        let result = call.instrument(span).await;
        self.metrics
            .store_seconds
            .with_label_values(&[op])
            .observe(started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            let kind = match e {
                StoreError::Unavailable(_) => "unavailable",
                StoreError::Corrupt(_) => "corrupt",
                StoreError::Contention(_) => "contention",
                StoreError::Conflict(_) => "conflict",
            };
            self.metrics
                .store_errors
                .with_label_values(&[op, kind])
                .inc();
        }
        result
    }
}

#[async_trait]
impl Store for Instrumented {
    async fn ingest(
        &self,
        msg: &InboundMessage,
        now: DateTime<Utc>,
    ) -> Result<Receipt, StoreError> {
        self.timed_on(
            "ingest",
            &msg.idempotency_key(),
            self.inner.ingest(msg, now),
        )
        .await
    }

    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerView>, StoreError> {
        self.timed_on("customer", id.as_str(), self.inner.customer(id))
            .await
    }

    async fn set_tier(
        &self,
        id: &CustomerId,
        tier: &str,
    ) -> Result<Option<CustomerView>, StoreError> {
        self.timed("set_tier", self.inner.set_tier(id, tier)).await
    }

    async fn customer_by_identity(
        &self,
        identity: &Identity,
    ) -> Result<Option<CustomerView>, StoreError> {
        self.timed(
            "customer_by_identity",
            self.inner.customer_by_identity(identity),
        )
        .await
    }

    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, StoreError> {
        self.timed_on("conversation", &id.to_string(), self.inner.conversation(id))
            .await
    }

    async fn resolve(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<ResolveOutcome, StoreError> {
        self.timed_on("resolve", &id.to_string(), self.inner.resolve(id, now))
            .await
    }

    async fn put_agent(
        &self,
        profile: &AgentProfile,
        now: DateTime<Utc>,
    ) -> Result<SavedAgent, StoreError> {
        self.timed("put_agent", self.inner.put_agent(profile, now))
            .await
    }

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentView>, StoreError> {
        self.timed("agent", self.inner.agent(id)).await
    }

    async fn agents(&self) -> Result<Vec<AgentView>, StoreError> {
        self.timed("agents", self.inner.agents()).await
    }

    async fn held(&self, agent: &AgentId) -> Result<Vec<ConversationId>, StoreError> {
        self.timed("held", self.inner.held(agent)).await
    }

    async fn set_presence(
        &self,
        id: &AgentId,
        presence: Presence,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        self.timed("set_presence", self.inner.set_presence(id, presence, now))
            .await
    }

    async fn delete_agent(
        &self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        self.timed("delete_agent", self.inner.delete_agent(id, now))
            .await
    }

    async fn fire_timers(&self, now: DateTime<Utc>) -> Result<Vec<Assignment>, StoreError> {
        self.timed("fire_timers", self.inner.fire_timers(now)).await
    }

    async fn add_reply(
        &self,
        id: &ConversationId,
        message: &Message,
        now: DateTime<Utc>,
    ) -> Result<ReplyOutcome, StoreError> {
        self.timed("add_reply", self.inner.add_reply(id, message, now))
            .await
    }

    async fn transfer(
        &self,
        id: &ConversationId,
        to: &TransferTarget,
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError> {
        self.timed_on(
            "transfer",
            &id.to_string(),
            self.inner.transfer(id, to, now),
        )
        .await
    }

    async fn push_event(
        &self,
        agent: &AgentId,
        kind: EventKind,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        self.timed(
            "push_event",
            self.inner.push_event(agent, kind, conversation),
        )
        .await
    }

    async fn agent_events(
        &self,
        agent: &AgentId,
        after: &str,
        limit: usize,
    ) -> Result<Vec<AgentEvent>, StoreError> {
        self.timed("agent_events", self.inner.agent_events(agent, after, limit))
            .await
    }

    async fn last_event_id(&self, agent: &AgentId) -> Result<String, StoreError> {
        self.timed("last_event_id", self.inner.last_event_id(agent))
            .await
    }

    async fn newest_events(
        &self,
        cursors: &[(AgentId, String)],
        limit: usize,
    ) -> Result<Vec<(AgentId, String)>, StoreError> {
        self.timed("newest_events", self.inner.newest_events(cursors, limit))
            .await
    }

    async fn call(&self, external_id: &str) -> Result<Option<CallRecord>, StoreError> {
        self.timed_on("call", external_id, self.inner.call(external_id))
            .await
    }

    async fn save_call(&self, call: &CallRecord) -> Result<(), StoreError> {
        self.timed_on("save_call", &call.external_id, self.inner.save_call(call))
            .await
    }

    async fn set_requirements(
        &self,
        id: &ConversationId,
        requirements: &Requirements,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        self.timed_on(
            "set_requirements",
            &id.to_string(),
            self.inner.set_requirements(id, requirements, now),
        )
        .await
    }

    async fn queued(
        &self,
        queue: &Queue,
        limit: usize,
    ) -> Result<Vec<QueuedConversation>, StoreError> {
        self.timed("queued", self.inner.queued(queue, limit)).await
    }

    async fn schedule_deadlines(
        &self,
        conv: &ConversationId,
        due: &Deadlines,
    ) -> Result<(), StoreError> {
        self.timed(
            "schedule_deadlines",
            self.inner.schedule_deadlines(conv, due),
        )
        .await
    }

    async fn clear_deadlines(
        &self,
        conv: &ConversationId,
        kinds: &[DeadlineKind],
    ) -> Result<(), StoreError> {
        self.timed("clear_deadlines", self.inner.clear_deadlines(conv, kinds))
            .await
    }

    async fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ConversationId, DeadlineKind)>, StoreError> {
        self.timed("due_deadlines", self.inner.due_deadlines(now, limit))
            .await
    }

    async fn schedule_follow_up(
        &self,
        customer: &CustomerId,
        at: DateTime<Utc>,
        replace: bool,
    ) -> Result<(), StoreError> {
        self.timed(
            "schedule_follow_up",
            self.inner.schedule_follow_up(customer, at, replace),
        )
        .await
    }

    async fn cancel_follow_up(&self, customer: &CustomerId) -> Result<bool, StoreError> {
        self.timed("cancel_follow_up", self.inner.cancel_follow_up(customer))
            .await
    }

    async fn follow_up(&self, customer: &CustomerId) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.timed("follow_up", self.inner.follow_up(customer))
            .await
    }

    async fn due_follow_ups(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<CustomerId>, StoreError> {
        self.timed("due_follow_ups", self.inner.due_follow_ups(now, limit))
            .await
    }

    async fn set_open_complaint(
        &self,
        customer: &CustomerId,
        conv: Option<&ConversationId>,
    ) -> Result<(), StoreError> {
        self.timed(
            "set_open_complaint",
            self.inner.set_open_complaint(customer, conv),
        )
        .await
    }

    async fn raise_priority(&self, conv: &ConversationId, floor: u8) -> Result<bool, StoreError> {
        self.timed("raise_priority", self.inner.raise_priority(conv, floor))
            .await
    }

    async fn rate(
        &self,
        conv: &ConversationId,
        source: &str,
        rating: u8,
        now: DateTime<Utc>,
    ) -> Result<Option<Rated>, StoreError> {
        self.timed("rate", self.inner.rate(conv, source, rating, now))
            .await
    }

    async fn recent_ratings(&self, of: &RatingsOf) -> Result<Vec<u8>, StoreError> {
        self.timed("recent_ratings", self.inner.recent_ratings(of))
            .await
    }

    async fn set_waiting_call(
        &self,
        conv: &ConversationId,
        external_id: &str,
    ) -> Result<(), StoreError> {
        self.timed(
            "set_waiting_call",
            self.inner.set_waiting_call(conv, external_id),
        )
        .await
    }

    async fn take_waiting_call(&self, conv: &ConversationId) -> Result<Option<String>, StoreError> {
        self.timed("take_waiting_call", self.inner.take_waiting_call(conv))
            .await
    }

    async fn release(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        self.timed_on("release", &id.to_string(), self.inner.release(id, now))
            .await
    }

    async fn record_thread(
        &self,
        message_id: &str,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        self.timed_on(
            "record_thread",
            message_id,
            self.inner.record_thread(message_id, conversation),
        )
        .await
    }

    async fn thread(&self, message_id: &str) -> Result<Option<ConversationId>, StoreError> {
        self.timed_on("thread", message_id, self.inner.thread(message_id))
            .await
    }

    async fn enqueue_delivery(
        &self,
        id: &str,
        url: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.timed_on(
            "enqueue_delivery",
            id,
            self.inner.enqueue_delivery(id, url, body, now),
        )
        .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.timed(
            "claim_deliveries",
            self.inner.claim_deliveries(now, lease_until, limit),
        )
        .await
    }

    async fn finish_delivery(&self, id: &str, outcome: &DeliveryOutcome) -> Result<(), StoreError> {
        self.timed_on(
            "finish_delivery",
            id,
            self.inner.finish_delivery(id, outcome),
        )
        .await
    }

    async fn delivery_state(&self, id: &str) -> Result<Option<DeliveryState>, StoreError> {
        self.timed_on("delivery_state", id, self.inner.delivery_state(id))
            .await
    }

    async fn snapshot(&self) -> Result<RoutingSnapshot, StoreError> {
        self.timed("snapshot", self.inner.snapshot()).await
    }

    fn placement_mismatches(&self) -> u64 {
        self.inner.placement_mismatches()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.inner.ping()).await
    }

    async fn count_request(
        &self,
        bucket: &str,
        n: u64,
        window: std::time::Duration,
    ) -> Result<(u64, std::time::Duration), StoreError> {
        self.timed("count_request", self.inner.count_request(bucket, n, window))
            .await
    }
}
