//! Setting what a routed conversation needs (and its priority, and a customer's open
//! complaint), and listing a queue (an agent or admin says it needs billing ≥ 3,
//! or Spanish): one routing script on its group's slot (`lua/routing/require.lua`), with
//! the relaxing steps computed here from the channel and the customer's tier.

use chrono::{DateTime, Utc};
use redis::Value;

use super::routing::strings;
use super::{corrupt, from_redis, RedisStore};
use crate::domain::{Channel, ConversationId, CustomerId, Requirements, DEFAULT_TIER};
use crate::routing::Needs;
use crate::store::{Assignment, Queue, QueuedConversation, StoreError};

impl RedisStore {
    pub(super) async fn require(
        &self,
        id: &ConversationId,
        requirements: &Requirements,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        let group = self.conversation_group(id).await?;
        // Two slots (the group's routing, the customer's), so two commands, at once.
        let (mut a, mut b) = (self.conn.clone(), self.conn.clone());
        let mut route = redis::cmd("HGET");
        route.arg(self.keys.route(&group, id)).arg("channel");
        let mut customer = redis::cmd("HGET");
        customer.arg(self.keys.customer(id.customer())).arg("tier");
        let (channel, tier): (Option<String>, Option<String>) =
            tokio::try_join!(route.query_async(&mut a), customer.query_async(&mut b))
                .map_err(from_redis)?;
        let Some(channel) = channel.and_then(|c| c.parse::<Channel>().ok()) else {
            return Ok(None);
        };
        let tier = tier.unwrap_or_else(|| DEFAULT_TIER.to_owned());
        let needs = Needs::new(requirements, channel, &tier, now, &self.policy);
        let answer: Value = self
            .routing_scripts
            .require
            .key(self.keys.routing(&group))
            .arg(id.to_string())
            .arg(needs.encode())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let Value::Array(made) = answer else {
            return Ok(None);
        };
        let made = made
            .into_iter()
            .map(strings)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(self.recorded(made, &group, now).await?))
    }

    pub(super) async fn raise(&self, id: &ConversationId, floor: u8) -> Result<bool, StoreError> {
        let group = self.conversation_group(id).await?;
        let raised: i64 = self
            .routing_scripts
            .raise
            .key(self.keys.routing(&group))
            .arg(id.to_string())
            .arg(floor)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(raised == 1)
    }

    pub(super) async fn complaint(
        &self,
        customer: &CustomerId,
        conv: Option<&ConversationId>,
    ) -> Result<(), StoreError> {
        let key = self.keys.customer(customer);
        let cmd = match conv {
            Some(conv) => {
                let mut c = redis::cmd("HSET");
                c.arg(&key).arg("complaint").arg(conv.to_string());
                c
            }
            None => {
                let mut c = redis::cmd("HDEL");
                c.arg(&key).arg("complaint");
                c
            }
        };
        let _: () = cmd
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    /// Every group's queue, merged in queue order (score, then id).
    pub(super) async fn queue_listing(
        &self,
        queue: &Queue,
        limit: usize,
    ) -> Result<Vec<QueuedConversation>, StoreError> {
        let mut all: Vec<(f64, String)> = Vec::new();
        for group in self.all_groups().await? {
            let key = format!("{}:q:{}", self.keys.routing(&group), queue.as_str());
            let page: Vec<(String, f64)> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(limit.saturating_sub(1))
                .arg("WITHSCORES")
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            all.extend(page.into_iter().map(|(c, s)| (s, c)));
        }
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        all.truncate(limit);
        all.into_iter()
            .map(|(score, conv)| {
                let id = conv.parse().map_err(corrupt)?;
                QueuedConversation::from_score(id, score)
                    .ok_or_else(|| StoreError::Corrupt(format!("queue score {score}")))
            })
            .collect()
    }
}
