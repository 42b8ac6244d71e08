#[macro_use]
mod helpers;

mod agents;
mod conformance;
mod errors;
mod events;
mod ingest;
mod invariants;
mod ops;
mod races;
mod routing;
mod shutdown;
