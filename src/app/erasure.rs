//! A customer's erasure (CONTRACT "Erasure"): a saga of idempotent steps, shaped like the
//! cross-group hand-off, so that whoever resumes it after a crash repeats them safely.
//!
//! 1. **begin**: the record, pending, and the customer unreachable (ingest starts a new
//!    customer for their identities; reads answer 404); their identity pointers go.
//! 2. **inventory**: the customers merged into them and every conversation, by id, kept
//!    with the record (what still names them once their own keys are gone).
//! 3. **routing**: what the conversations hold is freed (the queue drains into the freed
//!    units), and schedules, due lists and agents' event logs forget them.
//! 4. **references**: e-mail threads, call records and outbox deliveries their timelines
//!    point to.
//! 5. **archive**: their archived rows.
//! 6. **records**: the customers' own keys, timelines included.
//! 7. **done**.
//!
//! The replica that takes the request runs the saga at once, in the background; a
//! pending erasure whose runner died is picked up by the `erasure` sweep when its lease
//! runs out, and starts again from step 1.

use chrono::{DateTime, Utc};

use super::{bridge, App, AppError};
use crate::domain::CustomerId;
use crate::store::crash_point;
use crate::store::erasure::{Erasure, ErasureInventory};

/// How long a runner holds an erasure before another replica may take it over.
fn lease() -> chrono::Duration {
    chrono::Duration::seconds(10)
}

/// Erasures resumed per sweep round.
const RESUMED_PER_ROUND: usize = 16;

/// Starts the customer's erasure (or finds the one started before); `None` when there is
/// no such customer. The caller runs it (`run`) unless it is done.
pub async fn request(app: &App, customer: &CustomerId) -> Result<Option<Erasure>, AppError> {
    let now = Utc::now();
    Ok(app
        .store
        .begin_erasure(customer, now, now + lease())
        .await?)
}

/// An erasure by its id.
pub async fn status(app: &App, customer: &CustomerId) -> Result<Option<Erasure>, AppError> {
    Ok(app.store.erasure(customer).await?)
}

/// Runs the saga from its start: every step is idempotent.
pub async fn run(app: &App, customer: &CustomerId) -> Result<(), AppError> {
    let now = Utc::now();
    let Some(erasure) = app
        .store
        .begin_erasure(customer, now, now + lease())
        .await?
    else {
        return Ok(());
    };
    crash_point("erasure_begun");
    let customer = erasure.customer_id;
    let inventory = app.store.erasure_inventory(&customer).await?;
    crash_point("erasure_inventoried");
    let made = app.store.erase_routing(&inventory, Utc::now()).await?;
    bridge::assigned(app, &made).await;
    crash_point("erasure_routing_done");
    app.store.erase_references(&inventory).await?;
    crash_point("erasure_references_done");
    erase_archived(app, &inventory).await?;
    crash_point("erasure_archive_done");
    app.store.erase_records(&inventory).await?;
    crash_point("erasure_records_done");
    // Downstream copies are told to erase too; before the finish, so a resumed erasure
    // writes it again (under the same id) rather than never.
    let merged: Vec<&CustomerId> = inventory.merged.iter().collect();
    super::feed::erased(app, &customer, &merged, Utc::now()).await?;
    // What the feed's archive sink copied while the steps ran (the shards are scrubbed
    // at the routing step; a page read before it may have committed since).
    erase_archived(app, &inventory).await?;
    if app.store.finish_erasure(&inventory, Utc::now()).await? {
        app.metrics.retention.erased();
    }
    Ok(())
}

/// Deletes the erased customers' rows from the archive tier, if there is one.
async fn erase_archived(app: &App, inventory: &ErasureInventory) -> Result<(), AppError> {
    let Some(archive) = &app.archive else {
        return Ok(());
    };
    let customers: Vec<CustomerId> = inventory.customers().cloned().collect();
    archive
        .erase(&customers, &inventory.conversations)
        .await
        .map_err(AppError::Unavailable)
}

/// The sweep: resumes erasures whose runner died.
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Result<usize, AppError> {
    let claimed = app
        .store
        .claim_erasures(now, now + lease(), RESUMED_PER_ROUND)
        .await?;
    for customer in &claimed {
        run(app, customer).await?;
    }
    Ok(claimed.len())
}
