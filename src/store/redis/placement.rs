//! Routing on Redis: agents, capacity, queues and sticky waits under one hash tag
//! (`P:rt:{rt}`), changed only by the Lua scripts in `lua/routing/`, which share a prelude
//! with the layout and the choice indexes. The customer's slot keeps two mirrors, written
//! after routing decides: the customer's `personal_agent`, and the assigned `agent` on
//! the conversation, so a message to an assigned conversation needs no routing round trip.

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures_util::future::try_join_all;
use redis::Value;

use std::sync::atomic::Ordering;

use super::codec::Named;
use super::placement_check::Seen;
use super::transfer_notes::PendingNote;
use super::{corrupt, from_redis, RedisStore};
use crate::domain::{
    AgentId, Channel, ConversationId, Decision, Message, Queue, Requirements, Route, RouteReason,
    RoutingGroup,
};
use crate::routing::{Fit, Needs, RouteState};
use crate::store::{
    Assignment, QueueStat, RoutingSnapshot, StoreError, TransferOutcome, TransferTarget,
    MAX_TRANSFERS, QUEUES,
};

/// Most expired waits one timer call handles.
const TIMER_BATCH: usize = 100;

/// What routing one conversation decided.
pub(super) struct Routed {
    pub route: Route,
    /// The personal agent, when routing chose one just now, and their life.
    pub new_personal_agent: Option<(AgentId, String)>,
    /// Routing found no personal agent (the stored one was removed, and nobody could
    /// take their place): the customer's mirror must forget it, as the engine does.
    pub personal_gone: bool,
}

