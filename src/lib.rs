//! Switchboard: one conversation per customer across every channel, routed to their
//! personal agent. `main.rs` only loads settings and runs [`startup::Application`].

pub mod adapters;
pub mod app;
pub mod commands;
pub mod configuration;
pub mod domain;
pub mod http;
pub mod routing;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod workers;
