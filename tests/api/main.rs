#[macro_use]
mod helpers;

mod adapters;
mod agents;
mod calls;
mod conformance;
mod data_loss;
mod deadlines;
mod durability;
mod errors;
mod events;
mod failover;
mod groups;
mod handoff_crash;
mod ingest;
mod invariants;
mod metrics;
mod on_cluster;
mod ops;
mod outbound;
mod practices;
mod queued_callers;
mod races;
mod rate_limits;
mod routing;
pub mod shutdown;
mod skills;
mod tls;
