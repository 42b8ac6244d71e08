//! The event feed (CONTRACT "Event export (v3)"): the pull API's page of CloudEvents
//! after a reader's cursor, merged from every shard (each shard's order kept); the relay
//! of customer-side events to their shards; and the trim of entries older than
//! `export.keep_secs`.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Duration, Utc};
use futures_util::future::try_join_all;
use futures_util::{StreamExt, TryStreamExt};

use super::{App, AppError};
use crate::domain::facts::{self, RecordedMilestones};
use crate::domain::feed::{
    self, customer_shard, CloudEvent, Cursor, FeedEvent, FeedType, PendingEvent,
};
use crate::domain::CustomerId;
use crate::store::feed_relay::{FeedClaim, FeedMoved, ANNOUNCE_GRACE_MS, CLAIM_LEASE_MS};

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
    let each = per_shard(limit, shards.len());
    let reads = try_join_all(
        shards
            .iter()
            .map(|shard| app.store.feed_after(shard, cursor.position(shard), each)),
    )
    .await?;
    let (events, next) = feed::page(cursor, reads, limit);
    Ok((events.iter().map(|e| e.cloud_event()).collect(), next))
}

/// How many entries to read from each of `shards` for a page of `limit`: a share of it
/// (twice the even share, at least 32), not the whole page from every shard, which would
/// read and drop some fifteen times what a page holds. A page may then hold fewer than
/// `limit` while a shard has more; each shard's cursor moves only past what the page
/// holds, so nothing is skipped, and only an empty page means the reader caught up.
fn per_shard(limit: usize, shards: usize) -> usize {
    (limit * 2 / shards.max(1)).max(32).min(limit)
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

/// Most customers one relay round claims per shard.
const RELAY_CUSTOMERS: usize = 64;

/// Shards relayed at once.
const RELAY_IN_FLIGHT: usize = 4;

/// Most of one customer's events moved in one step.
const RELAY_PAGE: usize = 256;

/// Most events one append (one `MULTI` on Redis) carries: a backlog of a shard's 64
/// customers with full pages would otherwise hold Redis for one transaction of 16,384
/// `XADD`s, ingest waiting behind it.
const RELAY_APPEND: usize = 512;

/// The relay: moves customers' pending events to their shards, at least once and under
/// their own ids, computing a resolved conversation's facts on the way (once: the shard
/// keeps them). Every replica runs it; the store hands each customer to one. A shard's
/// claimed customers move together: their reads at once, one append, their drops at
/// once and one release, so a burst of new customers costs the shard a few steps, not a
/// few per customer.
pub async fn relay(app: &App, now: DateTime<Utc>) -> Result<usize, AppError> {
    let announced_before = now - Duration::milliseconds(ANNOUNCE_GRACE_MS);
    let until = now + Duration::milliseconds(CLAIM_LEASE_MS);
    let claims = app
        .store
        .claim_feed_due(announced_before, until, RELAY_CUSTOMERS)
        .await?;
    let mut shards: BTreeMap<u32, Vec<FeedClaim>> = BTreeMap::new();
    for claim in claims {
        let shard = customer_shard(claim.customer.as_str());
        shards.entry(shard).or_default().push(claim);
    }
    let moved: Vec<usize> = futures_util::stream::iter(shards)
        .map(|(shard, claims)| relay_shard(app, shard, claims, now))
        .buffer_unordered(RELAY_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(moved.into_iter().sum())
}

async fn relay_shard(
    app: &App,
    shard: u32,
    claims: Vec<FeedClaim>,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let reads = claims
        .iter()
        .map(|claim| app.store.pending_feed(&claim.customer, RELAY_PAGE));
    let pending = try_join_all(reads).await?;
    let mut events = Vec::new();
    let mut moved = Vec::with_capacity(claims.len());
    for (claim, pending) in claims.into_iter().zip(pending) {
        events.extend(relayed(app, claim.customer.as_str(), &pending));
        moved.push(FeedMoved {
            through: pending.last().map_or(0, |p| p.n),
            read: pending.len(),
            claim,
        });
    }
    // Every append before any drop: a relay cut off between them appends the same
    // events again next time (duplicates a consumer recognises by id), never loses one.
    for chunk in events.chunks(RELAY_APPEND) {
        app.store.append_feed(shard, chunk).await?;
    }
    app.store.settle_feed(shard, &moved, now).await?;
    Ok(events.len())
}

/// A customer's pending events as their shard keeps them; one that does not parse is
/// dropped (and logged: it would never parse later either).
fn relayed(app: &App, customer: &str, pending: &[PendingEvent]) -> Vec<FeedEvent> {
    pending
        .iter()
        .filter_map(|p| {
            let event = p.relayed(customer, relayed_data(app, p));
            if event.is_none() {
                tracing::warn!(n = p.n, kind = %p.kind, "a pending feed event that does not parse was dropped");
            }
            event
        })
        .collect()
}

/// An event's `data` as the shard keeps it: a resolve's milestones become its facts.
fn relayed_data(app: &App, p: &PendingEvent) -> serde_json::Value {
    if p.kind != FeedType::ConversationResolved.as_str() {
        return p.data.clone();
    }
    let recorded: Option<RecordedMilestones> = serde_json::from_value(p.data.clone()).ok();
    let Some((recorded, m)) = recorded.and_then(|r| r.milestones().map(|m| (r, m))) else {
        return p.data.clone();
    };
    let facts = facts::facts(&m, &app.deadlines.calendar);
    let mut data = serde_json::to_value(&facts).unwrap_or_default();
    if let Some(map) = data.as_object_mut() {
        map.insert("conversation_id".into(), recorded.conversation_id.into());
        map.insert("customer_id".into(), recorded.customer_id.into());
        map.insert("resolved_at".into(), m.resolved_at.to_rfc3339().into());
    }
    data
}

/// `switchboard.customer.erased`, once the erasure removed their records and before it
/// finishes (every scrub keeps this one entry): written straight to the customer's shard
/// under a stable id, so a resumed erasure that writes it again writes a duplicate a
/// consumer recognises.
pub async fn erased(
    app: &App,
    customer: &CustomerId,
    merged: &[&CustomerId],
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let event = FeedEvent {
        shard: String::new(),
        seq: String::new(),
        id: Some(format!("{customer}/erased")),
        kind: FeedType::CustomerErased,
        subject: customer.to_string(),
        at: now,
        data: serde_json::json!({
            "customer_id": customer.as_str(),
            "merged_customer_ids": merged.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        }),
    };
    app.store
        .append_feed(customer_shard(customer.as_str()), &[event])
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::per_shard;

    #[test]
    fn a_page_reads_a_share_from_each_shard_never_less_than_32_nor_more_than_the_page() {
        assert_eq!(per_shard(500, 17), 58);
        assert_eq!(per_shard(500, 1), 500);
        assert_eq!(per_shard(100, 40), 32);
        assert_eq!(per_shard(10, 40), 10);
        assert_eq!(per_shard(1000, 0), 1000);
    }
}
