//! Routing's timers: every replica polls; the store claims each expiry once (no leader).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::{agents, App};

/// Fires expired sticky waits and offline graces every `every` until `stop`.
pub async fn run_timers(state: Arc<App>, every: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = agents::fire_timers(&state).await {
            tracing::warn!(error = %e, "expired waits not handled this round");
        }
    }
}
