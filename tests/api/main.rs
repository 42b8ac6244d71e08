#[macro_use]
mod helpers;

mod conformance;
mod errors;
mod ingest;
mod ops;
mod races;
mod routing;
mod shutdown;
