//! Routing groups in the reference engine: one `Routing` per group, and which group each
//! agent works in. The embedded store runs it under its lock, so a cross-group transfer
//! is its two steps back to back; the Redis store runs each group on its own hash slot.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::{
    AgentEvent, Assignment, Request, Routing, RoutingSnapshot, StorePolicy, TransferOutcome,
    TransferTarget, MAX_TRANSFERS,
};
use crate::domain::{
    AgentId, AgentProfile, AgentView, ConversationId, Incarnation, Presence, Queue, Route,
    RoutingGroup,
};

/// Why an agent cannot be moved to another group now.
pub const BUSY_AGENT: &str =
    "the agent holds conversations, has customers waiting or owns customers; a move to another group needs an idle agent (or remove and add them again)";

/// The group a conversation is routed in when it opens (or reopens): a customer with a
/// personal agent belongs to that agent's group; otherwise the group the adapter named
/// (the inbox or line used), else the customer's. `ingest.lua` applies the same rule.
pub fn routing_group(
    has_personal_agent: bool,
    customer: &RoutingGroup,
    hint: Option<&RoutingGroup>,
) -> RoutingGroup {
    match hint {
        Some(hint) if !has_personal_agent => hint.clone(),
        _ => customer.clone(),
    }
}

#[derive(Debug, Default)]
pub struct Groups {
    groups: BTreeMap<RoutingGroup, Routing>,
    agent_group: HashMap<AgentId, RoutingGroup>,
}

impl Groups {
    fn of(&mut self, group: &RoutingGroup) -> &mut Routing {
        self.groups.entry(group.clone()).or_default()
    }

    fn of_agent(&self, id: &AgentId) -> Option<&Routing> {
        self.groups.get(self.agent_group.get(id)?)
    }

    fn of_agent_mut(&mut self, id: &AgentId) -> Option<&mut Routing> {
        self.groups.get_mut(self.agent_group.get(id)?)
    }

    pub fn group_of(&self, agent: &AgentId) -> Option<&RoutingGroup> {
        self.agent_group.get(agent)
    }