impl RedisStore {
    /// Routes a conversation that needs an agent (or answers where it stands), for the
    /// conversation's `episode` (its repeat contacts when the message joined it: see
    /// `route.lua`).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn route_conversation(
        &self,
        group: &RoutingGroup,
        conv: &ConversationId,
        episode: u32,
        channel: Channel,
        priority: u8,
        tier: &str,
        personal_agent: Option<&str>,
        personal_born: &str,
        requirements: &Requirements,
        now: DateTime<Utc>,
    ) -> Result<Routed, StoreError> {
        let needs = Needs::new(requirements, channel, tier, now, &self.policy);
        let answer: Vec<String> = self
            .scripts
            .route
            .key(self.keys.routing(group))
            .arg(conv.to_string())
            .arg(channel.as_str())
            .arg(priority)
            .arg(personal_agent.unwrap_or(""))
            .arg(now.timestamp_millis())
            .arg(self.policy.sticky_wait(channel, tier).num_milliseconds())
            .arg(needs.encode())
            .arg(episode)
            .arg(personal_born)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let answer = Named::of(answer, "route")?;
        let (reason, personal, new) = (
            answer.get("reason")?,
            answer.get("personal")?,
            answer.get("new")?,
        );
        let route = route_of(
            answer.get("state")?,
            answer.get("agent")?,
            reason,
            answer.get("queue")?,
        )?;
        let seen = Seen {
            personal,
            new: new == "1",
            presence: answer.get("presence")?,
            room: answer.get("room")? == "1",
            least_loaded: answer.get("least_loaded")?,
            fits: answer.get("fits")? == "1",
        };
        // A conversation routed before is answered as it stands, not placed again.
        let placed_now = reason != RouteReason::AlreadyAssigned.as_str();
        if placed_now && !seen.agrees(&route) {
            self.placement_mismatches.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%conv, ?route, ?seen, "the routing script and routing::place disagree");
            debug_assert!(false, "placement mismatch: {route:?} from {seen:?}");
        }
        let new_personal_agent = if new == "1" {
            let born = answer.get("born")?.to_owned();
            Some((personal.parse().map_err(corrupt)?, born))
        } else {
            None
        };
        Ok(Routed {
            route,
            new_personal_agent,
            personal_gone: placed_now && personal.is_empty() && personal_agent.is_some(),
        })
    }

    /// Where a conversation stands now, read-only.
    pub(super) async fn current_route(
        &self,
        conv: &ConversationId,
    ) -> Result<Option<Route>, StoreError> {
        Ok(self.current_route_and_needs(conv).await?.map(|(r, _)| r))
    }

    /// Where routing has `conv` now, and the tags an agent must have to take it.
    pub(super) async fn current_route_and_needs(
        &self,
        conv: &ConversationId,
    ) -> Result<Option<(Route, Vec<String>)>, StoreError> {
        let group = self.conversation_group(conv).await?;
        let held: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.route(&group, conv))
            .arg(&["state", "agent", "channel", "queue", "needs"])
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        match held.as_slice() {
            [Some(state), agent, Some(channel), queue, needs] => {
                let route = route_of(
                    state,
                    agent.as_deref().unwrap_or(""),
                    "already_assigned",
                    queue.as_deref().unwrap_or(channel),
                )?;
                let needs = needs
                    .as_deref()
                    .unwrap_or("")
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                Ok(Some((route, needs)))
            }
            _ => Ok(None),
        }
    }

    /// The deployment-wide picture: every group's, summed (one script per group, at once).
    pub(super) async fn routing_snapshot(&self) -> Result<RoutingSnapshot, StoreError> {
        let groups = self.all_groups().await?;
        let parts = try_join_all(groups.iter().map(|g| self.group_snapshot(g))).await?;
        let mut total = RoutingSnapshot::empty();
        for (group, part) in groups.iter().zip(parts) {
            total.add(group, part);
        }
        Ok(total)
    }

    async fn group_snapshot(&self, group: &RoutingGroup) -> Result<RoutingSnapshot, StoreError> {
        let parts: Vec<String> = self
            .scripts
            .snapshot
            .key(self.keys.routing(group))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let mut snapshot = RoutingSnapshot::default();
        let mut it = parts.chunks(3);
        for chunk in it.by_ref().take(QUEUES.len()) {
            let [queue, depth, oldest] = chunk else {
                return Err(StoreError::Corrupt(format!("snapshot answered {chunk:?}")));
            };
            let oldest_since = match oldest.as_str() {
                "" => None,
                ms => Utc
                    .timestamp_millis_opt(ms.parse().map_err(corrupt)?)
                    .single(),
            };
            snapshot.queues.push(QueueStat {
                queue: queue.parse().map_err(corrupt)?,
                depth: depth.parse().map_err(corrupt)?,
                oldest_since,
            });
        }
        let tail: Vec<&String> = it.flatten().collect();
        let [_, online, away, offline] = tail.as_slice() else {
            return Err(StoreError::Corrupt(format!("snapshot answered {tail:?}")));
        };
        snapshot.online = online.parse().map_err(corrupt)?;
        snapshot.away = away.parse().map_err(corrupt)?;
        snapshot.offline = offline.parse().map_err(corrupt)?;
        Ok(snapshot)
    }

    /// Every group's expired waits and graces, and hand-offs left half done.
    pub(super) async fn timers(&self, now: DateTime<Utc>) -> Result<Vec<Assignment>, StoreError> {
        let mut made = Vec::new();
        for group in self.all_groups().await? {
            made.extend(self.group_timers(&group, now).await?);
            made.extend(self.finish_handoffs(&group, now).await?);
            self.finish_notes(&group, now).await?;
        }
        Ok(made)
    }

    async fn group_timers(
        &self,
        group: &RoutingGroup,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let made: Vec<Vec<String>> = self
            .scripts
            .timers
            .key(self.keys.routing(group))
            .arg(now.timestamp_millis())
            .arg(TIMER_BATCH)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        self.recorded(made, group, now).await
    }

    /// A transfer inside the conversation's group (one script); to an agent of another
    /// group it is a hand-off (see `handoff.rs`).
    pub(super) async fn transfer_conversation(
        &self,
        conv: &ConversationId,
        to: &TransferTarget,
        note: Option<&Message>,
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError> {
        let note = note.map(|n| PendingNote::new(conv, n, now)).transpose()?;
        let group = self.conversation_group(conv).await?;
        if let TransferTarget::Agent(agent) = to {
            let target_group = self.agent_group(agent).await?;
            if target_group != group {
                let handoff = self
                    .hand_off(&group, &target_group, conv, agent, note.as_ref(), now)
                    .await?;
                if let Some(outcome) = handoff {
                    return Ok(outcome);
                }
            }
        }
        let outcome = self
            .transfer_within(&group, conv, to, note.as_ref(), now)
            .await?;
        if let (Some(note), TransferOutcome::Transferred { .. }) = (&note, &outcome) {
            self.write_note(&group, &note.id, &note.payload).await?;
        }
        Ok(outcome)
    }

    async fn transfer_within(
        &self,
        group: &RoutingGroup,
        conv: &ConversationId,
        to: &TransferTarget,
        note: Option<&PendingNote>,
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError> {
        let (agent, queue) = match to {
            TransferTarget::Agent(a) => (a.as_str(), ""),
            TransferTarget::Queue(q) => ("", q.as_str()),
        };
        let answer: Vec<Value> = self
            .scripts
            .transfer
            .key(self.keys.routing(group))
            .arg(conv.to_string())
            .arg(agent)
            .arg(queue)
            .arg(MAX_TRANSFERS)
            .arg(PendingNote::args(note))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let mut parts = answer.into_iter();
        let head = head_strings(&mut parts, 5)?;
        match head.first().map(String::as_str) {
            Some("not_routed") => return Ok(TransferOutcome::NotRouted),
            Some("unavailable") => return Ok(TransferOutcome::AgentUnavailable),
            _ => {}
        }
        let [state, agent, queue, transfers, episode] = <[String; 5]>::try_from(head)
            .map_err(|h| StoreError::Corrupt(format!("transfer answered {h:?}")))?;
        let route = route_of(&state, &agent, "already_assigned", &queue)?;
        self.mirror_agent(conv, route.agent_id.as_ref(), &episode, (now, true))
            .await?;
        let made = parts.map(strings).collect::<Result<Vec<_>, _>>()?;
        let assignments = self.recorded(made, group, now).await?;
        Ok(TransferOutcome::Transferred {
            route,
            transfers: transfers.parse().map_err(corrupt)?,
            assignments,
        })
    }

    /// Mirrors what routing moved onto the conversations (customer slots): the new agent
    /// of each assignment, none for a conversation that went back to a queue (reported
    /// with an empty agent). Answers the assignments.
    pub(super) async fn recorded(
        &self,
        made: Vec<Vec<String>>,
        group: &RoutingGroup,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let (queued, assigned): (Vec<_>, Vec<_>) = made
            .into_iter()
            .partition(|a| a.get(1).is_some_and(String::is_empty));
        // Each entry ends with the episode its route serves (see `assign` in the prelude).
        let mut episodes = Vec::new();
        let mut assignments = Vec::new();
        for mut a in assigned {
            episodes.push(a.get(7).cloned().unwrap_or_default());
            a.truncate(7);
            assignments.push(assignment(a, now)?);
        }
        let mut moves: Vec<(ConversationId, Option<AgentId>, String)> = assignments
            .iter()
            .zip(episodes)
            .map(|(a, ep)| (a.conversation_id.clone(), Some(a.agent_id.clone()), ep))
            .collect();
        for q in &queued {
            let conv = q
                .first()
                .ok_or_else(|| StoreError::Corrupt("empty routing answer".into()))?;
            let episode = q.get(5).cloned().unwrap_or_default();
            moves.push((conv.parse().map_err(corrupt)?, None, episode));
        }
        try_join_all(
            moves
                .iter()
                .map(|(conv, agent, ep)| self.mirror_agent(conv, agent.as_ref(), ep, (now, false))),
        )
        .await?;
        let adopted = assignments
            .iter()
            .filter(|a| a.reason == RouteReason::NewPersonalAgent);
        try_join_all(adopted.map(|a| self.adopt(a, group))).await?;
        Ok(assignments)
    }

    /// Writes (or clears) the conversation's `agent` mirror on the customer's slot, if
    /// it is still open in `episode` (`mirror.lua`; '' checks no episode), with the
    /// decision's time and whether it was a transfer (the conversation's facts).
    pub(super) async fn mirror_agent(
        &self,
        conv: &ConversationId,
        agent: Option<&AgentId>,
        episode: &str,
        decided: (DateTime<Utc>, bool),
    ) -> Result<(), StoreError> {
        let (now, transfer) = decided;
        let _: i64 = self
            .scripts
            .mirror
            .key(self.keys.conversation(conv))
            .arg(agent.map_or("", AgentId::as_str))
            .arg(episode)
            .arg(now.timestamp_millis())
            .arg(if transfer { "1" } else { "0" })
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }
}

pub(super) fn route_of(
    state: &str,
    agent: &str,
    reason: &str,
    queue: &str,
) -> Result<Route, StoreError> {
    let queue = || queue.parse::<Queue>().map_err(corrupt);
    let reason: RouteReason = reason.parse().map_err(corrupt)?;
    let known = RouteState::parse(state)
        .ok_or_else(|| StoreError::Corrupt(format!("route state {state}")))?;
    Ok(match known {
        RouteState::Assigned => Route {
            decision: Decision::Assigned,
            agent_id: Some(agent.parse().map_err(corrupt)?),
            queue: None,
            reason,
        },
        RouteState::Waiting => Route {
            decision: Decision::Queued,
            agent_id: None,
            queue: Some(queue()?),
            reason: RouteReason::WaitingForPersonalAgent,
        },
        RouteState::Queued => Route {
            decision: Decision::Queued,
            agent_id: None,
            queue: Some(queue()?),
            reason: RouteReason::NoAgentAvailable,
        },
    })
}

/// `{conversation, agent, reason, channel, waiting since (ms), fit, language}` from a
/// routing script.
fn assignment(parts: Vec<String>, now: DateTime<Utc>) -> Result<Assignment, StoreError> {
    let [conv, agent, reason, channel, since, fit, language] = <[String; 7]>::try_from(parts)
        .map_err(|p| StoreError::Corrupt(format!("assignment {p:?}")))?;
    let since = Utc
        .timestamp_millis_opt(since.parse().map_err(corrupt)?)
        .single()
        .unwrap_or(now);
    let channel: Channel = channel.parse().map_err(corrupt)?;
    let reason: RouteReason = reason.parse().map_err(corrupt)?;
    Ok(Assignment {
        conversation_id: conv.parse().map_err(corrupt)?,
        agent_id: agent.parse().map_err(corrupt)?,
        reason,
        channel,
        waited: (now - since).max(Duration::zero()),
        fit: Fit::parse(&fit),
        language: language.parse().ok(),
    })
}

/// The first `n` values of a script's answer as strings (the rest are assignments).
pub(super) fn head_strings(
    parts: &mut impl Iterator<Item = Value>,
    n: usize,
) -> Result<Vec<String>, StoreError> {
    parts
        .take(n)
        .map(|v| redis::from_redis_value(v).map_err(corrupt))
        .collect()
}

pub(super) fn strings(value: Value) -> Result<Vec<String>, StoreError> {
    redis::from_redis_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}
