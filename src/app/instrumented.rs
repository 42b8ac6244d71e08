//! A `Store` decorator that times every operation and counts failures by kind, so the
//! store's (Redis's) latency and errors show up in the metrics without touching either
//! implementation. Generated from the store's list of operations (`store::roles`), so a
//! new operation is timed without a line here.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::Instrument;

use crate::app::metrics::Metrics;
use crate::domain::feed::{FeedEvent, PendingEvent};
use crate::domain::{
    AgentId, AgentProfile, AgentView, AuditEntry, ConversationId, ConversationView, CustomerId,
    CustomerView, DeadlineKind, Deadlines, Identity, InboundMessage, Message, MessageId, Presence,
    Queue, Receipt, ReplyDelivery, Requirements,
};
use crate::store::erasure::{Erasure, ErasureInventory};
use crate::store::feed_relay::{FeedClaim, FeedMoved, FeedNote};
use crate::store::format::{FinalizeOutcome, FormatStatus, ReplicaFormat, StorageFormat};
use crate::store::retention::{Archivable, ArchiveCandidate, ArchiveClaim};
use crate::store::{
    for_each_operation, AgentEvent, AgentStore, ArchiveStore, Assignment, AuditStore, BlockStore,
    CallRecord, CallStore, ConversationStore, CredentialStore, CustomerStore, Delivery,
    DeliveryOutcome, DeliveryState, ErasureStore, EventKind, EventStore, FeedStore, FeedbackStore,
    OpsStore, OutboxStore, PrivacyStore, QueuedConversation, Rated, RatingsOf, ReplyOutcome,
    ResolveOutcome, RoutingSnapshot, RoutingStore, SavedAgent, ScheduleStore, Store, StoreError,
    TransferOutcome, TransferTarget, UpgradeStore,
};

pub struct Instrumented {
    inner: Arc<dyn Store>,
    metrics: Metrics,
}

impl Instrumented {
    pub fn new(inner: Arc<dyn Store>, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }

    /// Runs one store call in a `store` span named by its operation and the id it touches
    /// (when it names one), timing it and counting its failure by kind.
    async fn timed<T>(
        &self,
        op: &str,
        id: &(dyn Display + Sync),
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let span = tracing::debug_span!("store", op, id = %id);
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

/// Each role's operations, forwarded to the inner store through `Instrumented::timed`.
macro_rules! instrument {
    ($(
        $(#[$role_doc:meta])*
        $role:ident {
            $(
                $(#[$doc:meta])*
                fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $answer:ty $(=> $span:expr)?;
            )*
        }
    )*) => {
        $(
            #[async_trait]
            impl $role for Instrumented {
                $(
                    async fn $name(&self, $($arg: $ty),*) -> Result<$answer, StoreError> {
                        let id = &instrument!(@id $($span)?);
                        self.timed(stringify!($name), &id, self.inner.$name($($arg),*)).await
                    }
                )*
            }
        )*
    };
    (@id) => { "" };
    (@id $span:expr) => { $span };
}

for_each_operation!(instrument);

impl Store for Instrumented {
    fn placement_mismatches(&self) -> u64 {
        self.inner.placement_mismatches()
    }
}
