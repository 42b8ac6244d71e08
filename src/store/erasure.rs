//! What a customer's erasure (`app::erasure`) asks of a store: its record, which outlives
//! the customer (the only place besides the audit trail that still names them), and
//! what the saga removes at each step.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{ConversationId, CustomerId};
use crate::store::StoreError;

/// Why an erasure cannot start before the deployment writes `format::ERASURES`.
pub fn before_erasures() -> StoreError {
    super::format::before_finalize("erasures need")
}

/// The prefix of an erasure's id: `er-<customer id>`, so that a second request for the
/// same customer finds the same erasure without an index.
const ID_PREFIX: &str = "er-";

/// An erasure's id, made from the erased customer's.
pub fn erasure_id(customer: &CustomerId) -> String {
    format!("{ID_PREFIX}{customer}")
}

/// The customer an erasure id names, if it is one.
pub fn erased_customer(erasure_id: &str) -> Option<CustomerId> {
    erasure_id.strip_prefix(ID_PREFIX)?.parse().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureState {
    /// Requested: the customer is unreachable; their traces are being removed.
    Pending,
    /// Nothing of the customer is left anywhere.
    Done,
}

impl ErasureState {
    pub fn as_str(self) -> &'static str {
        match self {
            ErasureState::Pending => "pending",
            ErasureState::Done => "done",
        }
    }
}

/// An erasure as `GET /v1/erasures/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Erasure {
    pub erasure_id: String,
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    pub state: ErasureState,
    pub requested_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done_at: Option<DateTime<Utc>>,
    /// Customers merged into this one, erased with it.
    #[schema(value_type = Vec<String>)]
    pub merged_customer_ids: Vec<CustomerId>,
    /// The conversations erased (their ids only).
    #[schema(value_type = Vec<String>)]
    pub conversation_ids: Vec<ConversationId>,
}

/// Everything an erasure removes, named by id only: the customer, those merged into them
/// (at any depth) and every conversation of theirs in the store or the archive. Taken once
/// and kept with the erasure's record, so a saga resumed after the customer's own keys
/// went still knows what to clean up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureInventory {
    pub customer: CustomerId,
    pub merged: Vec<CustomerId>,
    pub conversations: Vec<ConversationId>,
}

impl ErasureInventory {
    /// Names one customer alone (what ingest knows when it meets one being erased).
    pub fn of(customer: &CustomerId) -> Self {
        Self {
            customer: customer.clone(),
            merged: Vec::new(),
            conversations: Vec::new(),
        }
    }

    /// The customer and those merged into them.
    pub fn customers(&self) -> impl Iterator<Item = &CustomerId> {
        std::iter::once(&self.customer).chain(&self.merged)
    }

    /// Whether `conv` is one of the erased conversations (by its customer: a conversation
    /// id names the customer it was opened for).
    pub fn holds(&self, conv: &ConversationId) -> bool {
        self.customers().any(|c| c == conv.customer())
    }
}
