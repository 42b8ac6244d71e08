//! Setting what a routed conversation needs (an agent or admin says it needs billing ≥ 3,
//! or Spanish): one routing script on its group's slot (`lua/routing/require.lua`), with
//! the relaxing steps computed here from the channel and the customer's tier.

use chrono::{DateTime, Utc};
use redis::Value;

use super::placement::strings;
use super::{from_redis, RedisStore};
use crate::domain::{Channel, ConversationId, Requirements, DEFAULT_TIER};
use crate::routing::Needs;
use crate::store::{Assignment, StoreError};

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
            .scripts
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
}
