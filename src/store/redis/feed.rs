//! The event feed on Redis: a stream per routing group in the group's slot, which the
//! routing scripts append to in the same script as the change (`prelude.lua`'s `feed`),
//! so an entry exists exactly when its change does, and the cluster has no hot key.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::codec::{corrupt, from_redis};
use super::RedisStore;
use crate::domain::feed::{seq_parts, FeedEvent, FeedType};
use crate::domain::RoutingGroup;
use crate::store::{FeedStore, StoreError};

/// Entries read per step when an erasure scrubs a shard.
const SCRUB_PAGE: usize = 1000;

impl RedisStore {
    /// Deletes a group's feed entries about the erased customers' conversations (their
    /// ids begin `<customer>-`), a page at a time, so no call holds Redis long; idempotent,
    /// so a resumed erasure runs it again.
    pub(super) async fn scrub_feed(
        &self,
        group: &RoutingGroup,
        customers: &[String],
    ) -> Result<(), StoreError> {
        let key = self.keys.routing_feed(group);
        let prefixes: Vec<String> = customers.iter().map(|c| format!("{c}-")).collect();
        let about_them = |fields: &[(String, String)]| {
            fields
                .iter()
                .any(|(k, v)| k == "subject" && prefixes.iter().any(|p| v.starts_with(p)))
        };
        let mut from = "-".to_owned();
        loop {
            let page: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
                .arg(&key)
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
                    .arg(&key)
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
}

#[async_trait]
impl FeedStore for RedisStore {
    async fn feed_shards(&self) -> Result<Vec<String>, StoreError> {
        let groups = self.all_groups().await?;
        Ok(groups.iter().map(|g| g.as_str().to_owned()).collect())
    }

    async fn feed_after(
        &self,
        shard: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let group: RoutingGroup = shard.parse().map_err(corrupt)?;
        let after = seq_parts(after).unwrap_or((0, 0));
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(self.keys.routing_feed(&group))
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
                let at = DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(0))
                    .unwrap_or_default();
                let data = serde_json::from_str(&field("data")).map_err(corrupt)?;
                Ok(FeedEvent {
                    shard: shard.to_owned(),
                    seq: id.clone(),
                    kind,
                    subject: field("subject"),
                    at,
                    data,
                })
            })
            .collect()
    }

    async fn trim_feed(&self, before: DateTime<Utc>) -> Result<(), StoreError> {
        for group in self.all_groups().await? {
            let _: i64 = redis::cmd("XTRIM")
                .arg(self.keys.routing_feed(&group))
                .arg("MINID")
                .arg(before.timestamp_millis().max(0))
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
        }
        Ok(())
    }
}
