//! Twilio: request signatures, and the Programmable Voice webhooks.

pub mod signature;
pub mod voice;
