//! Background work every replica runs: the sweeps (routing's timers, deadlines,
//! follow-ups: `sweeps.rs` lists them), the outbound sender and the one shared poll of
//! agents' event streams. All stop through one cancellation token at shutdown.

pub mod event_hub;
pub mod outbound;
pub mod sweeps;

use std::time::Duration;

use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// The round every background loop runs on: a tick every `every` (a late round delays
/// the next rather than bunching them) until `stop` is cancelled.
pub(crate) struct Ticker {
    tick: Interval,
    stop: CancellationToken,
}

impl Ticker {
    pub(crate) fn new(every: Duration, stop: CancellationToken) -> Self {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self { tick, stop }
    }

    /// Waits for the next round; false once stopped.
    pub(crate) async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.stop.cancelled() => false,
            _ = self.tick.tick() => true,
        }
    }
}
