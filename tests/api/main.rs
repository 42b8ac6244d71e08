mod conformance;
mod errors;
mod helpers;
mod ingest;
mod ops;
mod races;
mod shutdown;
