//! The event feed's pull API (CONTRACT "Event export (v3)"): a page of CloudEvents after
//! a reader's cursor, merged by time from every shard (each shard's order kept), and the
//! trim of entries older than `export.keep_secs`.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;

use super::{App, AppError};
use crate::domain::feed::{self, CloudEvent, Cursor};

/// The most events one page holds.
pub const MAX_PAGE: usize = 1000;

/// How often a replica trims the feed (seconds): a stream trim per group, not per tick.
const TRIM_EVERY_SECS: i64 = 60;

/// Up to `limit` events after `cursor`, and the cursor after them (the same cursor when
/// there is nothing new).
pub async fn page(
    app: &App,
    cursor: &Cursor,
    limit: usize,
) -> Result<(Vec<CloudEvent>, Cursor), AppError> {
    let limit = limit.clamp(1, MAX_PAGE);
    let shards = app.store.feed_shards().await?;
    let reads = try_join_all(
        shards
            .iter()
            .map(|shard| app.store.feed_after(shard, cursor.position(shard), limit)),
    )
    .await?;
    let (events, next) = feed::page(cursor, reads, limit);
    Ok((events.iter().map(|e| e.cloud_event()).collect(), next))
}

/// The sweep: drops entries older than `feed_keep`, once a minute per replica.
pub async fn trim(app: &App, now: DateTime<Utc>) -> Result<(), AppError> {
    let last = app.feed_trimmed.load(Ordering::Relaxed);
    if now.timestamp() - last < TRIM_EVERY_SECS {
        return Ok(());
    }
    app.feed_trimmed.store(now.timestamp(), Ordering::Relaxed);
    app.store.trim_feed(now - app.feed_keep).await?;
    Ok(())
}
