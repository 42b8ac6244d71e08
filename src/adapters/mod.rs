//! Provider-native webhooks: each verifies the provider's signature and maps the
//! provider's format onto the service's own operations.

pub mod email;
pub mod meta;
pub mod telegram;
pub mod twilio;

use actix_web::{web, ResponseError};

use crate::api::messages::ingest_raw;
use crate::api::AppState;
use crate::domain::{RawInbound, Receipt};
use crate::error::ApiError;

/// Ingests one provider message, cut to the field limits rather than refused (see
/// `Limits::fit`): every adapter's way into the shared ingest path.
pub async fn ingest_provider(
    state: &web::Data<AppState>,
    raw: RawInbound,
) -> Result<Receipt, ApiError> {
    ingest_raw(state, state.limits.fit(raw)).await
}

/// What became of a batch of provider messages.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub stored: usize,
    pub skipped: usize,
}

/// Ingests every message of a provider's batch. One the provider sent malformed, or
/// that breaks a field rule, is skipped, logged and counted: refusing the batch would
/// make the provider retry it forever and lose every message after it. A store failure
/// fails the whole batch (nothing unstored is acknowledged); the retry dedupes the rest.
pub async fn ingest_batch(
    state: &web::Data<AppState>,
    adapter: &'static str,
    items: Vec<Result<RawInbound, String>>,
) -> Result<BatchReport, ApiError> {
    let mut report = BatchReport::default();
    for item in items {
        let why = match item {
            Ok(raw) => match ingest_provider(state, raw).await {
                Ok(_) => {
                    report.stored += 1;
                    continue;
                }
                Err(e) if e.status_code().is_client_error() => e.to_string(),
                Err(e) => return Err(e),
            },
            Err(why) => why,
        };
        tracing::warn!(adapter, reason = %why, "skipped an invalid message of a batch");
        state.metrics.skipped.with_label_values(&[adapter]).inc();
        report.skipped += 1;
    }
    Ok(report)
}
