//! The reference routing engine: agents, their load and portfolio, and where each
//! conversation waiting for or holding an agent stands. The embedded store runs it
//! under its lock; the Redis store runs the same steps as Lua (`store/redis/lua/routing`).
//! Picks scan the agents (fine for one process); the Redis store keeps sorted sets.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};

use super::{
    place, AgentEvent, Assignment, Needs, PersonalAgent, Placement, QueueStat, RoutingSnapshot,
    StorePolicy,
};
use crate::domain::feed::FeedType;
use crate::domain::{
    AgentId, AgentProfile, AgentView, Channel, ConversationId, Decision, Incarnation, Presence,
    Queue, Requirements, Route, RouteReason, QUEUES,
};

mod choice;
mod events;
mod feed;
mod handoff;
mod moves;
mod requirements;

pub use feed::AssignmentFacts;
pub use handoff::Handoff;

#[derive(Debug)]
struct AgentRec {
    profile: AgentProfile,
    presence: Presence,
    load: BTreeMap<Channel, u32>,
    portfolio: u64,
    /// Conversations held whose call ended: no unit taken.
    after_call: u32,
    /// What the agent can do (`AgentProfile::tags`).
    tags: Vec<String>,
    /// This life of the agent id (`Incarnation`): made when the agent is created.
    born: Incarnation,
}

impl AgentRec {
    pub(super) fn load(&self, channel: Channel) -> u32 {
        self.load.get(&channel).copied().unwrap_or(0)
    }

    pub(super) fn has_room(&self, channel: Channel) -> bool {
        self.load(channel) < self.profile.capacity.of(channel)
    }

    pub(super) fn view(&self) -> AgentView {
        AgentView {
            id: self.profile.id.clone(),
            name: self.profile.name.clone(),
            teams: self.profile.teams.clone(),
            skills: self.profile.skills.clone(),
            languages: self.profile.languages.clone(),
            dial: self.profile.dial.clone(),
            card: self.profile.card.clone(),
            group: self.profile.group.clone(),
            capacity: self.profile.capacity.clone(),
            presence: self.presence,
            load: Channel::ALL
                .iter()
                .map(|c| (c.as_str().to_owned(), self.load(*c)))
                .collect(),
            portfolio: self.portfolio,
            after_call: self.after_call,
            satisfaction: None,
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
    queue: Option<Queue>,
    /// Its call ended: held as after-call work, without a unit (`release_call`).
    wrap: bool,
    /// Nobody could serve the customer when they had no personal agent: whoever takes
    /// the conversation first becomes their personal agent.
    adopt: bool,
    /// The language and skills it needs, and how far they have relaxed (0 exact, 1 any
    /// level, 2 nothing); the next relaxing step is due at `relax_due`.
    needs: Needs,
    step: u8,
    relax_due: Option<DateTime<Utc>>,
}

impl RouteRec {
    /// The tags an agent must have to take it now.
    pub(super) fn needs_now(&self) -> &[String] {
        self.needs.at(self.step)
    }

    /// The queue it waits in when it waits: its own, else its channel's.
    fn queue(&self) -> Queue {
        self.queue.unwrap_or(Queue::Channel(self.channel))
    }

    pub(super) fn route(&self, reason: RouteReason) -> Route {
        match &self.holding {
            Holding::Assigned(agent) => Route {
                decision: Decision::Assigned,
                agent_id: Some(agent.clone()),
                queue: None,
                reason,
            },
            Holding::Waiting { .. } => Route {
                decision: Decision::Queued,
                agent_id: None,
                queue: Some(Queue::Channel(self.channel)),
                reason: RouteReason::WaitingForPersonalAgent,
            },
            Holding::Queued | Holding::Transferring => Route {
                decision: Decision::Queued,
                agent_id: None,
                queue: Some(self.queue()),
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
    /// The language and skills it needs.
    pub requirements: &'a Requirements,
}

#[derive(Debug, Default)]
pub struct Routing {
    agents: BTreeMap<AgentId, AgentRec>,
    routes: HashMap<ConversationId, RouteRec>,
    log: HashMap<AgentId, VecDeque<AgentEvent>>,
    next_event: u64,
    /// Offline agents, and when their conversations go back to routing.
    graces: HashMap<AgentId, DateTime<Utc>>,
    /// The group's shard of the event feed.
    feed: feed::Feed,
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
            after_call: 0,
            tags: Vec::new(),
            born: Incarnation::generate(),
        });
        rec.tags = profile.tags();
        rec.profile = profile;
        let view = rec.view();
        let drained = self.drain_all(&id, now);
        (view, created, drained)
    }

    pub fn agent(&self, id: &AgentId) -> Option<AgentView> {
        self.agents.get(id).map(AgentRec::view)
    }

    /// The life of the agent living under `id` now (`None`: no such agent).
    pub fn born(&self, id: &AgentId) -> Option<&Incarnation> {
        self.agents.get(id).map(|a| &a.born)
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
        let before = std::mem::replace(&mut self.agents.get_mut(id)?.presence, presence);
        if before != presence {
            let data = serde_json::json!({
                "agent_id": id.as_str(), "presence": presence.as_str(), "previous": before.as_str(),
            });
            self.feed(FeedType::AgentPresenceChanged, id.as_str(), data);
        }
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
    pub(super) fn release_waiting(&mut self, id: &AgentId, now: DateTime<Utc>) -> Vec<Assignment> {
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
                made.extend(self.fall_back(&conv, now));
            }
        }
        made
    }

    /// Every conversation `id` holds goes back to routing, oldest first; owners stay.
    pub(super) fn hand_back(&mut self, id: &AgentId, now: DateTime<Utc>) -> Vec<Assignment> {
        let held = self.ordered(
            |r| r.holding == Holding::Assigned(id.clone()),
            |r| (r.since, 0.0),
        );
        let mut made = Vec::new();
        for conv in held {
            let Some(rec) = self.routes.get_mut(&conv) else {
                continue;
            };
            let (channel, wrap) = (rec.channel, std::mem::take(&mut rec.wrap));
            self.unhold(id, channel, wrap);
            made.extend(self.fall_back(&conv, now));
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
        let needs = Needs::new(req.requirements, req.channel, req.tier, now, policy);
        let tags = needs.at(0).to_vec();
        let mut new = false;
        if req
            .personal_agent
            .as_ref()
            .is_none_or(|a| !self.agents.contains_key(a))
        {
            *req.personal_agent = self.choose_personal_agent(req.channel, &tags);
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
                fits: a.fits(&tags),
            })
        });
        let least_loaded = self.least_loaded(req.channel, &tags);
        let placement = place(personal, true, least_loaded.as_ref());
        let mut rec = RouteRec {
            channel: req.channel,
            holding: Holding::Queued,
            owner: req.personal_agent.clone(),
            since: now,
            priority: req.priority,
            transfers: 0,
            queue: None,
            wrap: false,
            adopt: req.personal_agent.is_none(),
            relax_due: needs.next_relax(0),
            needs,
            step: 0,
        };
        let (reason, assignment) = match placement {
            Placement::Assign(agent, reason) => {
                rec.holding = Holding::Assigned(agent.clone());
                self.routes.insert(req.conversation.clone(), rec.clone());
                self.assign(req.conversation, &agent, req.channel, Some(reason));
                let made = self.assignment(req.conversation, &agent, reason, now, now);
                (reason, Some(made))
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
                    let in_queue = r.queue() == *q;
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
            by_group: BTreeMap::new(),
        }
    }

