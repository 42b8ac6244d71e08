//! A customer's erasure on Redis: the record and the mark in the customer's slot
//! (`lua/erasure/begin.lua`), the inventory kept with the record, the customers' own keys
//! (`records.lua`), each step idempotent. Routing and what timelines point to are in
//! `erasure_traces.rs`.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;

use super::codec::{corrupt, from_redis, parse_customer, Hash};
use super::RedisStore;
use crate::domain::{ConversationId, CustomerId, Identity};
use crate::store::erasure::{before_erasures, erasure_id, Erasure, ErasureInventory, ErasureState};
use crate::store::format;
use crate::store::{Assignment, ErasureStore, StoreError, MAX_HOPS};

/// Most customers one erasure follows through merges (a customer merged from hundreds of
/// identities is possible; thousands means something else is wrong).
const MAX_MERGED: usize = 4096;

#[async_trait]
impl ErasureStore for RedisStore {
    async fn begin_erasure(
        &self,
        customer: &CustomerId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Erasure>, StoreError> {
        if !self.format_gate.allows(format::ERASURES) {
            return Err(before_erasures());
        }
        let mut id = customer.clone();
        for _ in 0..MAX_HOPS {
            // Listed as pending before it begins: a replica that dies right after the
            // script leaves it to the sweep, which finds out whether it began.
            self.list_erasure(&id, lease_until).await?;
            let answer: Vec<String> = self
                .scripts
                .erasure_begin
                .key(self.keys.customer(&id))
                .arg(now.timestamp_millis())
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            let erasure = match answer.as_slice() {
                [status] if status == "begun" => {
                    self.unpoint_identities(&id).await?;
                    return self.erasure_record(&id).await;
                }
                [status] if status == "exists" => self.erasure_record(&id).await?,
                _ => None,
            };
            // Nothing pending under this id (a stray listing, a merged id, a finished one).
            if erasure
                .as_ref()
                .is_none_or(|e| e.state == ErasureState::Done)
            {
                self.unlist_erasure(&id).await?;
            }
            match answer.as_slice() {
                [status] if status == "missing" || status == "exists" => return Ok(erasure),
                [status, next] if status == "moved" || status == "of" => {
                    id = parse_customer(next)?;
                }
                other => return Err(StoreError::Corrupt(format!("begin answered {other:?}"))),
            }
        }
        Err(StoreError::Contention(format!(
            "merge chain from {customer} too long"
        )))
    }

    async fn erasure(&self, customer: &CustomerId) -> Result<Option<Erasure>, StoreError> {
        self.erasure_record(customer).await
    }

    async fn claim_erasures(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<CustomerId>, StoreError> {
        let key = self.keys.erasures_pending();
        let due: Vec<String> = redis::cmd("ZRANGE")
            .arg(&key)
            .arg("-inf")
            .arg(now.timestamp_millis())
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let mut claimed = Vec::new();
        for customer in due {
            // `ZADD XX GT CH`: one caller moves the lease forward; another sees no change.
            let moved: i64 = redis::cmd("ZADD")
                .arg(&key)
                .arg("XX")
                .arg("GT")
                .arg("CH")
                .arg(lease_until.timestamp_millis())
                .arg(&customer)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            if moved == 1 {
                claimed.push(parse_customer(&customer)?);
            }
        }
        Ok(claimed)
    }

    async fn erasure_inventory(
        &self,
        customer: &CustomerId,
    ) -> Result<ErasureInventory, StoreError> {
        if let Some(kept) = self.kept_inventory(customer).await? {
            return Ok(kept);
        }
        let inventory = self.take_inventory(customer).await?;
        let _: () = redis::cmd("HSET")
            .arg(self.keys.erasure(customer))
            .arg("merged")
            .arg(joined(&inventory.merged))
            .arg("convs")
            .arg(joined(&inventory.conversations))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(inventory)
    }

    async fn erase_routing(
        &self,
        inventory: &ErasureInventory,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let made = self.erase_from_routing(inventory, now).await?;
        // The feed's entries naming them go before the archive step, so its sink cannot
        // copy them there afterwards (the finish scrubs again what a relay moved since).
        self.scrub_feeds(inventory).await?;
        Ok(made)
    }

    async fn erase_references(&self, inventory: &ErasureInventory) -> Result<(), StoreError> {
        self.erase_pointers(inventory).await
    }

    async fn erase_records(&self, inventory: &ErasureInventory) -> Result<(), StoreError> {
        // Pointers first, while the identity sets still list them.
        for customer in inventory.customers() {
            self.unpoint_identities_of(customer, inventory).await?;
        }
        let removals = inventory.customers().map(|customer| {
            let of = match customer == &inventory.customer {
                true => String::new(),
                false => inventory.customer.to_string(),
            };
            let mut conn = self.conn.clone();
            let mut call = self.scripts.erasure_records.prepare_invoke();
            call.key(self.keys.customer(customer))
                .key(self.keys.conversations(customer))
                .arg(of)
                .arg(customer.as_str());
            async move { call.invoke_async::<i64>(&mut conn).await }
        });
        try_join_all(removals).await.map_err(from_redis)?;
        // Off the feed relay's due lists: nothing of theirs is pending any more.
        for customer in inventory.customers() {
            self.unannounce_feed(customer).await?;
        }
        Ok(())
    }

    async fn finish_erasure(
        &self,
        inventory: &ErasureInventory,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.erase_routing_records(inventory).await?;
        let finished: i64 = self
            .scripts
            .erasure_finish
            .key(self.keys.erasure(&inventory.customer))
            .arg(now.timestamp_millis())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        self.unlist_erasure(&inventory.customer).await?;
        Ok(finished == 1)
    }
}

impl RedisStore {
    /// Lists an erasure as pending, held by its runner until `lease_until`, unless it is
    /// listed already.
    async fn list_erasure(
        &self,
        customer: &CustomerId,
        lease_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _: i64 = redis::cmd("ZADD")
            .arg(self.keys.erasures_pending())
            .arg("NX")
            .arg(lease_until.timestamp_millis())
            .arg(customer.as_str())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    async fn unlist_erasure(&self, customer: &CustomerId) -> Result<(), StoreError> {
        let _: i64 = redis::cmd("ZREM")
            .arg(self.keys.erasures_pending())
            .arg(customer.as_str())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    async fn erasure_record(&self, customer: &CustomerId) -> Result<Option<Erasure>, StoreError> {
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.keys.erasure(customer))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let hash = Hash(fields);
        let Some(state) = hash.get("state") else {
            return Ok(None);
        };
        Ok(Some(Erasure {
            erasure_id: erasure_id(customer),
            customer_id: customer.clone(),
            state: match state {
                "done" => ErasureState::Done,
                _ => ErasureState::Pending,
            },
            requested_at: hash.time("requested_at")?.unwrap_or_default(),
            done_at: hash.time("done_at")?,
            merged_customer_ids: ids(hash.get("merged"))?,
            conversation_ids: ids(hash.get("convs"))?,
        }))
    }

    async fn kept_inventory(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<ErasureInventory>, StoreError> {
        let kept: (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.keys.erasure(customer))
            .arg("merged")
            .arg("convs")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let (Some(merged), Some(convs)) = kept else {
            return Ok(None);
        };
        Ok(Some(ErasureInventory {
            customer: customer.clone(),
            merged: ids(Some(&merged))?,
            conversations: ids(Some(&convs))?,
        }))
    }

    /// The customer, everyone merged into them (through each one's set of absorbed
    /// customers, at any depth), and every conversation their lists name.
    async fn take_inventory(&self, customer: &CustomerId) -> Result<ErasureInventory, StoreError> {
        let mut seen = BTreeSet::from([customer.clone()]);
        let mut merged = Vec::new();
        let mut pending = vec![customer.clone()];
        let mut conversations: Vec<ConversationId> = Vec::new();
        while let Some(next) = pending.pop() {
            let (absorbed, convs): (Vec<String>, Vec<String>) = redis::pipe()
                .smembers(self.keys.customer_absorbed(&next))
                .lrange(self.keys.customer_conversations(&next), 0, -1)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            for conv in convs {
                let conv: ConversationId = conv.parse().map_err(corrupt)?;
                if !conversations.contains(&conv) {
                    conversations.push(conv);
                }
            }
            for other in absorbed {
                let other = parse_customer(&other)?;
                if seen.len() < MAX_MERGED && seen.insert(other.clone()) {
                    merged.push(other.clone());
                    pending.push(other);
                }
            }
        }
        Ok(ErasureInventory {
            customer: customer.clone(),
            merged,
            conversations,
        })
    }

    /// Makes the customer unreachable through their identities: every pointer to them, or
    /// to a customer merged into them, goes (those merged are marked too, so a reply to
    /// one of their conversations finds nothing).
    async fn unpoint_identities(&self, customer: &CustomerId) -> Result<(), StoreError> {
        let inventory = self.take_inventory(customer).await?;
        for merged in &inventory.merged {
            let _: i64 = redis::cmd("HSET")
                .arg(self.keys.customer(merged))
                .arg("erasing")
                .arg(1)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
        }
        for c in inventory.customers() {
            self.unpoint_identities_of(c, &inventory).await?;
        }
        Ok(())
    }

    async fn unpoint_identities_of(
        &self,
        customer: &CustomerId,
        inventory: &ErasureInventory,
    ) -> Result<(), StoreError> {
        let held: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.customer_identities(customer))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let identities: Vec<Identity> = held
            .iter()
            .filter_map(|k| Identity::from_stored_key(k))
            .collect();
        self.unpoint(&identities, inventory).await
    }

    /// Drops each identity's pointer while it names one of the erased customers, and this
    /// replica's memory of it.
    pub(super) async fn unpoint(
        &self,
        identities: &[Identity],
        inventory: &ErasureInventory,
    ) -> Result<(), StoreError> {
        let erased: Vec<&str> = inventory.customers().map(CustomerId::as_str).collect();
        let drops = identities.iter().map(|identity| {
            self.identities.forget(&identity.key());
            let mut conn = self.conn.clone();
            let mut call = self
                .scripts
                .erasure_unpoint
                .key(self.keys.identity(identity));
            call.arg(&erased);
            async move { call.invoke_async::<i64>(&mut conn).await }
        });
        try_join_all(drops).await.map_err(from_redis)?;
        Ok(())
    }
}

/// Ids as the record keeps them: space-separated.
fn joined<T: std::fmt::Display>(ids: &[T]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn ids<T: std::str::FromStr>(kept: Option<&str>) -> Result<Vec<T>, StoreError>
where
    T::Err: std::fmt::Display,
{
    kept.unwrap_or_default()
        .split_whitespace()
        .map(|id| id.parse().map_err(corrupt))
        .collect()
}
