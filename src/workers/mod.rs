//! Background work every replica runs: the sweeps (routing's timers, deadlines,
//! follow-ups: `sweeps.rs` lists them), the outbound sender and the one shared poll of
//! agents' event streams. All stop through one cancellation token at shutdown.

pub mod event_hub;
pub mod outbound;
pub mod sweeps;
