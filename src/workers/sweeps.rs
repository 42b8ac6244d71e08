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

    /// One round of this sweep at `now`.
    pub async fn run(self, app: &App, now: DateTime<Utc>) -> Result<(), AppError> {
        match self {
            Sweep::RoutingTimers => agents::fire_timers(app, now).await,
            Sweep::Deadlines => deadlines::sweep(app, now).await.map(drop),
            Sweep::FollowUps => follow_ups::sweep(app, now).await.map(drop),
            Sweep::FormatAnnouncement => upgrade::announce(app, now).await.map(drop),
            Sweep::Archive => archiving::sweep(app, now).await.map(drop),
            Sweep::Deletion => deletion::sweep(app, now).await.map(drop),
            Sweep::AuditArchive => audit::move_to_archive(app, now).await.map(drop),
            Sweep::Erasure => erasure::sweep(app, now).await.map(drop),
            Sweep::Blocks => blocks::follow(app).await,
            Sweep::FeedTrim => feed::trim(app, now).await,
            Sweep::FeedRelay => feed::relay(app, now).await.map(drop),
            Sweep::FeedArchive => feed_sinks::archive_round(app).await.map(drop),
            Sweep::FeedWebhook => feed_sinks::webhook_round(app, now).await.map(drop),
        }
    }
}

/// Runs every sweep every `every` until `stop`, each on its own ticker: a sweep that
/// waits (the archive's on an unreachable PostgreSQL, up to its pool's timeout) delays
/// only its own next round, never routing's timers.
pub async fn run_sweeps(state: Arc<App>, every: Duration, stop: CancellationToken) {
    let loops = Sweep::ALL.map(|sweep| run_sweep(&state, sweep, every, stop.clone()));
    futures_util::future::join_all(loops).await;
}

async fn run_sweep(state: &App, sweep: Sweep, every: Duration, stop: CancellationToken) {
    let mut ticker = super::Ticker::new(every, stop);
    while ticker.next().await {
        if let Err(e) = sweep.run(state, Utc::now()).await {
            tracing::warn!(sweep = sweep.name(), error = %e, "sweep failed this round");
        }
    }
}
