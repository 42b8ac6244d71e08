//! Provider formats in, the service's operations out: each provider's payloads, its
//! signature scheme, its answers (TwiML) and its configuration. The HTTP endpoints that
//! receive them live in `http::webhooks`; flows that need the store go through `app`.

pub mod email;
pub mod meta;
pub mod telegram;
pub mod twilio;
