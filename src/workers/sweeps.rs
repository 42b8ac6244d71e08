//! The background sweeps every replica runs, each named here and on its own ticker (one
//! that waits or fails holds up no other), each taking its work from the store, which
//! hands each due item to one caller (no leader). New sweeps (retention, the event
//! export) join the list.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::app::{
    agents, archiving, audit, blocks, deadlines, deletion, erasure, feed, feed_sinks, follow_ups,
    upgrade, App, AppError,
};

/// One background sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// Expired sticky waits, offline graces and relaxing requirements (routing's timers).
    RoutingTimers,
    /// Working-day deadlines that passed: escalated.
    Deadlines,
    /// Follow-ups that came due: a conversation opened for the personal agent.
    FollowUps,
    /// This replica's storage-format announcement, renewed; the write format followed.
    FormatAnnouncement,
    /// Retention: resolved conversations due to leave Redis, moved to the archive tier.
    Archive,
    /// Retention: conversations resolved longer ago than `delete_after`, deleted.
    Deletion,
    /// The audit trail's older entries, moved to the archive tier.
    AuditArchive,
    /// Customers' erasures whose runner died, resumed.
    Erasure,
    /// This replica's copy of the blocked senders, following the deployment's list.
    Blocks,
    /// The event feed's entries older than `export.keep_secs`, dropped (once a minute).
    FeedTrim,
    /// Customers' feed events, moved to their shards.
    FeedRelay,
    /// The feed's archive sink: events and `conversation_facts` into PostgreSQL.
    FeedArchive,
    /// The feed's webhook sink: pages of events into the outbox.
    FeedWebhook,
}

impl Sweep {
    pub const ALL: [Sweep; 13] = [
        Sweep::RoutingTimers,
        Sweep::Deadlines,
        Sweep::FollowUps,
        Sweep::FormatAnnouncement,
        Sweep::Archive,
        Sweep::Deletion,
        Sweep::AuditArchive,
        Sweep::Erasure,
        Sweep::Blocks,
        Sweep::FeedTrim,
        Sweep::FeedRelay,
        Sweep::FeedArchive,
        Sweep::FeedWebhook,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Sweep::RoutingTimers => "routing_timers",
            Sweep::Deadlines => "deadlines",
            Sweep::FollowUps => "follow_ups",
            Sweep::FormatAnnouncement => "format_announcement",
            Sweep::Archive => "archive",
            Sweep::Deletion => "deletion",
            Sweep::AuditArchive => "audit_archive",
            Sweep::Erasure => "erasure",
            Sweep::Blocks => "blocks",
            Sweep::FeedTrim => "feed_trim",
            Sweep::FeedRelay => "feed_relay",
            Sweep::FeedArchive => "feed_archive",
            Sweep::FeedWebhook => "feed_webhook",
        }
    }

    /// One round of this sweep at `now`: whether it found work (a sweep that does not
    /// say always did).
    pub async fn run(self, app: &App, now: DateTime<Utc>) -> Result<bool, AppError> {
        fn did<T>(_: T) -> bool {
            true
        }
        match self {
            Sweep::RoutingTimers => agents::fire_timers(app, now).await.map(did),
            Sweep::Deadlines => deadlines::sweep(app, now).await.map(did),
            Sweep::FollowUps => follow_ups::sweep(app, now).await.map(did),
            Sweep::FormatAnnouncement => upgrade::announce(app, now).await.map(did),
            Sweep::Archive => archiving::sweep(app, now).await.map(did),
            Sweep::Deletion => deletion::sweep(app, now).await.map(did),
            Sweep::AuditArchive => audit::move_to_archive(app, now).await.map(did),
            Sweep::Erasure => erasure::sweep(app, now).await.map(did),
            Sweep::Blocks => blocks::follow(app).await.map(did),
            Sweep::FeedTrim => feed::trim(app, now).await.map(did),
            Sweep::FeedRelay => feed::relay(app, now).await.map(|n| n > 0),
            Sweep::FeedArchive => feed_sinks::archive_round(app).await.map(|n| n > 0),
            Sweep::FeedWebhook => feed_sinks::webhook_round(app, now).await.map(|n| n > 0),
        }
    }

    /// Whether an idle round slows this sweep down (`IDLE_SKIPS`): the feed's relay and
    /// sinks read all sixteen customer shards (and every group's) each round, which an
    /// idle deployment need not pay four times a second; their consumers already wait
    /// the relay's grace of seconds. Routing's timers and the rest keep their pace.
    fn slows_when_idle(self) -> bool {
        matches!(
            self,
            Sweep::FeedRelay | Sweep::FeedArchive | Sweep::FeedWebhook
        )
    }

    /// Ticks to skip after a round that `found` work or not.
    fn skips_after(self, found: bool) -> u32 {
        if !found && self.slows_when_idle() {
            IDLE_SKIPS
        } else {
            0
        }
    }
}

/// Ticks a sweep that slows when idle skips after a round that found nothing: with the
/// default tick of 250 ms, once a second until there is work again.
const IDLE_SKIPS: u32 = 3;

/// Runs every sweep every `every` until `stop`, each on its own ticker: a sweep that
/// waits (the archive's on an unreachable PostgreSQL, up to its pool's timeout) delays
/// only its own next round, never routing's timers.
pub async fn run_sweeps(state: Arc<App>, every: Duration, stop: CancellationToken) {
    let loops = Sweep::ALL.map(|sweep| run_sweep(&state, sweep, every, stop.clone()));
    futures_util::future::join_all(loops).await;
}

async fn run_sweep(state: &App, sweep: Sweep, every: Duration, stop: CancellationToken) {
    let mut ticker = super::Ticker::new(every, stop);
    let mut skips = 0;
    while ticker.next().await {
        if skips > 0 {
            skips -= 1;
            continue;
        }
        match sweep.run(state, Utc::now()).await {
            Ok(found) => skips = sweep.skips_after(found),
            Err(e) => {
                tracing::warn!(sweep = sweep.name(), error = %e, "sweep failed this round")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_feed_sweeps_slow_down_and_only_when_idle() {
        for sweep in [Sweep::FeedRelay, Sweep::FeedArchive, Sweep::FeedWebhook] {
            assert_eq!(sweep.skips_after(false), IDLE_SKIPS, "{}", sweep.name());
            assert_eq!(sweep.skips_after(true), 0, "{}", sweep.name());
        }
        for sweep in Sweep::ALL.iter().filter(|s| !s.slows_when_idle()) {
            assert_eq!(sweep.skips_after(false), 0, "{}", sweep.name());
        }
        assert_eq!(Sweep::ALL.iter().filter(|s| s.slows_when_idle()).count(), 3);
    }
}
