//! A customer's personal agent as the customer's hash records it (`personal_agent`, with
//! `pa_born`, the life of the agent that took them: `Incarnation`), checked against the
//! agent living under that id now, which lives in another hash slot (the agent's group).

use super::codec::from_redis;
use super::RedisStore;
use crate::domain::{AgentId, CustomerId, Incarnation, RoutingGroup};
use crate::store::{Assignment, StoreError};

impl RedisStore {
    /// The life of the agent living under `id` now: `None` if no agent does, `Some(None)`
    /// for one created before lives were recorded (`Incarnation`).
    pub(super) async fn born(
        &self,
        id: &AgentId,
    ) -> Result<Option<Option<Incarnation>>, StoreError> {
        let group = self.agent_group(id).await?;
        let (member, born): (bool, Option<String>) = redis::pipe()
            .sismember(self.keys.agents(&group), id.as_str())
            .hget(self.keys.agent(&group, id), "born")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(member.then(|| born.as_deref().and_then(Incarnation::parse)))
    }

    /// Whether `id` is a customer's personal agent still: the agent lives, in the life
    /// the customer recorded (`recorded`; '' for a record older than lives).
    pub(super) async fn personal_alive(
        &self,
        id: &AgentId,
        recorded: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.born(id).await?.is_some_and(|now| {
            Incarnation::same(Incarnation::parse(recorded).as_ref(), now.as_ref())
        }))
    }

    /// Records on the customer the personal agent who took them (see `adopt.lua`).
    pub(super) async fn adopt(
        &self,
        a: &Assignment,
        group: &RoutingGroup,
    ) -> Result<(), StoreError> {
        let born = self.born(&a.agent_id).await?.flatten();
        let customer = a.conversation_id.customer();
        let (gone, gone_born) = self.gone_personal_agent(customer).await?;
        let _: i64 = self
            .scripts
            .adopt
            .key(self.keys.customer(a.conversation_id.customer()))
            .arg(a.agent_id.as_str())
            .arg(group.as_str())
            .arg(born.as_ref().map_or("", Incarnation::as_str))
            .arg(gone)
            .arg(gone_born)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    /// `customer`'s personal agent and the life recorded with them when that agent has
    /// been removed (or created again) since; two empty strings otherwise.
    pub(super) async fn gone_personal_agent(
        &self,
        customer: &CustomerId,
    ) -> Result<(String, String), StoreError> {
        let (agent, born): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.keys.customer(customer))
            .arg(&["personal_agent", "pa_born"])
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let (Some(agent), born) = (agent, born.unwrap_or_default()) else {
            return Ok(Default::default());
        };
        let alive = match agent.parse::<AgentId>() {
            Ok(id) => self.personal_alive(&id, &born).await?,
            Err(_) => false,
        };
        Ok(if alive {
            Default::default()
        } else {
            (agent, born)
        })
    }
}
