//! Merges of two customers proven one person: a saga of idempotent single-slot scripts
//! (merge_out on the younger, merge_in on the older, identity pointers moved last) that
//! whoever meets a half-merged customer finishes.

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;
use serde::{Deserialize, Deserializer};

use super::codec::{corrupt, from_redis, parse_customer};
use super::ingest::{script_answer, ScriptAnswer};
use super::RedisStore;
use crate::domain::{AgentId, CustomerId, Identity, RoutingGroup};
use crate::store::{StoreError, MAX_HOPS};

/// What merge_out hands to merge_in: everything of S that T absorbs.
#[derive(Debug, Deserialize)]
pub(super) struct Snapshot {
    merged_into: String,
    /// The conversation that was open when the customer was merged away.
    #[serde(default)]
    open: Option<String>,
    /// The routing group that conversation was routed in.
    #[serde(default)]
    open_group: Option<String>,
    #[serde(deserialize_with = "lua_list")]
    ids: Vec<String>,
}

/// cjson encodes an empty Lua table as `{}`; read that as an empty list.
pub(super) fn lua_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrEmpty {
        List(Vec<String>),
        Empty(serde_json::Map<String, serde_json::Value>),
    }
    match ListOrEmpty::deserialize(d)? {
        ListOrEmpty::List(v) => Ok(v),
        ListOrEmpty::Empty(map) if map.is_empty() => Ok(Vec::new()),
        ListOrEmpty::Empty(_) => Err(serde::de::Error::custom("expected a list")),
    }
}

impl RedisStore {
    /// Merges `source` into `target` and answers the customer that survives (which is
    /// `target`, or whoever `target` itself was merged into meanwhile).
    pub(super) async fn merge(
        &self,
        source: &CustomerId,
        target: &CustomerId,
        now: DateTime<Utc>,
    ) -> Result<CustomerId, StoreError> {
        let raw: String = self
            .scripts
            .merge_out
            .key(self.keys.customer(source))
            .key(self.keys.conversations(source))
            .arg(target.as_str())
            .arg(now.timestamp_millis())
            .arg(source.as_str())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        if raw == "erasing" {
            return Err(erasing(source));
        }
        let snapshot: Snapshot = serde_json::from_str(&raw).map_err(corrupt)?;
        let into = parse_customer(&snapshot.merged_into)?;
        // `source` may have gone into another customer first; finish that merge (the
        // merge_in is idempotent, and its first runner may have died) unless the customer
        // it went into absorbed it already: then its data went on with that customer's
        // own merges, and replaying the snapshot into wherever that customer went since
        // would absorb it twice (a second conversation, a personal agent settled then).
        let absorbed_by = if self.has_absorbed(&into, source).await? {
            self.live(&into).await?
        } else {
            self.absorb(&into, source, &raw, now).await?
        };
        self.settle_portfolios(&absorbed_by).await?;
        if let Some(open) = &snapshot.open {
            // Its timeline joined the survivor's conversation, which routing owns now.
            let group = match &snapshot.open_group {
                Some(g) => g.parse().map_err(corrupt)?,
                None => RoutingGroup::default(),
            };
            self.release_conversation(&group, &open.parse().map_err(corrupt)?, now)
                .await?;
        }
        self.repoint(&snapshot.ids, source, &absorbed_by).await?;
        if absorbed_by == *target {
            return Ok(absorbed_by);
        }
        // Then `target` and that customer are one person as well: younger into older.
        let target = self.live(target).await?;
        if target == absorbed_by {
            return Ok(target);
        }
        let (older, younger) = if absorbed_by < target {
            (absorbed_by, target)
        } else {
            (target, absorbed_by)
        };
        Box::pin(self.merge(&younger, &older, now)).await
    }

