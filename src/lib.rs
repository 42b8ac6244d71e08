//! Switchboard: one conversation per customer across every channel, routed to their
//! personal agent. `main.rs` only loads settings and runs [`startup::Application`].

pub mod adapters;
pub mod api;
pub mod auth;
pub mod calls;
pub mod configuration;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod outbound;
pub mod routing;
pub mod startup;
pub mod store;
pub mod telemetry;
