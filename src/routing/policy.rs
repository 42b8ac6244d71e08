//! The settings routing and the conversation rules apply: how long a retry is
//! recognised, the reopen window, sticky waits per channel and tier, the offline grace,
//! when requirements relax.

use chrono::Duration;

use crate::domain::{Channel, PerChannel};

/// Rules the stores apply that come from settings.
#[derive(Debug, Clone)]
pub struct StorePolicy {
    /// How long a message's idempotency record is kept.
    pub dedup_ttl: Duration,
    /// How long after resolution a new message reopens a conversation.
    pub reopen_window: Duration,
    /// How long a conversation waits for its busy personal agent, per channel.
    pub sticky_waits: PerChannel<Duration>,
    /// Per-tier overrides of `sticky_waits` (e.g. longer for `vip`).
    pub tier_sticky_waits: std::collections::HashMap<String, PerChannel<Duration>>,
    /// How long an agent may be offline before its conversations go back to routing.
    pub offline_grace: Duration,
    /// When a conversation's requirements relax, per channel: skills to any level, then
    /// to nobody's requirement at all (`None`: never), from when it starts waiting.
    pub relax: PerChannel<Relax>,
    /// Per-tier overrides of `relax`.
    pub tier_relax: std::collections::HashMap<String, PerChannel<Relax>>,
}

/// The two relaxing steps of one channel (see `routing::Needs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Relax {
    pub any_level: Option<Duration>,
    pub anyone: Option<Duration>,
}

impl StorePolicy {
    /// How long a conversation of this channel and customer tier waits for its agent.
    pub fn sticky_wait(&self, channel: Channel, tier: &str) -> Duration {
        self.tier_sticky_waits
            .get(tier)
            .unwrap_or(&self.sticky_waits)[channel]
    }

    /// After how long requirements relax to any skill level, and to anyone.
    pub fn relax_after(
        &self,
        channel: Channel,
        tier: &str,
    ) -> (Option<Duration>, Option<Duration>) {
        let r = self.tier_relax.get(tier).unwrap_or(&self.relax)[channel];
        (r.any_level, r.anyone)
    }
}

impl Default for StorePolicy {
    /// The contract's defaults; sticky waits phone 30 s, email 4 h, chat 60 s, social 10 min.
    fn default() -> Self {
        Self {
            dedup_ttl: Duration::days(7),
            reopen_window: Duration::hours(72),
            sticky_waits: PerChannel {
                phone: Duration::seconds(30),
                email: Duration::hours(4),
                chat: Duration::seconds(60),
                social: Duration::minutes(10),
            },
            tier_sticky_waits: std::collections::HashMap::new(),
            offline_grace: Duration::minutes(2),
            relax: PerChannel {
                phone: relax(30, 90),
                email: relax(4 * 3600, 8 * 3600),
                chat: relax(60, 180),
                social: relax(600, 1800),
            },
            tier_relax: std::collections::HashMap::new(),
        }
    }
}

fn relax(any_level: i64, anyone: i64) -> Relax {
    Relax {
        any_level: Some(Duration::seconds(any_level)),
        anyone: Some(Duration::seconds(anyone)),
    }
}
