//! Transfers to an agent of another routing group: a saga of single-slot steps, since
//! each group is its own hash slot and no script may span two.
//!
//! 1. `hand_off.lua` (source group): the conversation leaves, its holder's unit is freed,
//!    and a record under `:out` says where it goes — one atomic step.
//! 2. `regroup.lua` (customer slot): the conversation's `group` moves, if it is still open.
//! 3. `take_over.lua` (target group): it arrives for the target (or a fallback, or the
//!    queue); a rerun answers where it stands, and a tombstone left by a resolve in
//!    between stops it.
//! 4. The `agent` mirror is written and the `:out` record dropped.
//!
//! Every step is idempotent, so a process killed between any two leaves a record that
//! the timers (any replica) finish; the conversation, the capacity and the events move
//! exactly once.

use chrono::{DateTime, Utc};
use redis::Value;

use super::placement::{head_strings, route_of, strings};
use super::transfer_notes::PendingNote;
use super::{corrupt, from_redis, RedisStore};
use crate::domain::{AgentId, Channel, ConversationId, Route, RoutingGroup};
use crate::store::{Assignment, StoreError, TransferOutcome, MAX_TRANSFERS};

/// A hand-off record younger than this belongs to a request still under way; older
/// ones were left by a process that died, and the timers finish them.
const ABANDONED_AFTER_MS: i64 = 5_000;

/// What `hand_off.lua` records: `group|agent|channel|priority|since|transfers|started`.
struct Record {
    group: RoutingGroup,
    agent: AgentId,
    channel: Channel,
    priority: u8,
    since_ms: i64,
    transfers: u32,
    started_ms: i64,
}

impl Record {
    fn parse(raw: &str) -> Result<Self, StoreError> {
        let parts: Vec<&str> = raw.split('|').collect();
        let [group, agent, channel, priority, since, transfers, started] = parts.as_slice() else {
            return Err(StoreError::Corrupt(format!("hand-off record {raw}")));
        };
        Ok(Self {
            group: group.parse().map_err(corrupt)?,
            agent: agent.parse().map_err(corrupt)?,
            channel: channel.parse().map_err(corrupt)?,
            priority: priority.parse().map_err(corrupt)?,
            since_ms: since.parse().map_err(corrupt)?,
            transfers: transfers.parse().map_err(corrupt)?,
            started_ms: started.parse().map_err(corrupt)?,
        })
    }
}

impl RedisStore {
    /// Transfers `conv` from `from` to `agent` of group `to`. `None`: past the transfer
    /// limit, which an ordinary transfer sends to the supervisor queue of its group.
    pub(super) async fn hand_off(
        &self,
        from: &RoutingGroup,
        to: &RoutingGroup,
        conv: &ConversationId,
        agent: &AgentId,
        note: Option<&PendingNote>,
        now: DateTime<Utc>,
    ) -> Result<Option<TransferOutcome>, StoreError> {
        if let Some(channel) = self.routed_channel(from, conv).await? {
            if !self.can_take(to, agent, channel).await? {
                return Ok(Some(TransferOutcome::AgentUnavailable));
            }
        }
        self.register_group(to).await?;
        let answer: Vec<Value> = self
            .scripts
            .hand_off
            .key(self.keys.routing(from))
            .arg(conv.to_string())
            .arg(to.as_str())
            .arg(agent.as_str())
            .arg(now.timestamp_millis())
            .arg(MAX_TRANSFERS)
            .arg(PendingNote::args(note))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let mut parts = answer.into_iter();
        let head: String = parts
            .next()
            .map(|v| redis::from_redis_value(v).map_err(corrupt))
            .transpose()?
            .unwrap_or_default();
        match head.as_str() {
            "not_routed" => return Ok(Some(TransferOutcome::NotRouted)),
            "limit" => return Ok(None),
            _ => {}
        }
        let record = Record::parse(&head)?;
        let freed = parts.map(strings).collect::<Result<Vec<_>, _>>()?;
        let mut assignments = self.recorded(freed, from, now).await?;
        crate::store::crash_point("handoff");
        let (route, more) = self.complete(from, conv, &record, now).await?;
        assignments.extend(more);
        if let Some(note) = note {
            self.write_note(from, &note.id, &note.payload).await?;
        }
        Ok(Some(match route {
            Some(route) => TransferOutcome::Transferred {
                route,
                transfers: record.transfers,
                assignments,
            },
            None => TransferOutcome::NotRouted,
        }))
    }

