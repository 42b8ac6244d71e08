//! Routing state of the embedded store: agents, their load and portfolio, and where each
//! conversation waiting for or holding an agent stands. Callers hold the store's lock.
//! Picks scan the agents (fine for one process); the Redis store keeps sorted sets.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};

use super::{
    place, queue_score, AgentEvent, Assignment, PersonalAgent, Placement, QueueStat,
    RoutingSnapshot, StorePolicy, TransferOutcome, TransferTarget, EVENTS_KEPT, MAX_TRANSFERS,
    QUEUES, SUPERVISOR_QUEUE,
};
use crate::domain::{
    AgentId, AgentProfile, AgentView, Channel, ConversationId, Decision, Presence, Route,
    RouteReason,
};

#[derive(Debug)]
struct AgentRec {
    profile: AgentProfile,
    presence: Presence,
    load: BTreeMap<Channel, u32>,
    portfolio: u64,
}

impl AgentRec {
    fn load(&self, channel: Channel) -> u32 {
        self.load.get(&channel).copied().unwrap_or(0)
    }

    fn has_room(&self, channel: Channel) -> bool {
        self.load(channel) < self.profile.capacity.of(channel)
    }

    fn view(&self) -> AgentView {
        AgentView {
            id: self.profile.id.clone(),
            name: self.profile.name.clone(),
            teams: self.profile.teams.clone(),
            skills: self.profile.skills.clone(),
            languages: self.profile.languages.clone(),
            dial: self.profile.dial.clone(),
            capacity: self.profile.capacity.clone(),
            presence: self.presence,
            load: Channel::ALL
                .iter()
                .map(|c| (c.as_str().to_owned(), self.load(*c)))
                .collect(),
            portfolio: self.portfolio,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Holding {
    Assigned(AgentId),
    Waiting {
        agent: AgentId,
        deadline: DateTime<Utc>,
    },
    Queued,
    /// Between its old holder and its new place, during a transfer.
    Transferring,
}

#[derive(Debug, Clone)]
struct RouteRec {
    channel: Channel,
    holding: Holding,
    owner: Option<AgentId>,
    since: DateTime<Utc>,
    priority: u8,
    transfers: u32,
    /// A queue other than the channel's (the supervisor queue).
    queue: Option<String>,
}

impl RouteRec {
    fn route(&self, reason: RouteReason) -> Route {
        match &self.holding {
            Holding::Assigned(agent) => Route {
                decision: Decision::Assigned,
                agent_id: Some(agent.to_string()),
                queue: None,
                reason,
            },
            Holding::Waiting { .. } => Route {
                decision: Decision::Queued,
                agent_id: None,
                queue: Some(self.channel.as_str().to_owned()),
                reason: RouteReason::WaitingForPersonalAgent,
            },
            Holding::Queued | Holding::Transferring => Route {
                decision: Decision::Queued,
                agent_id: None,
                queue: Some(
                    self.queue
                        .clone()
                        .unwrap_or_else(|| self.channel.as_str().to_owned()),
                ),
                reason: RouteReason::NoAgentAvailable,
            },
        }
    }
}

/// What a conversation needs routed.
pub struct Request<'a> {
    pub conversation: &'a ConversationId,
    pub channel: Channel,
    pub priority: u8,
    /// The customer's tier: it may lengthen the sticky wait.
    pub tier: &'a str,
    /// The customer's personal agent; routing fills it in for a first conversation.
    pub personal_agent: &'a mut Option<AgentId>,
}

#[derive(Debug, Default)]
pub struct Routing {
    agents: BTreeMap<AgentId, AgentRec>,
    routes: HashMap<ConversationId, RouteRec>,
    log: HashMap<AgentId, VecDeque<AgentEvent>>,
    next_event: u64,
    /// Offline agents, and when their conversations go back to routing.
    graces: HashMap<AgentId, DateTime<Utc>>,
}

impl Routing {
    pub fn put_agent(
        &mut self,
        profile: AgentProfile,
        now: DateTime<Utc>,
    ) -> (AgentView, bool, Vec<Assignment>) {
        let id = profile.id.clone();
        let created = !self.agents.contains_key(&id);
        let rec = self.agents.entry(id.clone()).or_insert_with(|| AgentRec {
            profile: profile.clone(),
            presence: Presence::Offline,
            load: BTreeMap::new(),
            portfolio: 0,
        });
        rec.profile = profile;
        let view = rec.view();
        let drained = self.drain_all(&id, now);
        (view, created, drained)
    }

    pub fn agent(&self, id: &AgentId) -> Option<AgentView> {
        self.agents.get(id).map(AgentRec::view)
    }

    pub fn agents(&self) -> Vec<AgentView> {
        self.agents.values().map(AgentRec::view).collect()
    }

    /// `None` when there is no such agent.
    pub fn set_presence(
        &mut self,
        id: &AgentId,
        presence: Presence,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Option<Vec<Assignment>> {
        self.agents.get_mut(id)?.presence = presence;
        let mut made = Vec::new();
        if presence == Presence::Offline {
            self.graces.entry(id.clone()).or_insert(now + grace);
            made.extend(self.release_waiting(id, now));
        } else {
            self.graces.remove(id);
            made.extend(self.drain_all(id, now));
        }
        Some(made)
    }

    /// Nobody waits for an agent who left: their waiting customers fall back now.
    fn release_waiting(&mut self, id: &AgentId, now: DateTime<Utc>) -> Vec<Assignment> {
        let mut made = Vec::new();
        for channel in Channel::ALL {
            let waiting = self.ordered(
                |r| {
                    r.channel == channel
                        && matches!(&r.holding, Holding::Waiting { agent, .. } if agent == id)
                },
                |r| (r.since, 0.0),
            );
            for conv in waiting {
                made.extend(self.replace_without_waiting(&conv, now));
            }
        }
        made
    }

    /// Every conversation `id` holds goes back to routing, oldest first; owners stay.
    fn hand_back(&mut self, id: &AgentId, now: DateTime<Utc>) -> Vec<Assignment> {
        let held = self.ordered(
            |r| r.holding == Holding::Assigned(id.clone()),
            |r| (r.since, 0.0),
        );
        let mut made = Vec::new();
        for conv in held {
            let Some(channel) = self.routes.get(&conv).map(|r| r.channel) else {
                continue;
            };
            self.give_back(id, channel);
            made.extend(self.replace_without_waiting(&conv, now));
        }
        made
    }

    pub fn delete_agent(&mut self, id: &AgentId, now: DateTime<Utc>) -> Option<Vec<Assignment>> {
        self.agents.get_mut(id)?.presence = Presence::Offline;
        self.graces.remove(id);
        let mut made = self.hand_back(id, now);
        made.extend(self.release_waiting(id, now));
        self.agents.remove(id);
        Some(made)
    }

    /// The route of a conversation, routing it first if it holds nothing yet.
    pub fn route(
        &mut self,
        req: Request<'_>,
        now: DateTime<Utc>,
        policy: &StorePolicy,
    ) -> (Route, Option<Assignment>) {
        if let Some(rec) = self.routes.get(req.conversation) {
            return (rec.route(RouteReason::AlreadyAssigned), None);
        }
        let mut new = false;
        if req
            .personal_agent
            .as_ref()
            .is_none_or(|a| !self.agents.contains_key(a))
        {
            *req.personal_agent = self.choose_personal_agent(req.channel);
            new = req.personal_agent.is_some();
            if let Some(agent) = req
                .personal_agent
                .as_ref()
                .and_then(|a| self.agents.get_mut(a))
            {
                agent.portfolio += 1;
            }
        }
        let personal = req.personal_agent.as_ref().and_then(|id| {
            self.agents.get(id).map(|a| PersonalAgent {
                id,
                presence: a.presence,
                has_room: a.has_room(req.channel),
                new,
            })
        });
        let least_loaded = self.least_loaded(req.channel);
        let placement = place(personal, true, least_loaded.as_ref());
        let mut rec = RouteRec {
            channel: req.channel,
            holding: Holding::Queued,
            owner: req.personal_agent.clone(),
            since: now,
            priority: req.priority,
            transfers: 0,
            queue: None,
        };
        let (reason, assignment) = match placement {
            Placement::Assign(agent, reason) => {
                rec.holding = Holding::Assigned(agent.clone());
                self.routes.insert(req.conversation.clone(), rec.clone());
                self.give(req.conversation, &agent, req.channel, Some(reason));
                (
                    reason,
                    Some(Assignment::new(
                        req.conversation,
                        &agent,
                        reason,
                        req.channel,
                        now,
                        now,
                    )),
                )
            }
            Placement::WaitFor(agent) => {
                rec.holding = Holding::Waiting {
                    agent,
                    deadline: now + policy.sticky_wait(req.channel, req.tier),
                };
                (RouteReason::WaitingForPersonalAgent, None)
            }
            Placement::Queue => (RouteReason::NoAgentAvailable, None),
        };
        let route = rec.route(reason);
        self.routes.insert(req.conversation.clone(), rec);
        (route, assignment)
    }

    pub fn snapshot(&self) -> RoutingSnapshot {
        let queues = QUEUES
            .iter()
            .map(|q| {
                let waiting = self.routes.values().filter(|r| {
                    let in_queue = r.queue.as_deref().unwrap_or(r.channel.as_str()) == *q;
                    in_queue && matches!(r.holding, Holding::Waiting { .. } | Holding::Queued)
                });
                let (depth, oldest) =
                    waiting.fold((0, None), |(n, oldest): (u64, Option<DateTime<Utc>>), r| {
                        (n + 1, Some(oldest.map_or(r.since, |o| o.min(r.since))))
                    });
                QueueStat {
                    queue: (*q).to_owned(),
                    depth,
                    oldest_since: oldest,
                }
            })
            .collect();
        let count = |p: Presence| self.agents.values().filter(|a| a.presence == p).count() as u64;
        RoutingSnapshot {
            queues,
            online: count(Presence::Online),
            away: count(Presence::Away),
            offline: count(Presence::Offline),
        }
    }

    /// The current route of a conversation, if it has one.
    pub fn current(&self, conv: &ConversationId) -> Option<Route> {
        self.routes
            .get(conv)
            .map(|r| r.route(RouteReason::AlreadyAssigned))
    }

    /// Forgets a resolved conversation; its agent's freed unit goes to whoever waits.
    pub fn release(&mut self, conv: &ConversationId, now: DateTime<Utc>) -> Vec<Assignment> {
        match self.routes.remove(conv) {
            Some(RouteRec {
                holding: Holding::Assigned(agent),
                channel,
                ..
            }) => {
                self.give_back(&agent, channel);
                self.drain(&agent, channel, now)
            }
            _ => Vec::new(),
        }
    }

    /// Moves a routed conversation; see `Store::transfer`.
    pub fn transfer(
        &mut self,
        conv: &ConversationId,
        to: &TransferTarget,
        now: DateTime<Utc>,
    ) -> TransferOutcome {
        let Some(rec) = self.routes.get(conv).cloned() else {
            return TransferOutcome::NotRouted;
        };
        let transfers = rec.transfers + 1;
        let supervisor = transfers > MAX_TRANSFERS;
        if let (false, TransferTarget::Agent(target)) = (supervisor, to) {
            let available = self
                .agents
                .get(target)
                .is_some_and(|a| a.presence == Presence::Online && a.has_room(rec.channel));
            if !available {
                return TransferOutcome::AgentUnavailable;
            }
        }
        let old = match &rec.holding {
            Holding::Assigned(agent) => {
                self.give_back(agent, rec.channel);
                Some(agent.clone())
            }
            _ => None,
        };
        let to_supervisor =
            supervisor || matches!(to, TransferTarget::Queue(q) if q == SUPERVISOR_QUEUE);
        // Order matters: the target agent takes its unit before the old holder's freed
        // unit serves whoever waits for them; a conversation sent to its channel's queue
        // is placed last, with everyone's room known.
        let holding = match to {
            TransferTarget::Agent(target) if !to_supervisor => {
                self.give(conv, target, rec.channel, None);
                Holding::Assigned(target.clone())
            }
            _ => Holding::Transferring,
        };
        if let Some(r) = self.routes.get_mut(conv) {
            r.holding = holding;
            r.queue = to_supervisor.then(|| SUPERVISOR_QUEUE.to_owned());
            r.transfers = transfers;
        }
        let mut assignments = old
            .map(|a| self.drain(&a, rec.channel, now))
            .unwrap_or_default();
        if self
            .routes
            .get(conv)
            .is_some_and(|r| r.holding == Holding::Transferring)
        {
            let placed = match (to_supervisor, self.least_loaded(rec.channel)) {
                (false, Some(agent)) => {
                    self.give(conv, &agent, rec.channel, Some(RouteReason::Fallback));
                    assignments.push(Assignment::new(
                        conv,
                        &agent,
                        RouteReason::Fallback,
                        rec.channel,
                        rec.since,
                        now,
                    ));
                    Holding::Assigned(agent)
                }
                _ => Holding::Queued,
            };
            if let Some(r) = self.routes.get_mut(conv) {
                r.holding = placed;
            }
        }
        let Some(route) = self
            .routes
            .get(conv)
            .map(|r| r.route(RouteReason::AlreadyAssigned))
        else {
            return TransferOutcome::NotRouted;
        };
        TransferOutcome::Transferred {
            route,
            transfers,
            assignments,
        }
    }

    fn give_back(&mut self, agent: &AgentId, channel: Channel) {
        if let Some(a) = self.agents.get_mut(agent) {
            let load = a.load.entry(channel).or_insert(0);
            *load = load.saturating_sub(1);
        }
    }

    /// Waits past their deadline fall back, oldest deadline first.
    pub fn fire_timers(&mut self, now: DateTime<Utc>) -> Vec<Assignment> {
        let due = self.ordered(
            |r| matches!(r.holding, Holding::Waiting { deadline, .. } if deadline <= now),
            |r| match r.holding {
                Holding::Waiting { deadline, .. } => (deadline, 0.0),
                _ => (r.since, 0.0),
            },
        );
        let mut made: Vec<Assignment> = due
            .iter()
            .filter_map(|conv| self.replace_without_waiting(conv, now))
            .collect();
        // Agents offline past their grace period hand their conversations back.
        let mut graces: Vec<(DateTime<Utc>, AgentId)> = self
            .graces
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(a, d)| (*d, a.clone()))
            .collect();
        graces.sort();
        for (_, agent) in graces {
            self.graces.remove(&agent);
            if self
                .agents
                .get(&agent)
                .is_some_and(|a| a.presence == Presence::Offline)
            {
                made.extend(self.hand_back(&agent, now));
            }
        }
        made
    }

    fn replace_without_waiting(
        &mut self,
        conv: &ConversationId,
        now: DateTime<Utc>,
    ) -> Option<Assignment> {
        let rec = self.routes.get(conv)?.clone();
        match self.least_loaded(rec.channel) {
            Some(agent) => {
                self.give(conv, &agent, rec.channel, Some(RouteReason::Fallback));
                if let Some(r) = self.routes.get_mut(conv) {
                    r.holding = Holding::Assigned(agent.clone());
                }
                Some(Assignment::new(
                    conv,
                    &agent,
                    RouteReason::Fallback,
                    rec.channel,
                    rec.since,
                    now,
                ))
            }
            None => {
                if let Some(r) = self.routes.get_mut(conv) {
                    r.holding = Holding::Queued;
                }
                None
            }
        }
    }

    fn drain_all(&mut self, agent: &AgentId, now: DateTime<Utc>) -> Vec<Assignment> {
        Channel::ALL
            .iter()
            .flat_map(|c| self.drain(agent, *c, now))
            .collect()
    }

    /// Fills `agent`'s free units on `channel`: their own waiting customers first, then
    /// the channel's queue in priority order.
    fn drain(&mut self, agent: &AgentId, channel: Channel, now: DateTime<Utc>) -> Vec<Assignment> {
        let mut made = Vec::new();
        while let Some(conv) = self.next_for(agent, channel) {
            let Some(rec) = self.routes.get_mut(&conv) else {
                break;
            };
            rec.holding = Holding::Assigned(agent.clone());
            let reason = if rec.owner.as_ref() == Some(agent) {
                RouteReason::PersonalAgent
            } else {
                RouteReason::Fallback
            };
            made.push(Assignment::new(
                &conv, agent, reason, channel, rec.since, now,
            ));
            self.give(&conv, agent, channel, Some(reason));
        }
        made
    }

    /// The conversation `agent` should take next on `channel`, if they have room.
    fn next_for(&self, agent: &AgentId, channel: Channel) -> Option<ConversationId> {
        let a = self.agents.get(agent)?;
        if a.presence != Presence::Online || !a.has_room(channel) {
            return None;
        }
        let waiting_for_them = |r: &RouteRec| {
            r.channel == channel
                && matches!(&r.holding, Holding::Waiting { agent: w, .. } if w == agent)
        };
        let own = self.ordered(waiting_for_them, |r| (r.since, 0.0));
        own.into_iter().next().or_else(|| {
            let queued = |r: &RouteRec| {
                r.channel == channel && r.holding == Holding::Queued && r.queue.is_none()
            };
            let by_priority = |r: &RouteRec| {
                (
                    DateTime::<Utc>::MIN_UTC,
                    queue_score(r.priority, r.since.timestamp_millis()),
                )
            };
            self.ordered(queued, by_priority).into_iter().next()
        })
    }

    /// Conversations matching `keep`, ordered by `key` then id (as the sorted sets do).
    fn ordered(
        &self,
        keep: impl Fn(&RouteRec) -> bool,
        key: impl Fn(&RouteRec) -> (DateTime<Utc>, f64),
    ) -> Vec<ConversationId> {
        let mut found: Vec<(DateTime<Utc>, f64, String, ConversationId)> = self
            .routes
            .iter()
            .filter(|(_, r)| keep(r))
            .map(|(c, r)| {
                let (t, s) = key(r);
                (t, s, c.to_string(), c.clone())
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        found.into_iter().map(|f| f.3).collect()
    }

    /// Gives `conv` to `agent`, taking one unit of `channel`, and tells them (and, when
    /// someone else covers a customer, their personal agent). `None` means a transfer.
    fn give(
        &mut self,
        conv: &ConversationId,
        agent: &AgentId,
        channel: Channel,
        reason: Option<RouteReason>,
    ) {
        if let Some(a) = self.agents.get_mut(agent) {
            *a.load.entry(channel).or_insert(0) += 1;
        }
        let label = reason.map(RouteReason::as_str).unwrap_or("transfer");
        let kind = if reason.is_some() {
            "conversation.assigned"
        } else {
            "conversation.transferred"
        };
        self.event(agent, kind, conv, label, None);
        let owner = self.routes.get(conv).and_then(|r| r.owner.clone());
        if let (Some(owner), Some(_)) = (owner, reason) {
            if owner != *agent {
                self.event(
                    &owner,
                    "conversation.covered",
                    conv,
                    label,
                    Some(agent.to_string()),
                );
            }
        }
    }

    pub fn event(
        &mut self,
        agent: &AgentId,
        kind: &str,
        conv: &ConversationId,
        reason: &str,
        other: Option<String>,
    ) {
        self.next_event += 1;
        let log = self.log.entry(agent.clone()).or_default();
        log.push_back(AgentEvent {
            id: format!("{}-0", self.next_event),
            kind: kind.to_owned(),
            conversation_id: conv.clone(),
            reason: Some(reason.to_owned()).filter(|r| !r.is_empty()),
            other_agent: other,
        });
        if log.len() > EVENTS_KEPT {
            log.pop_front();
        }
    }

    pub fn events(&self, agent: &AgentId, after: &str, limit: usize) -> Vec<AgentEvent> {
        let after = event_seq(after);
        self.log
            .get(agent)
            .map(|log| {
                log.iter()
                    .filter(|e| event_seq(&e.id) > after)
                    .take(limit)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn last_event_id(&self, agent: &AgentId) -> String {
        self.log
            .get(agent)
            .and_then(|l| l.back())
            .map_or_else(|| "0-0".to_owned(), |e| e.id.clone())
    }

    /// Smallest portfolio, then lowest load on the channel, then id; among agents who
    /// take the channel at all.
    fn choose_personal_agent(&self, channel: Channel) -> Option<AgentId> {
        self.agents
            .values()
            .filter(|a| a.profile.capacity.of(channel) > 0)
            .min_by(|a, b| {
                (a.portfolio, a.load(channel), &a.profile.id).cmp(&(
                    b.portfolio,
                    b.load(channel),
                    &b.profile.id,
                ))
            })
            .map(|a| a.profile.id.clone())
    }

    /// The online agent with room on the channel and the lowest load there, then id.
    fn least_loaded(&self, channel: Channel) -> Option<AgentId> {
        self.agents
            .values()
            .filter(|a| a.presence == Presence::Online && a.has_room(channel))
            .min_by(|a, b| (a.load(channel), &a.profile.id).cmp(&(b.load(channel), &b.profile.id)))
            .map(|a| a.profile.id.clone())
    }
}

/// `"17-0"` → 17; anything unreadable sorts first.
fn event_seq(id: &str) -> u64 {
    id.split('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
