//! The event feed's sinks besides the pull API (CONTRACT "Event export (v3)"): the
//! archive (PostgreSQL: every event, and `conversation_facts`, one row per resolved
//! conversation) and the webhook (signed POSTs through the durable outbox). Each reads
//! the feed as any consumer does, with a cursor it keeps durably: the archive's in its
//! own transaction, the webhook's in the store, moved only after its page is in the
//! outbox. Every replica runs both; they take turns.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{feed, App, AppError};
use crate::domain::feed::Cursor;
use crate::store::archive::SinkPage;
use crate::store::StoreError;

/// Events per archive transaction, and per webhook POST.
pub const SINK_PAGE: usize = 500;

/// The archive sink's name (its row in `feed_sinks`).
const ARCHIVE_SINK: &str = "archive";

/// Where the webhook sink sends, and what it signs with.
#[derive(Debug, Clone)]
pub struct ExportWebhook {
    pub url: String,
    pub secret: String,
    pub client: reqwest::Client,
}

/// Prefix of the webhook's outbox deliveries (`workers::outbound` sends them to the
/// export URL).
pub const EXPORT_DELIVERY_PREFIX: &str = "export:";

/// One step of the archive sink: the page after its cursor, stored with the cursor.
pub async fn archive_round(app: &App) -> Result<usize, AppError> {
    let Some(archive) = &app.archive else {
        return Ok(0);
    };
    let stored = archive
        .sink_feed(ARCHIVE_SINK, |cursor| async move {
            let cursor = decode(cursor.as_deref()).map_err(as_store_error)?;
            let (events, next) = feed::page(app, &cursor, SINK_PAGE)
                .await
                .map_err(as_store_error)?;
            Ok(SinkPage {
                events,
                next: next.encode(),
            })
        })
        .await?;
    Ok(stored)
}

/// The feed's read failing inside the archive's transaction: an unreachable store stays
/// unavailable (the sweep retries), anything else is what it says.
fn as_store_error(e: AppError) -> StoreError {
    match e {
        AppError::Unavailable(e) => e,
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// A kept cursor (`None`: from the start).
fn decode(kept: Option<&str>) -> Result<Cursor, AppError> {
    match kept {
        None => Ok(Cursor::default()),
        Some(s) => Cursor::decode(s)
            .ok_or_else(|| AppError::Internal("a sink's kept cursor does not decode".into())),
    }
}

/// One step of the webhook sink: the page after its cursor goes into the outbox as one
/// delivery, then the cursor moves, unless another replica moved it first. The
/// delivery's id is made of both cursors, so a replica that dies between the two steps
/// and one that repeats the step with a longer page enqueue two deliveries (duplicates a
/// consumer drops by event id), never one that hides the other.
pub async fn webhook_round(app: &App, now: DateTime<Utc>) -> Result<usize, AppError> {
    let Some(webhook) = &app.export_webhook else {
        return Ok(0);
    };
    let kept = app.store.export_cursor(WEBHOOK_SINK).await?;
    let cursor = decode(kept.as_deref())?;
    let (events, next) = feed::page(app, &cursor, SINK_PAGE).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let next = next.encode();
    let body = serde_json::to_string(&events).map_err(|e| AppError::Internal(e.into()))?;
    let id = delivery_id(kept.as_deref().unwrap_or(""), &next);
    app.store
        .enqueue_delivery(&id, &webhook.url, &body, now)
        .await?;
    let moved = app
        .store
        .advance_export_cursor(WEBHOOK_SINK, kept.as_deref(), &next)
        .await?;
    Ok(if moved { events.len() } else { 0 })
}

/// The webhook sink's name (its cursor in the store).
const WEBHOOK_SINK: &str = "webhook";

fn delivery_id(from: &str, to: &str) -> String {
    let digest = Sha256::new()
        .chain_update(from.as_bytes())
        .chain_update(b"\n")
        .chain_update(to.as_bytes())
        .finalize();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{EXPORT_DELIVERY_PREFIX}{hex}")
}