    /// Steps 2-4 of a hand-off recorded in `from`; `None` for a conversation resolved
    /// meanwhile (it stays unrouted).
    async fn complete(
        &self,
        from: &RoutingGroup,
        conv: &ConversationId,
        record: &Record,
        now: DateTime<Utc>,
    ) -> Result<(Option<Route>, Vec<Assignment>), StoreError> {
        let moved: i64 = self
            .scripts
            .regroup
            .key(self.keys.conversation(conv))
            .arg(record.group.as_str())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let mut outcome = (None, Vec::new());
        if moved == 1 {
            outcome = self.take_over(conv, record, now).await?;
        }
        let _: i64 = redis::cmd("HDEL")
            .arg(self.keys.hand_offs(from))
            .arg(conv.to_string())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(outcome)
    }

    async fn take_over(
        &self,
        conv: &ConversationId,
        record: &Record,
        now: DateTime<Utc>,
    ) -> Result<(Option<Route>, Vec<Assignment>), StoreError> {
        let answer: Vec<Value> = self
            .scripts
            .take_over
            .key(self.keys.routing(&record.group))
            .arg(conv.to_string())
            .arg(record.agent.as_str())
            .arg(record.channel.as_str())
            .arg(record.priority)
            .arg(record.since_ms)
            .arg(record.transfers)
            .arg(record.started_ms)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let mut parts = answer.into_iter();
        let head = head_strings(&mut parts, 4)?;
        let [state, agent, queue, _transfers] = head.as_slice() else {
            return Ok((None, Vec::new()));
        };
        let route = route_of(state, agent, "already_assigned", queue)?;
        // A route taken over from another group serves no known episode yet.
        self.mirror_agent(conv, route.agent_id.as_ref(), "", (now, true))
            .await?;
        let made = parts.map(strings).collect::<Result<Vec<_>, _>>()?;
        Ok((Some(route), self.recorded(made, &record.group, now).await?))
    }

    /// Finishes the hand-offs out of `group` that a dead process left half done.
    pub(super) async fn finish_handoffs(
        &self,
        group: &RoutingGroup,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let records: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.keys.hand_offs(group))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let mut made = Vec::new();
        for (conv, raw) in records {
            let record = Record::parse(&raw)?;
            if now.timestamp_millis() - record.started_ms < ABANDONED_AFTER_MS {
                continue;
            }
            let conv: ConversationId = conv.parse().map_err(corrupt)?;
            tracing::warn!(%conv, from = %group, to = %record.group, "finishing a hand-off left half done");
            made.extend(self.complete(group, &conv, &record, now).await?.1);
        }
        Ok(made)
    }

    async fn routed_channel(
        &self,
        group: &RoutingGroup,
        conv: &ConversationId,
    ) -> Result<Option<Channel>, StoreError> {
        let channel: Option<String> = redis::cmd("HGET")
            .arg(self.keys.route(group, conv))
            .arg("channel")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        channel.map(|c| c.parse().map_err(corrupt)).transpose()
    }

    /// Whether `agent` is online with room on `channel` in `group` (read ahead of the
    /// hand-off, which falls back if it changed meanwhile).
    async fn can_take(
        &self,
        group: &RoutingGroup,
        agent: &AgentId,
        channel: Channel,
    ) -> Result<bool, StoreError> {
        let ch = channel.as_str();
        let (presence, cap, load): (Option<String>, Option<u32>, Option<u32>) = redis::cmd("HMGET")
            .arg(self.keys.agent(group, agent))
            .arg(&["presence", &format!("cap:{ch}"), &format!("load:{ch}")])
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(presence.as_deref() == Some("online") && load.unwrap_or(0) < cap.unwrap_or(0))
    }
}
