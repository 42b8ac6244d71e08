//! Provider-native webhooks: each verifies the provider's signature and maps the
//! provider's format onto the service's own operations.

pub mod email;
pub mod meta;
pub mod telegram;
pub mod twilio;
