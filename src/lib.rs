//! Switchboard: one conversation per customer across every channel, routed to their
//! personal agent. `main.rs` only starts [`startup::Application`].

pub mod domain;
pub mod store;
