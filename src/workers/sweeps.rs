//! The background sweeps every replica runs, one tick for all: each is named here, runs
//! whether or not another failed this round, and takes its work from the store, which
//! hands each due item to one caller (no leader). New sweeps (retention, the event
//! export) join the list.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::app::{agents, deadlines, follow_ups, App, AppError};

/// One background sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sweep {
    /// Expired sticky waits, offline graces and relaxing requirements (routing's timers).
    RoutingTimers,
    /// Working-day deadlines that passed: escalated.
    Deadlines,
    /// Follow-ups that came due: a conversation opened for the personal agent.
    FollowUps,
}

impl Sweep {
    pub const ALL: [Sweep; 3] = [Sweep::RoutingTimers, Sweep::Deadlines, Sweep::FollowUps];

    pub fn name(self) -> &'static str {
        match self {
            Sweep::RoutingTimers => "routing_timers",
            Sweep::Deadlines => "deadlines",
            Sweep::FollowUps => "follow_ups",
        }
    }

    /// One round of this sweep at `now`.
    pub async fn run(self, app: &App, now: DateTime<Utc>) -> Result<(), AppError> {
        match self {
            Sweep::RoutingTimers => agents::fire_timers(app, now).await,
            Sweep::Deadlines => deadlines::sweep(app, now).await.map(drop),
            Sweep::FollowUps => follow_ups::sweep(app, now).await.map(drop),
        }
    }
}

/// Runs every sweep every `every` until `stop`.
pub async fn run_sweeps(state: Arc<App>, every: Duration, stop: CancellationToken) {
    let mut ticker = super::Ticker::new(every, stop);
    while ticker.next().await {
        let now = Utc::now();
        for sweep in Sweep::ALL {
            if let Err(e) = sweep.run(&state, now).await {
                tracing::warn!(sweep = sweep.name(), error = %e, "sweep failed this round");
            }
        }
    }
}
