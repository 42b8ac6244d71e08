//! Provider-native webhooks: each checks the provider's signature, reads its format
//! through `adapters`, and calls the use cases in `app`.

pub mod email;
pub mod meta;
pub mod telegram;
mod twilio;
pub mod twilio_messaging;
pub mod twilio_voice;
