//! Where a reply stands with the customer's provider (CONTRACT "Delivery status of
//! replies"): sent, delivered, read, or failed with the provider's reason. Providers do
//! not keep order, so a status only ever moves forward (`rank`): whatever order the
//! reports arrive in, the last word is the furthest one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplyStatus {
    /// The provider took it.
    Sent,
    /// It reached the customer's device.
    Delivered,
    /// The customer opened it.
    Read,
    /// It will not arrive (final).
    Failed,
}

impl ReplyStatus {
    pub const ALL: [ReplyStatus; 4] = [
        ReplyStatus::Sent,
        ReplyStatus::Delivered,
        ReplyStatus::Read,
        ReplyStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplyStatus::Sent => "sent",
            ReplyStatus::Delivered => "delivered",
            ReplyStatus::Read => "read",
            ReplyStatus::Failed => "failed",
        }
    }

    /// How far along: a report replaces what is known only when it ranks higher
    /// (`failed` is final).
    pub fn rank(self) -> u8 {
        match self {
            ReplyStatus::Sent => 1,
            ReplyStatus::Delivered => 2,
            ReplyStatus::Read => 3,
            ReplyStatus::Failed => 4,
        }
    }
}

/// A reply's delivery as its timeline entry shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplyDelivery {
    pub status: ReplyStatus,
    /// When the provider says it happened.
    pub at: DateTime<Utc>,
    /// The provider's error code of a failure (Meta's `131026`, Twilio's `30003`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The provider's reason, for the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Longest error code and reason kept.
pub const MAX_ERROR_CODE: usize = 32;
pub const MAX_ERROR: usize = 256;

impl ReplyDelivery {
    /// A report, its code and reason cut to their limits.
    pub fn new(
        status: ReplyStatus,
        at: DateTime<Utc>,
        error_code: Option<String>,
        error: Option<String>,
    ) -> Self {
        let cut = |s: String, n: usize| s.chars().take(n).collect::<String>();
        Self {
            status,
            at,
            error_code: error_code.map(|c| cut(c, MAX_ERROR_CODE)),
            error: error.map(|e| cut(e, MAX_ERROR)),
        }
    }
}
