//! Agents' events on Redis: one stream per agent in their routing group's slot
//! (`P:rt:{…}:ev:<agent>`), written by the routing scripts and, batched, by `push_event`
//! (`event_batch`), read by the event streams; and the one shared poll of every open
//! stream of a replica.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::try_join_all;

use super::codec::{agent_event, from_redis};
use super::event_batch::EventBatcher;
use super::RedisStore;
use crate::domain::{AgentId, ConversationId, RoutingGroup};
use crate::store::{AgentEvent, EventKind, EventStore, StoreError};

/// How long the shared poll trusts its memory of an agent's group. An agent moves only
/// while idle; an open stream of a moved agent sees their new group's events after this
/// (a reconnect sees them at once).
const POLL_GROUP_TTL: Duration = Duration::from_secs(300);
/// Streams named in one `XREAD` at most (its arguments stay bounded).
const STREAMS_PER_READ: usize = 500;

/// `XREAD`'s answer: per stream, its entries as `(id, [field, value, ...])`.
type StreamsReply = Option<Vec<(String, Vec<(String, Vec<String>)>)>>;

impl RedisStore {
    pub(super) async fn push_agent_event(
        &self,
        agent: &AgentId,
        kind: EventKind,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        let group = self.agent_group_cached(agent).await?;
        let fields = [
            ("kind", kind.as_str().to_owned()),
            ("conversation", conversation.to_string()),
            ("reason", String::new()),
            ("agent", String::new()),
        ];
        self.events
            .get_or_init(|| EventBatcher::start(self.conn.clone()))
            .push(
                self.keys.agent_events(&group, agent),
                self.keys.event_sequence(&group),
                fields,
            )
            .await
    }

    pub(super) async fn read_agent_events(
        &self,
        agent: &AgentId,
        after: &str,
        limit: usize,
    ) -> Result<Vec<AgentEvent>, StoreError> {
        let group = self.agent_group_cached(agent).await?;
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(self.keys.agent_events(&group, agent))
            .arg(format!("({after}"))
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        entries
            .into_iter()
            .map(|(id, fields)| agent_event(id, fields))
            .collect()
    }

    pub(super) async fn newest_event_id(&self, agent: &AgentId) -> Result<String, StoreError> {
        let group = self.agent_group_cached(agent).await?;
        let newest: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg(self.keys.agent_events(&group, agent))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(newest
            .into_iter()
            .next()
            .map_or_else(|| "0-0".to_owned(), |(id, _)| id))
    }

    /// Per routing group: one `GET` of its event counter, and only when it moved since
    /// the last poll, one `XREAD` (per `STREAMS_PER_READ` agents) for every cursor: a
    /// group's streams share its slot, so this is cluster-safe. Idle agents cost a
    /// `GET` per group per poll, however many of them.
    pub(super) async fn newest_of_streams(
        &self,
        cursors: &[(AgentId, String)],
        limit: usize,
    ) -> Result<Vec<(AgentId, String)>, StoreError> {
        let mut by_group: BTreeMap<RoutingGroup, Vec<&(AgentId, String)>> = BTreeMap::new();
        for cursor in cursors {
            let group = self.agent_group_within(&cursor.0, POLL_GROUP_TTL).await?;
            by_group.entry(group).or_default().push(cursor);
        }
        let polls = by_group
            .iter()
            .map(|(group, cursors)| self.poll_group(group, cursors, limit));
        Ok(try_join_all(polls).await?.into_iter().flatten().collect())
    }

    async fn poll_group(
        &self,
        group: &RoutingGroup,
        cursors: &[&(AgentId, String)],
        limit: usize,
    ) -> Result<Vec<(AgentId, String)>, StoreError> {
        let seq: Option<String> = redis::cmd("GET")
            .arg(self.keys.event_sequence(group))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let seq = seq.unwrap_or_default();
        if self.groups.event_sequence_seen(group, &seq) {
            return Ok(Vec::new());
        }
        let reads = cursors
            .chunks(STREAMS_PER_READ)
            .map(|chunk| self.xread(group, chunk, limit));
        let newest = try_join_all(reads).await?.into_iter().flatten().collect();
        // Remembered only once read: a failed read is retried next poll.
        self.groups.saw_event_sequence(group, seq);
        Ok(newest)
    }

    async fn xread(
        &self,
        group: &RoutingGroup,
        cursors: &[&(AgentId, String)],
        limit: usize,
    ) -> Result<Vec<(AgentId, String)>, StoreError> {
        let keys: BTreeMap<String, &AgentId> = cursors
            .iter()
            .map(|(agent, _)| (self.keys.agent_events(group, agent), agent))
            .collect();
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT").arg(limit).arg("STREAMS");
        for (agent, _) in cursors {
            cmd.arg(self.keys.agent_events(group, agent));
        }
        for (_, after) in cursors {
            cmd.arg(after);
        }
        let reply: StreamsReply = cmd
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(reply
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(key, entries)| {
                let agent = keys.get(&key)?;
                let (newest, _) = entries.last()?;
                Some(((*agent).clone(), newest.clone()))
            })
            .collect())
    }
}

#[async_trait]
impl EventStore for RedisStore {
    async fn push_event(
        &self,
        agent: &AgentId,
        kind: EventKind,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        // A kind 0.1.0 cannot read waits until every replica reads it.
        if kind == EventKind::MessageDelivery
            && !self
                .format_gate
                .allows(crate::store::format::DELIVERY_EVENTS)
        {
            return Ok(());
        }
        self.push_agent_event(agent, kind, conversation).await
    }

    async fn agent_events(
        &self,
        agent: &AgentId,
        after: &str,
        limit: usize,
    ) -> Result<Vec<AgentEvent>, StoreError> {
        self.read_agent_events(agent, after, limit).await
    }

    async fn last_event_id(&self, agent: &AgentId) -> Result<String, StoreError> {
        self.newest_event_id(agent).await
    }

    async fn newest_events(
        &self,
        cursors: &[(AgentId, String)],
        limit: usize,
    ) -> Result<Vec<(AgentId, String)>, StoreError> {
        self.newest_of_streams(cursors, limit).await
    }
}
