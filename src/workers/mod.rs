//! Background work every replica runs: routing's timers (expired sticky waits, offline
//! graces) and the outbound sender. Both stop through one cancellation token at shutdown.

pub mod outbound;
pub mod timers;
