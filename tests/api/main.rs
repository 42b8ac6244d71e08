#[macro_use]
mod helpers;

mod agents;
mod conformance;
mod errors;
mod ingest;
mod ops;
mod races;
mod routing;
mod shutdown;
