//! The customer side of the event feed on Redis (`store::feed_relay`): the due lists
//! (`P:fd:{fd:K}:due`) the callers announce customers on, the customers' pending lists
//! (`P:c:{cid}:fp`, written by `lua/feed/customer.lua` in the change's own script) and
//! the shards (`P:fd:{fd:K}:feed`) the relay moves them to.

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;

use super::codec::{corrupt, from_redis};
use super::RedisStore;
use crate::domain::feed::{customer_shard, FeedEvent, PendingEvent, CUSTOMER_SHARDS};
use crate::domain::CustomerId;
use crate::store::feed_relay::{FeedClaim, FeedMoved, FeedNote, NoteEffect};
use crate::store::StoreError;

impl RedisStore {
    /// Puts a customer on their shard's due list (`ZADD`, so a claim in progress sees it
    /// was announced again): before any step that may write one of their feed events.
    pub(super) async fn announce_feed(
        &self,
        customer: &CustomerId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let shard = customer_shard(customer.as_str());
        let _: i64 = redis::cmd("ZADD")
            .arg(self.keys.feed_due(shard))
            .arg(now.timestamp_millis())
            .arg(customer.as_str())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    /// Takes an erased customer off their shard's due list.
    pub(super) async fn unannounce_feed(&self, customer: &CustomerId) -> Result<(), StoreError> {
        let _: i64 = redis::cmd("ZREM")
            .arg(self.keys.feed_due(customer_shard(customer.as_str())))
            .arg(customer.as_str())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    pub(super) async fn claim_feed(
        &self,
        announced_before: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<FeedClaim>, StoreError> {
        let leased = until.timestamp_millis();
        // Every shard each time, together: one round trip's wait, not sixteen.
        let claims = (0..CUSTOMER_SHARDS).map(|k| {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.feed_claim.prepare_invoke();
            call.key(self.keys.feed_due(k))
                .arg(announced_before.timestamp_millis())
                .arg(leased)
                .arg(limit.max(1));
            async move { call.invoke_async::<Vec<String>>(&mut conn).await }
        });
        let got = try_join_all(claims).await.map_err(from_redis)?;
        got.into_iter()
            .flatten()
            .map(|customer| {
                Ok(FeedClaim {
                    customer: customer.parse().map_err(corrupt)?,
                    leased,
                })
            })
            .collect()
    }

    pub(super) async fn pending(
        &self,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<Vec<PendingEvent>, StoreError> {
        let raw: Vec<String> = redis::cmd("LRANGE")
            .arg(self.keys.customer_feed(customer))
            .arg(0)
            .arg(limit.max(1) - 1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        raw.iter()
            .map(|entry| serde_json::from_str(entry).map_err(corrupt))
            .collect()
    }

    /// One `MULTI` (one slot): a relay cut off halfway appends the whole batch again
    /// next time rather than part of it.
    pub(super) async fn append_relayed(
        &self,
        shard: u32,
        events: &[FeedEvent],
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let key = self.keys.feed_shard(shard);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for e in events {
            let data = serde_json::to_string(&e.data).map_err(corrupt)?;
            pipe.cmd("XADD")
                .arg(&key)
                .arg("*")
                .arg("id")
                .arg(e.id.as_deref().unwrap_or(""))
                .arg("type")
                .arg(e.kind.as_str())
                .arg("subject")
                .arg(&e.subject)
                .arg("at")
                .arg(e.at.timestamp_millis())
                .arg("data")
                .arg(data)
                .ignore();
        }
        let _: () = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    /// Each customer's drop on their own slot (together), then one release of the
    /// shard's claims (`feed/release.lua`).
    pub(super) async fn settle(
        &self,
        shard: u32,
        moved: &[FeedMoved],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let drops = moved.iter().map(|m| {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.feed_drop.prepare_invoke();
            call.key(self.keys.customer(&m.claim.customer))
                .arg(m.through)
                .arg(m.read);
            async move { call.invoke_async::<i64>(&mut conn).await }
        });
        let left = try_join_all(drops).await.map_err(from_redis)?;
        if moved.is_empty() {
            return Ok(());
        }
        let mut release = self.scripts.feed_release.prepare_invoke();
        release.key(self.keys.feed_due(shard));
        for (m, left) in moved.iter().zip(left) {
            release.arg(m.claim.customer.as_str()).arg(m.claim.leased);
            // Not drained (more than one page was pending): due again at once.
            release.arg(if left > 0 {
                now.timestamp_millis().to_string()
            } else {
                String::new()
            });
        }
        let _: i64 = release
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    pub(super) async fn note(
        &self,
        customer: &CustomerId,
        note: &FeedNote,
    ) -> Result<(), StoreError> {
        self.announce_feed(customer, note.at).await?;
        let mut call = self.scripts.feed_note.prepare_invoke();
        call.key(self.keys.customer(customer));
        match &note.effect {
            NoteEffect::None => {
                call.key(self.keys.customer(customer));
            }
            NoteEffect::OpenComplaint(conv) => {
                call.key(self.keys.conversation(conv));
            }
        }
        call.arg(note.kind.as_str())
            .arg(&note.subject)
            .arg(note.at.timestamp_millis())
            .arg(serde_json::to_string(&note.data).map_err(corrupt)?);
        if let NoteEffect::OpenComplaint(conv) = &note.effect {
            call.arg(1)
                .arg("complaint")
                .arg(conv.to_string())
                .arg("complained")
                .arg(1);
        } else {
            call.arg(0);
        }
        let _: i64 = call
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }
}
