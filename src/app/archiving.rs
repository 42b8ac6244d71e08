//! Retention's move (CONTRACT "Data lifecycle (v3)"): conversations resolved longer ago
//! than `archive_after` leave Redis for the archive tier, a batch of customers per round.
//!
//! Each round claims customers from the store's due list (each goes to one replica, for a
//! lease), reads their due conversations as the archive keeps them, commits them to the
//! archive in one transaction, then has the store replace each timeline with a stub, and
//! releases the claims. Nothing leaves Redis before the archive has committed it; a
//! replica killed at any step leaves every conversation readable (in Redis, or in both
//! stores until the stub), and the lease hands the customer to another replica, which
//! repeats the idempotent steps.

use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt, TryStreamExt};

use super::{App, AppError};
use crate::domain::ConversationId;
use crate::store::crash_point;
use crate::store::retention::{Archivable, ArchiveClaim};

/// Customers claimed per round, one round per sweep tick (250 ms by default): a replica
/// moves up to 1,024 customers' due conversations a second through a backlog, and leaves
/// the rest of the machine to ingest (README "The archive tier" has the measurement).
pub const CLAIMS_PER_ROUND: usize = 256;

/// Customers read or stubbed at once. Each is one script of some tens of µs on the
/// customer's Redis; a whole round sent at once would queue ingest's commands behind
/// hundreds of them, a few at a time interleave (README "The archive tier").
const IN_FLIGHT: usize = 8;

/// How long a claim keeps other replicas off a customer: longer than a round takes, short
/// enough that a replica's crash delays its customers' move by seconds only.
pub fn lease() -> chrono::Duration {
    chrono::Duration::seconds(10)
}

/// The sweep at `now`: one round; answers the conversations moved.
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Result<usize, AppError> {
    let (Some(archive), Some(after)) = (&app.archive, app.archive_after) else {
        return Ok(0);
    };
    Ok(round(app, archive, after, now).await?.1)
}

/// One round: answers the customers claimed and the conversations moved.
async fn round(
    app: &App,
    archive: &crate::store::archive::Archive,
    after: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<(usize, usize), AppError> {
    let resolved_before = now - after;
    let claims = app
        .store
        .claim_archive_due(resolved_before, lease(), CLAIMS_PER_ROUND)
        .await?;
    if claims.is_empty() {
        report_lag(app, now, after).await?;
        return Ok((0, 0));
    }
    crash_point("archive_claimed");
    // Customers are independent: read and stub a few at once, in claim order.
    let found: Vec<Archivable> = stream::iter(0..claims.len())
        .map(|i| app.store.archivable(&claims[i].customer, resolved_before))
        .buffered(IN_FLIGHT)
        .try_collect()
        .await?;
    let copies: Vec<_> = found
        .iter()
        .flat_map(|a| a.candidates.iter().map(|c| c.conversation.clone()))
        .collect();
    let any = !copies.is_empty();
    let committed = match any {
        true => archive.put(copies).await,
        false => Ok(()),
    };
    if let Err(e) = committed {
        // Due again at once, where they were: the lag gauge keeps counting from there.
        let back: Vec<_> = claims.iter().map(|c| (c.clone(), Some(c.since))).collect();
        app.store.release_archive_claims(&back).await?;
        report_lag(app, now, after).await?;
        return Err(AppError::Unavailable(e));
    }
    if any {
        crash_point("archive_committed");
    }
    // Each customer's candidates in one call: the store keeps their order within it.
    let stubbed: Vec<ConversationId> = stream::iter(0..found.len())
        .map(|i| app.store.stub_archived(&found[i].candidates, now))
        .buffered(IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await?
        .concat();
    if !stubbed.is_empty() {
        crash_point("archive_stubbed");
    }
    let releases: Vec<_> = claims
        .iter()
        .zip(&found)
        .map(|(claim, archivable)| (claim.clone(), next_due(claim, archivable, &stubbed)))
        .collect();
    app.store.release_archive_claims(&releases).await?;
    app.metrics.retention.archived(stubbed.len());
    report_lag(app, now, after).await?;
    Ok((claims.len(), stubbed.len()))
}

/// When the customer is due again: their next resolution, or a due conversation that
/// could not be stubbed (it reopened or gained an entry), which the next round retries.
fn next_due(
    claim: &ArchiveClaim,
    archivable: &Archivable,
    stubbed: &[ConversationId],
) -> Option<DateTime<Utc>> {
    archivable
        .candidates
        .iter()
        .map(|c| &c.conversation)
        .filter(|c| c.id.customer() == &claim.customer && !stubbed.contains(&c.id))
        .map(|c| c.resolved_at)
        .chain(archivable.next)
        .min()
}

/// `switchboard_archive_lag_seconds`: how far past its due time the oldest conversation
/// still waiting is.
async fn report_lag(
    app: &App,
    now: DateTime<Utc>,
    after: chrono::Duration,
) -> Result<(), AppError> {
    let lag = match app.store.oldest_unarchived().await? {
        Some(oldest) => (now - (oldest + after)).num_milliseconds() as f64 / 1000.0,
        None => 0.0,
    };
    app.metrics.retention.lag(lag);
    Ok(())
}
