//! Retention's deletion (CONTRACT "Data lifecycle (v3)", `delete_after_secs`):
//! conversations resolved longer ago than that are deleted wherever they are.
//!
//! With an archive, every conversation reaches it before it is due for deletion
//! (`Settings::delete_after` is never shorter than `archive_after`), so the archive's
//! resolution index is the due list: a batch is deleted from the store (its stubs, or a
//! timeline a crashed move left behind, and the ids in customers' lists), then from the
//! archive; a crash in between leaves rows the next round selects again. Without an
//! archive, the store's due list (the one the archive move uses) hands out customers and
//! their conversations are deleted from the store alone.

use chrono::{DateTime, Utc};

use super::archiving::{lease, CLAIMS_PER_ROUND};
use super::{App, AppError};
use crate::domain::ConversationId;
use crate::store::crash_point;

/// Conversations deleted per round from the archive's index.
const ARCHIVED_PER_ROUND: i64 = 1000;

/// One round at `now`: answers the conversations deleted from the store.
pub async fn sweep(app: &App, now: DateTime<Utc>) -> Result<usize, AppError> {
    let Some(after) = app.delete_after else {
        return Ok(0);
    };
    let resolved_before = now - after;
    match &app.archive {
        Some(archive) => {
            let due = archive
                .resolved_before(resolved_before, ARCHIVED_PER_ROUND)
                .await
                .map_err(AppError::Unavailable)?;
            if due.is_empty() {
                return Ok(0);
            }
            let deleted = app
                .store
                .delete_conversations(&due, resolved_before)
                .await?;
            crash_point("deletion_store_done");
            archive.delete(&due).await.map_err(AppError::Unavailable)?;
            Ok(deleted.len())
        }
        None => from_the_store(app, resolved_before).await,
    }
}

/// Without an archive: customers from the due list, their due conversations (with those
/// merged into them) deleted from the store.
async fn from_the_store(app: &App, resolved_before: DateTime<Utc>) -> Result<usize, AppError> {
    let claims = app
        .store
        .claim_archive_due(resolved_before, lease(), CLAIMS_PER_ROUND)
        .await?;
    let mut deleted = 0;
    let mut releases = Vec::with_capacity(claims.len());
    for claim in claims {
        let due = app
            .store
            .archivable(&claim.customer, resolved_before)
            .await?;
        let ids: Vec<ConversationId> = due
            .candidates
            .iter()
            .map(|c| c.conversation.id.clone())
            .collect();
        deleted += app
            .store
            .delete_conversations(&ids, resolved_before)
            .await?
            .len();
        releases.push((claim, due.next));
    }
    app.store.release_archive_claims(&releases).await?;
    Ok(deleted)
}