    /// The current route of a conversation, if it has one.
    pub fn current(&self, conv: &ConversationId) -> Option<Route> {
        self.routes
            .get(conv)
            .map(|r| r.route(RouteReason::AlreadyAssigned))
    }

    /// The conversations `agent` holds, longest held first.
    pub fn held(&self, agent: &AgentId) -> Vec<ConversationId> {
        self.ordered(
            |r| matches!(&r.holding, Holding::Assigned(a) if a == agent),
            |r| (r.since, 0.0),
        )
    }

    /// The conversations waiting in `queue` (not for a personal agent), first first.
    pub fn queued(&self, queue: Queue) -> Vec<super::QueuedConversation> {
        let waiting = |r: &RouteRec| r.holding == Holding::Queued && r.queue() == queue;
        let score = |r: &RouteRec| super::queue_score(r.priority, r.since.timestamp_millis());
        self.ordered(waiting, |r| (DateTime::<Utc>::MIN_UTC, score(r)))
            .into_iter()
            .filter_map(|c| {
                let r = self.routes.get(&c)?;
                Some(super::QueuedConversation {
                    conversation_id: c,
                    priority: r.priority,
                    waiting_since: r.since,
                })
            })
            .collect()
    }

    /// The tags an agent must have to take `conv` now.
    pub fn needs_now(&self, conv: &ConversationId) -> Vec<String> {
        self.routes
            .get(conv)
            .map(|r| r.needs_now().to_vec())
            .unwrap_or_default()
    }

    /// A customer of `agent` was merged into one who keeps their own personal agent (or
    /// the same one): `agent` has one customer fewer. `forget_customer.lua` mirrors it.
    pub fn drop_from_portfolio(&mut self, agent: &AgentId) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.portfolio = a.portfolio.saturating_sub(1);
        }
    }

    /// A call ended: frees the phone unit `conv` is held on; its holder keeps it as
    /// after-call work (no unit), and the freed unit serves whoever waits. A
    /// conversation routed on another channel, queued or waiting (a callback), in the
    /// supervisor queue or already after its call keeps its place (`None`). `release.lua`
    /// with a channel mirrors it.
    pub fn release_call(
        &mut self,
        conv: &ConversationId,
        now: DateTime<Utc>,
    ) -> Option<Vec<Assignment>> {
        let rec = self.routes.get_mut(conv)?;
        let Holding::Assigned(agent) = rec.holding.clone() else {
            return None;
        };
        if rec.channel != Channel::Phone || rec.queue.is_some() || rec.wrap {
            return None;
        }
        rec.wrap = true;
        self.free_unit(&agent, Channel::Phone);
        if let Some(a) = self.agents.get_mut(&agent) {
            a.after_call += 1;
        }
        Some(self.drain(&agent, Channel::Phone, now))
    }

    /// Forgets a resolved conversation; its agent's freed unit goes to whoever waits.
    pub fn release(&mut self, conv: &ConversationId, now: DateTime<Utc>) -> Vec<Assignment> {
        let Some(rec) = self.routes.remove(conv) else {
            return Vec::new();
        };
        match self.take_out(&rec) {
            Some(holder) => self.drain(&holder, rec.channel, now),
            None => Vec::new(),
        }
    }
}
