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
//!
//! A customer left with no conversation at all by a round had no activity for at least
//! `delete_after` (every conversation deleted was resolved before that): they are erased
//! (`app::erasure`), identities and all, once the deployment writes the format erasures
//! need.

use chrono::{DateTime, Utc};

use super::archiving::{lease, CLAIMS_PER_ROUND};
use std::collections::BTreeSet;

use super::{erasure, App, AppError};
use crate::domain::{ConversationId, CustomerId};
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
            erase_emptied(app, &due).await?;
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
    let mut emptied = Vec::new();
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
        emptied.extend(ids);
    }
    app.store.release_archive_claims(&releases).await?;
    erase_emptied(app, &emptied).await?;
    Ok(deleted)
}

/// Erases the customers of `deleted` conversations who have none left (nor a follow-up
/// planned). Before the deployment writes the erasures' format, they wait for a later
/// round.
async fn erase_emptied(app: &App, deleted: &[ConversationId]) -> Result<usize, AppError> {
    let customers: BTreeSet<&CustomerId> = deleted.iter().map(ConversationId::customer).collect();
    let mut erased = 0;
    for customer in customers {
        let Some(view) = app.store.customer(customer).await? else {
            continue;
        };
        let idle = view.conversation_ids.is_empty() && view.open_conversation_id.is_none();
        if !idle || app.store.follow_up(&view.id).await?.is_some() {
            continue;
        }
        match erasure::request(app, &view.id).await {
            Ok(Some(_)) => {
                erasure::run(app, &view.id).await?;
                erased += 1;
            }
            Ok(None) | Err(AppError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(erased)
}
