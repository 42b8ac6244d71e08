//! The event feed on Redis: a stream per routing group in the group's slot, which the
//! routing scripts append to in the same script as the change (`prelude.lua`'s `feed`),
//! so an entry exists exactly when its change does, and the cluster has no hot key; and
//! the customer-side shards the relay fills (`feed_relay.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::codec::{corrupt, from_redis};
use super::RedisStore;
use crate::domain::feed::{
    customer_shard_name, names_customer, parse_customer_shard, seq_parts, FeedEvent, FeedType,
    PendingEvent, CUSTOMER_SHARDS,
};
use crate::domain::{CustomerId, RoutingGroup};
use crate::store::feed_relay::{FeedClaim, FeedMoved, FeedNote};
use crate::store::{FeedStore, StoreError};

/// Entries read per step when an erasure scrubs a shard.
const SCRUB_PAGE: usize = 1000;

impl RedisStore {
    /// Deletes a shard's entries about the erased customers (their ids, their
    /// conversations' `<customer>-N`, their events' `<customer>/N`), a page at a time, so
    /// no call holds Redis long; idempotent, so a resumed erasure runs it again. The
    /// erasure's own notice (`customer.erased`) stays: it is what tells downstream copies.
    pub(super) async fn scrub_feed(
        &self,
        key: &str,
        customers: &[String],
    ) -> Result<(), StoreError> {
        // Every entry naming them, but the notice of their erasure itself.
        let about_them = |fields: &[(String, String)]| {
            let notice = fields
                .iter()
                .any(|(k, v)| k == "type" && v == FeedType::CustomerErased.as_str());
            !notice
                && fields.iter().any(|(k, v)| {
                    (k == "subject" || k == "id" || k == "data")
                        && customers.iter().any(|c| names_customer(v, c))
                })
        };
        let mut from = "-".to_owned();
        loop {
            let page: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
                .arg(key)
                .arg(&from)
                .arg("+")
                .arg("COUNT")
                .arg(SCRUB_PAGE)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            let doomed: Vec<&String> = page
                .iter()
                .filter(|(_, fields)| about_them(fields))
                .map(|(id, _)| id)
                .collect();
            if !doomed.is_empty() {
                let _: i64 = redis::cmd("XDEL")
                    .arg(key)
                    .arg(&doomed)
                    .query_async(&mut self.conn.clone())
                    .await
                    .map_err(from_redis)?;
            }
            match page.last() {
                Some((last, _)) if page.len() == SCRUB_PAGE => from = format!("({last}"),
                _ => return Ok(()),
            }
        }
    }

    /// Every shard's stream: the routing groups', then the customer-side ones.
    pub(super) async fn feed_keys(&self) -> Result<Vec<String>, StoreError> {
        let groups = self.all_groups().await?;
        let mut keys: Vec<String> = groups.iter().map(|g| self.keys.routing_feed(g)).collect();
        keys.extend((0..CUSTOMER_SHARDS).map(|k| self.keys.feed_shard(k)));
        Ok(keys)
    }

    /// The stream of a shard by name.
    fn feed_key(&self, shard: &str) -> Result<String, StoreError> {
        if let Some(k) = parse_customer_shard(shard) {
            return Ok(self.keys.feed_shard(k));
        }
        let group: RoutingGroup = shard.parse().map_err(corrupt)?;
        Ok(self.keys.routing_feed(&group))
    }
}

#[async_trait]
impl FeedStore for RedisStore {
    async fn feed_shards(&self) -> Result<Vec<String>, StoreError> {
        let groups = self.all_groups().await?;
        let mut shards: Vec<String> = groups.iter().map(|g| g.as_str().to_owned()).collect();
        shards.extend((0..CUSTOMER_SHARDS).map(customer_shard_name));
        Ok(shards)
    }

    async fn feed_after(
        &self,
        shard: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let key = self.feed_key(shard)?;
        let after = seq_parts(after).unwrap_or((0, 0));
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(key)
            .arg(format!("({}-{}", after.0, after.1))
            .arg("+")
            .arg("COUNT")
            .arg(limit.max(1))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        entries
            .into_iter()
            .map(|(id, fields)| {
                let field = |name: &str| {
                    fields
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let kind = FeedType::parse(&field("type"))
                    .ok_or_else(|| StoreError::Corrupt(format!("feed entry {id}")))?;
                let (ms, _) =
                    seq_parts(&id).ok_or_else(|| StoreError::Corrupt(format!("feed id {id}")))?;
                // Entries of earlier builds of this release hold no `at`: their place's time.
                let at_ms = field("at")
                    .parse()
                    .unwrap_or(i64::try_from(ms).unwrap_or(0));
                let at = DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
                let data = serde_json::from_str(&field("data")).map_err(corrupt)?;
                let own_id = field("id");
                Ok(FeedEvent {
                    shard: shard.to_owned(),
                    seq: id.clone(),
                    id: (!own_id.is_empty()).then_some(own_id),
                    kind,
                    subject: field("subject"),
                    at,
                    data,
                })
            })
            .collect()
    }

    async fn trim_feed(&self, before: DateTime<Utc>) -> Result<(), StoreError> {
        for key in self.feed_keys().await? {
            let _: i64 = redis::cmd("XTRIM")
                .arg(key)
                .arg("MINID")
                .arg(before.timestamp_millis().max(0))
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
        }
        Ok(())
    }

    async fn claim_feed_due(
        &self,
        announced_before: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<FeedClaim>, StoreError> {
        self.claim_feed(announced_before, until, limit).await
    }

    async fn pending_feed(
        &self,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<Vec<PendingEvent>, StoreError> {
        self.pending(customer, limit).await
    }

    async fn append_feed(&self, shard: u32, events: &[FeedEvent]) -> Result<(), StoreError> {
        self.append_relayed(shard, events).await
    }

    async fn settle_feed(
        &self,
        shard: u32,
        moved: &[FeedMoved],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.settle(shard, moved, now).await
    }

    async fn note_feed(&self, customer: &CustomerId, note: &FeedNote) -> Result<(), StoreError> {
        self.note(customer, note).await
    }

    async fn export_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        redis::cmd("GET")
            .arg(self.keys.export_cursor(name))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)
    }

    async fn advance_export_cursor(
        &self,
        name: &str,
        from: Option<&str>,
        to: &str,
    ) -> Result<bool, StoreError> {
        let moved: i64 = self
            .scripts
            .feed_advance
            .key(self.keys.export_cursor(name))
            .arg(from.unwrap_or(""))
            .arg(to)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(moved == 1)
    }
}