    /// Runs merge_in of `source`'s snapshot on `target`, following `target`'s own merges;
    /// answers the customer that absorbed it.
    pub(super) async fn absorb(
        &self,
        target: &CustomerId,
        source: &CustomerId,
        snapshot: &str,
        now: DateTime<Utc>,
    ) -> Result<CustomerId, StoreError> {
        let mut target = target.clone();
        for _ in 0..MAX_HOPS {
            let (gone, born) = self.gone_personal_agent(&target).await?;
            // The merge writes `customer.merged` on the survivor: announced first.
            self.announce_feed(&target, now).await?;
            let answer: Vec<String> = self
                .scripts
                .merge_in
                .key(self.keys.customer(&target))
                .key(self.keys.conversations(&target))
                .arg(source.as_str())
                .arg(now.timestamp_millis())
                .arg(target.as_str())
                .arg(snapshot)
                .arg(self.policy.dedup_ttl.num_milliseconds())
                .arg(gone)
                .arg(born)
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            match script_answer(answer)? {
                ScriptAnswer::Moved(next) => target = next,
                ScriptAnswer::Erased => return Err(erasing(&target)),
                _ => return Ok(target),
            }
        }
        Err(StoreError::Contention(format!(
            "absorbing {source} kept moving"
        )))
    }

    /// Whether `customer`'s `merge_in` already ran for `source` (its set of absorbed ids,
    /// kept after `customer` is merged on in turn).
    async fn has_absorbed(
        &self,
        customer: &CustomerId,
        source: &CustomerId,
    ) -> Result<bool, StoreError> {
        redis::cmd("SISMEMBER")
            .arg(self.keys.customer_absorbed(customer))
            .arg(source.as_str())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)
    }

    /// Settles the portfolio drops merges into `survivor` left owing (`merge_in.lua`):
    /// each merged customer's former personal agent counts one customer fewer, once
    /// (`forget_customer.lua`), then the debt is cleared.
    async fn settle_portfolios(&self, survivor: &CustomerId) -> Result<(), StoreError> {
        let debts = self.keys.customer_portfolio_drops(survivor);
        let owed: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(&debts)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        for (merged, agent) in owed {
            let agent: AgentId = agent.parse().map_err(corrupt)?;
            let group = self.agent_group(&agent).await?;
            // The merged customer's hash outlives the merge (`merged_into`), life included.
            let born: Option<String> = redis::cmd("HGET")
                .arg(self.keys.customer(&parse_customer(&merged)?))
                .arg("pa_born")
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            let _: i64 = self
                .scripts
                .forget_customer
                .key(self.keys.routing(&group))
                .arg(&merged)
                .arg(agent.as_str())
                .arg(born.unwrap_or_default())
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            let _: i64 = redis::cmd("HDEL")
                .arg(&debts)
                .arg(&merged)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
        }
        Ok(())
    }

    /// The customer that holds `id`'s data now (follows `merged_into`).
    pub(super) async fn live(&self, id: &CustomerId) -> Result<CustomerId, StoreError> {
        let mut id = id.clone();
        for _ in 0..MAX_HOPS {
            let next: Option<String> = redis::cmd("HGET")
                .arg(self.keys.customer(&id))
                .arg("merged_into")
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            match next {
                Some(next) => id = parse_customer(&next)?,
                None => return Ok(id),
            }
        }
        Err(StoreError::Contention(format!(
            "merge chain from {id} too long"
        )))
    }

    /// Points a merged customer's identities at the survivor (saves later requests a hop).
    pub(super) async fn repoint(
        &self,
        identities: &[String],
        from: &CustomerId,
        to: &CustomerId,
    ) -> Result<(), StoreError> {
        let moves = identities
            .iter()
            .filter_map(|key| Identity::from_stored_key(key))
            .map(|identity| {
                let mut conn = self.conn.clone();
                let mut call = self.scripts.repoint.key(self.keys.identity(&identity));
                call.arg(from.as_str()).arg(to.as_str());
                async move { call.invoke_async::<i64>(&mut conn).await }
            });
        try_join_all(moves).await.map_err(from_redis)?;
        Ok(())
    }
}

/// A merge met a customer being erased: the erasure drops their identity pointers
/// within moments, and the request's retry starts a new customer.
fn erasing(customer: &CustomerId) -> StoreError {
    StoreError::Contention(format!("customer {customer} is being erased"))
}
