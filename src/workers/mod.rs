//! Background work every replica runs: routing's timers (expired sticky waits, offline
//! graces), the outbound sender and the one shared poll of agents' event streams. All
//! stop through one cancellation token at shutdown.

pub mod event_hub;
pub mod outbound;
pub mod timers;
