//! The settings routing and the conversation rules apply: how long a retry is
//! recognised, the reopen window, sticky waits per channel and tier, the offline grace.

use chrono::Duration;

use crate::domain::Channel;

/// Rules the stores apply that come from settings.
#[derive(Debug, Clone)]
pub struct StorePolicy {
    /// How long a message's idempotency record is kept.
    pub dedup_ttl: Duration,
    /// How long after resolution a new message reopens a conversation.
    pub reopen_window: Duration,
    /// How long a conversation waits for its busy personal agent, per channel
    /// (phone, email, chat, social).
    pub sticky_waits: [Duration; 4],
    /// Per-tier overrides of `sticky_waits` (e.g. longer for `vip`).
    pub tier_sticky_waits: std::collections::HashMap<String, [Duration; 4]>,
    /// How long an agent may be offline before its conversations go back to routing.
    pub offline_grace: Duration,
}

impl StorePolicy {
    /// How long a conversation of this channel and customer tier waits for its agent.
    pub fn sticky_wait(&self, channel: Channel, tier: &str) -> Duration {
        let i = channel.index();
        self.tier_sticky_waits
            .get(tier)
            .unwrap_or(&self.sticky_waits)[i]
    }
}

impl Default for StorePolicy {
    /// The contract's defaults; sticky waits phone 30 s, email 4 h, chat 60 s, social 10 min.
    fn default() -> Self {
        Self {
            dedup_ttl: Duration::days(7),
            reopen_window: Duration::hours(72),
            sticky_waits: [
                Duration::seconds(30),
                Duration::hours(4),
                Duration::seconds(60),
                Duration::minutes(10),
            ],
            tier_sticky_waits: std::collections::HashMap::new(),
            offline_grace: Duration::minutes(2),
        }
    }
}
