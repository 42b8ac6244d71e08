//! Where a phone call stands: what was decided for it, and its state.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the IVR bypass decided (CONTRACT rule 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallDecision {
    /// Straight to a human.
    Connect,
    /// A human, but none free yet.
    Queue,
    /// The menu.
    Ivr,
}

/// A call's state, from the menu to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    Ringing,
    InMenu,
    Connected,
    Queued,
    Answered,
    Ended,
}
