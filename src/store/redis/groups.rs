//! Routing groups on Redis: which group an agent works in (`P:ag:{agent}`), which groups
//! exist (`P:groups`, for the timers and the gauges), and which group a conversation is
//! routed in (its `group` field, decided by `ingest.lua`).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use super::{corrupt, from_redis, RedisStore};
use crate::domain::{AgentId, ConversationId, RoutingGroup};
use crate::store::sharded_cache::ShardedCache;
use crate::store::StoreError;

/// How long a process trusts its memory of an agent's group for event reads. An agent
/// only moves while idle (nothing held, nobody waiting), so a stale answer misses no
/// event about their conversations.
const AGENT_GROUP_TTL: Duration = Duration::from_secs(2);
/// Agents remembered at most (a full shard of the memory starts over).
const AGENT_GROUP_ENTRIES: usize = 100_000;

/// What this process knows about groups without asking Redis.
pub(super) struct GroupMemory {
    registered: Mutex<HashSet<RoutingGroup>>,
    /// Read on every `message.created` and event poll: sharded (see `memo`).
    agents: ShardedCache<AgentId, RoutingGroup>,
    /// Each group's event counter as the shared poll last read its streams.
    event_sequences: Mutex<HashMap<RoutingGroup, String>>,
}

impl Default for GroupMemory {
    fn default() -> Self {
        Self {
            registered: Mutex::default(),
            agents: ShardedCache::new(AGENT_GROUP_ENTRIES),
            event_sequences: Mutex::default(),
        }
    }
}

impl GroupMemory {
    /// Whether the shared poll already read `group`'s streams at counter `seq`.
    pub(super) fn event_sequence_seen(&self, group: &RoutingGroup, seq: &str) -> bool {
        self.event_sequences
            .lock()
            .is_ok_and(|m| m.get(group).is_some_and(|s| s == seq))
    }

    pub(super) fn saw_event_sequence(&self, group: &RoutingGroup, seq: String) {
        if let Ok(mut m) = self.event_sequences.lock() {
            m.insert(group.clone(), seq);
        }
    }
}

pub(super) fn parse_group(raw: Option<String>) -> Result<RoutingGroup, StoreError> {
    raw.map_or_else(
        || Ok(RoutingGroup::default()),
        |g| g.parse().map_err(corrupt),
    )
}

impl RedisStore {
    /// The group an agent works in (the default one if they were never put elsewhere).
    pub(super) async fn agent_group(&self, id: &AgentId) -> Result<RoutingGroup, StoreError> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.keys.agent_group(id))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let group = parse_group(raw)?;
        self.remember_agent_group(id, &group);
        Ok(group)
    }

    /// The agent's group, from memory when it was read within `AGENT_GROUP_TTL`: the
    /// event stream polls often and must not cost a round trip more each time.
    pub(super) async fn agent_group_cached(
        &self,
        id: &AgentId,
    ) -> Result<RoutingGroup, StoreError> {
        self.agent_group_within(id, AGENT_GROUP_TTL).await
    }

    /// The agent's group, from memory when it was read within `ttl`.
    pub(super) async fn agent_group_within(
        &self,
        id: &AgentId,
        ttl: Duration,
    ) -> Result<RoutingGroup, StoreError> {
        match self.groups.agents.get_within(id, ttl) {
            Some(group) => Ok(group),
            None => self.agent_group(id).await,
        }
    }

    fn remember_agent_group(&self, id: &AgentId, group: &RoutingGroup) {
        self.groups.agents.put(id.clone(), group.clone());
    }

    /// Points the agent at their group.
    pub(super) async fn set_agent_group(
        &self,
        id: &AgentId,
        group: &RoutingGroup,
    ) -> Result<(), StoreError> {
        self.register_group(group).await?;
        let _: () = redis::cmd("SET")
            .arg(self.keys.agent_group(id))
            .arg(group.as_str())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        self.remember_agent_group(id, group);
        Ok(())
    }

    /// Adds a group to `P:groups` once per process (the default group is implied).
    pub(super) async fn register_group(&self, group: &RoutingGroup) -> Result<(), StoreError> {
        let known = group.is_default()
            || self
                .groups
                .registered
                .lock()
                .is_ok_and(|r| r.contains(group));
        if known {
            return Ok(());
        }
        let _: () = redis::cmd("SADD")
            .arg(self.keys.groups())
            .arg(group.as_str())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        if let Ok(mut r) = self.groups.registered.lock() {
            r.insert(group.clone());
        }
        Ok(())
    }

    /// Every routing group, the default one first.
    pub(super) async fn all_groups(&self) -> Result<Vec<RoutingGroup>, StoreError> {
        let mut names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.groups())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        names.sort();
        let mut groups = vec![RoutingGroup::default()];
        for name in names {
            let group: RoutingGroup = name.parse().map_err(corrupt)?;
            if !group.is_default() {
                groups.push(group);
            }
        }
        Ok(groups)
    }

    /// The group a conversation is routed in (the default before it ever was).
    pub(super) async fn conversation_group(
        &self,
        conv: &ConversationId,
    ) -> Result<RoutingGroup, StoreError> {
        let raw: Option<String> = redis::cmd("HGET")
            .arg(self.keys.conversation(conv))
            .arg("group")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        parse_group(raw)
    }
}