    /// Creates or updates an agent in their profile's group; a move from another group
    /// is refused (`Err(BUSY_AGENT)`) unless the agent is idle there.
    pub fn put_agent(
        &mut self,
        profile: AgentProfile,
        now: DateTime<Utc>,
    ) -> Result<(AgentView, bool, Vec<Assignment>), &'static str> {
        let id = profile.id.clone();
        let mut moved = false;
        if let Some(old) = self.agent_group.get(&id).cloned() {
            if old != profile.group {
                let routing = self.of(&old);
                if !routing.is_idle(&id) {
                    return Err(BUSY_AGENT);
                }
                moved = routing.delete_agent(&id, now).is_some();
            }
        }
        self.agent_group.insert(id, profile.group.clone());
        let (view, created, made) = self.of(&profile.group.clone()).put_agent(profile, now);
        Ok((view, created && !moved, made))
    }

    pub fn agent(&self, id: &AgentId) -> Option<AgentView> {
        self.of_agent(id)?.agent(id)
    }

    /// `Routing::born` in the agent's group.
    pub fn born(&self, id: &AgentId) -> Option<&Incarnation> {
        self.of_agent(id)?.born(id)
    }

    pub fn agents(&self) -> Vec<AgentView> {
        let mut all: Vec<AgentView> = self.groups.values().flat_map(Routing::agents).collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    pub fn set_presence(
        &mut self,
        id: &AgentId,
        presence: Presence,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Option<Vec<Assignment>> {
        self.of_agent_mut(id)?
            .set_presence(id, presence, now, grace)
    }

    /// Removes an agent; their group stays known, so their event history stays readable.
    pub fn delete_agent(&mut self, id: &AgentId, now: DateTime<Utc>) -> Option<Vec<Assignment>> {
        self.of_agent_mut(id)?.delete_agent(id, now)
    }

    pub fn events(&self, agent: &AgentId, after: &str, limit: usize) -> Vec<AgentEvent> {
        self.of_agent(agent)
            .map(|r| r.events(agent, after, limit))
            .unwrap_or_default()
    }

    pub fn last_event_id(&self, agent: &AgentId) -> String {
        self.of_agent(agent)
            .map_or_else(|| "0-0".to_owned(), |r| r.last_event_id(agent))
    }

    /// Drops every event about a conversation `about` picks, in every group.
    pub fn forget_events(&mut self, about: &dyn Fn(&ConversationId) -> bool) {
        for routing in self.groups.values_mut() {
            routing.forget_events(about);
        }
    }

    /// The groups whose feed shards exist (every group ever routed in), by name.
    pub fn feed_shards(&self) -> Vec<String> {
        self.groups.keys().map(|g| g.as_str().to_owned()).collect()
    }

    /// Up to `limit` entries of group `shard`'s feed after `after`.
    pub fn feed_after(
        &self,
        shard: &str,
        after: &str,
        limit: usize,
    ) -> Vec<crate::domain::feed::FeedEvent> {
        let Some(routing) = shard
            .parse()
            .ok()
            .and_then(|g: RoutingGroup| self.groups.get(&g))
        else {
            return Vec::new();
        };
        let mut events = routing.feed_after(after, limit);
        for e in &mut events {
            e.shard = shard.to_owned();
        }
        events
    }

    /// A conversation's first assignment and transfers, over every group it was routed
    /// in (a hand-off moves it): the earliest first, the transfers summed.
    pub fn assignment_facts(&self, conv: &ConversationId) -> super::engine::AssignmentFacts {
        let mut all = super::engine::AssignmentFacts::default();
        for routing in self.groups.values() {
            if let Some(f) = routing.assignment_facts(conv) {
                all.transfers += f.transfers;
                if let Some(first) = f.first {
                    if all.first.as_ref().is_none_or(|(at, _)| first.0 < *at) {
                        all.first = Some(first);
                    }
                }
            }
        }
        all
    }

    /// Drops every group's feed entries older than `before`.
    pub fn trim_feed(&mut self, before: DateTime<Utc>) {
        for routing in self.groups.values_mut() {
            routing.trim_feed(before);
        }
    }

    /// Tells an agent something outside a routing decision, in their group's log.
    pub fn event(&mut self, agent: &AgentId, kind: super::EventKind, conv: &ConversationId) {
        if let Some(routing) = self.of_agent_mut(agent) {
            routing.event(agent, kind, conv, "", None);
        }
    }

    pub fn route(
        &mut self,
        group: &RoutingGroup,
        req: Request<'_>,
        now: DateTime<Utc>,
        policy: &StorePolicy,
    ) -> (Route, Option<Assignment>) {
        self.of(group).route(req, now, policy)
    }

    pub fn current(&self, group: &RoutingGroup, conv: &ConversationId) -> Option<Route> {
        self.groups.get(group)?.current(conv)
    }

    /// The tags an agent must have to take `conv` now.
    pub fn needs_now(&self, group: &RoutingGroup, conv: &ConversationId) -> Vec<String> {
        self.groups
            .get(group)
            .map(|r| r.needs_now(conv))
            .unwrap_or_default()
    }

    pub fn release(
        &mut self,
        group: &RoutingGroup,
        conv: &ConversationId,
        now: DateTime<Utc>,
    ) -> Vec<Assignment> {
        self.of(group).release(conv, now)
    }

    /// `RoutingEngine::drop_from_portfolio` in the agent's group.
    pub fn drop_from_portfolio(&mut self, agent: &AgentId) {
        if let Some(routing) = self.of_agent_mut(agent) {
            routing.drop_from_portfolio(agent);
        }
    }

    /// `RoutingEngine::release_call` in the conversation's group.
    pub fn release_call(
        &mut self,
        group: &RoutingGroup,
        conv: &ConversationId,
        now: DateTime<Utc>,
    ) -> Option<Vec<Assignment>> {
        self.of(group).release_call(conv, now)
    }

    /// The conversations waiting in `queue` in every group, in queue order.
    /// The conversations `agent` holds (in their group), longest held first.
    pub fn held(&self, agent: &AgentId) -> Vec<ConversationId> {
        self.of_agent(agent)
            .map(|r| r.held(agent))
            .unwrap_or_default()
    }

    pub fn queued(&self, queue: Queue) -> Vec<super::QueuedConversation> {
        let mut all: Vec<_> = self.groups.values().flat_map(|r| r.queued(queue)).collect();
        all.sort_by(|a, b| {
            let key = |q: &super::QueuedConversation| {
                super::queue_score(q.priority, q.waiting_since.timestamp_millis())
            };
            key(a).total_cmp(&key(b)).then_with(|| {
                a.conversation_id
                    .to_string()
                    .cmp(&b.conversation_id.to_string())
            })
        });
        all
    }

    /// The channel `conv` is routed on in `group`, if it is routed there.
    pub fn channel_of(
        &self,
        group: &RoutingGroup,
        conv: &ConversationId,
    ) -> Option<crate::domain::Channel> {
        self.groups.get(group)?.routed(conv).map(|(c, _)| c)
    }

    /// Raises `conv`'s queue priority (`Routing::raise_priority`).
    pub fn raise_priority(
        &mut self,
        group: &RoutingGroup,
        conv: &ConversationId,
        floor: u8,
    ) -> bool {
        self.of(group).raise_priority(conv, floor)
    }

    /// Replaces what `conv` needs (`Routing::require`); `None` when it is not routed.
    pub fn require(
        &mut self,
        group: &RoutingGroup,
        conv: &ConversationId,
        needs: crate::routing::Needs,
        now: DateTime<Utc>,
    ) -> Option<Vec<Assignment>> {
        self.of(group).require(conv, needs, now)
    }

    /// Transfers within `group`, or to an agent of another group as a hand-off; answers
    /// the outcome and the group the conversation is in afterwards.
    pub fn transfer(
        &mut self,
        group: &RoutingGroup,
        conv: &ConversationId,
        to: &TransferTarget,
        now: DateTime<Utc>,
    ) -> (TransferOutcome, RoutingGroup) {
        let target = match to {
            TransferTarget::Agent(a) => self.agent_group.get(a).filter(|g| *g != group).cloned(),
            TransferTarget::Queue(_) => None,
        };
        let (Some(to_group), TransferTarget::Agent(agent)) = (target, to) else {
            return (self.of(group).transfer(conv, to, now), group.clone());
        };
        let Some((channel, transfers)) = self.of(group).routed(conv) else {
            return (TransferOutcome::NotRouted, group.clone());
        };
        // Past the limit it goes to the supervisor queue, which stays in its group.
        if transfers + 1 > MAX_TRANSFERS {
            return (self.of(group).transfer(conv, to, now), group.clone());
        }
        if !self.of(&to_group).can_take(agent, channel) {
            return (TransferOutcome::AgentUnavailable, group.clone());
        }
        let Some((handoff, mut assignments)) = self.of(group).hand_off(conv, now) else {
            return (TransferOutcome::NotRouted, group.clone());
        };
        let (route, more) = self.of(&to_group).take_over(conv, &handoff, agent, now);
        assignments.extend(more);
        let outcome = TransferOutcome::Transferred {
            route,
            transfers: handoff.transfers,
            assignments,
        };
        (outcome, to_group)
    }

    pub fn fire_timers(&mut self, now: DateTime<Utc>) -> Vec<Assignment> {
        self.groups
            .values_mut()
            .flat_map(|r| r.fire_timers(now))
            .collect()
    }

    /// The deployment-wide picture: every group's queues and agents summed.
    pub fn snapshot(&self) -> RoutingSnapshot {
        let mut total = RoutingSnapshot::empty();
        for (group, routing) in &self.groups {
            total.add(group, routing.snapshot());
        }
        total
    }
}
