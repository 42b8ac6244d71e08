//! How conversations move between agents and queues in the reference engine: transfers,
//! expired waits and graces, draining a queue onto freed capacity, giving and giving back.

use chrono::{DateTime, Utc};

use crate::domain::feed::FeedType;
use crate::domain::{AgentId, Channel, ConversationId, Presence, Queue, RouteReason};
use crate::routing::{
    queue_score, Assignment, EventKind, TransferOutcome, TransferTarget, MAX_TRANSFERS, QUEUE_SCAN,
};

use super::{Holding, RouteRec, Routing};

impl Routing {
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
                self.unhold(agent, rec.channel, rec.wrap);
                if let Some(r) = self.routes.get_mut(conv) {
                    r.wrap = false;
                }
                Some(agent.clone())
            }
            _ => None,
        };
        let to_supervisor = supervisor || matches!(to, TransferTarget::Queue(Queue::Supervisor));
        // Order matters: the target agent takes its unit before the old holder's freed
        // unit serves whoever waits for them; a conversation sent to its channel's queue
        // is placed last, with everyone's room known.
        // The target of an ownerless customer becomes their personal agent.
        let mut adopted = None;
        let holding = match to {
            TransferTarget::Agent(target) if !to_supervisor => {
                self.assign(conv, target, rec.channel, None);
                if rec.adopt {
                    adopted = Some(self.assignment(
                        conv,
                        target,
                        RouteReason::NewPersonalAgent,
                        rec.since,
                        now,
                    ));
                }
                Holding::Assigned(target.clone())
            }
            _ => Holding::Transferring,
        };
        if let Some(r) = self.routes.get_mut(conv) {
            r.holding = holding;
            r.queue = to_supervisor.then_some(Queue::Supervisor);
            r.transfers = transfers;
        }
        let mut assignments: Vec<Assignment> = adopted.into_iter().collect();
        assignments.extend(
            old.map(|a| self.drain(&a, rec.channel, now))
                .unwrap_or_default(),
        );
        if self
            .routes
            .get(conv)
            .is_some_and(|r| r.holding == Holding::Transferring)
        {
            let placed = match (
                to_supervisor,
                self.least_loaded(rec.channel, rec.needs_now()),
            ) {
                (false, Some(agent)) => {
                    let reason = self
                        .assign(conv, &agent, rec.channel, Some(RouteReason::Fallback))
                        .unwrap_or(RouteReason::Fallback);
                    assignments.push(self.assignment(conv, &agent, reason, rec.since, now));
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

    /// Takes a conversation out of wherever its route `rec` stands: its holder's unit
    /// (`unhold`); a wait or a queue needs nothing more, both being read from the routes.
    /// Answers the holder, whose freed unit the caller hands on. `take_out` in Lua.
    pub(super) fn take_out(&mut self, rec: &RouteRec) -> Option<AgentId> {
        let Holding::Assigned(holder) = &rec.holding else {
            return None;
        };
        self.unhold(holder, rec.channel, rec.wrap);
        Some(holder.clone())
    }

    /// Frees what `agent` held a conversation with: its unit, or, for one whose call
    /// ended (`wrap`), its place in the agent's after-call work. `unhold` in Lua.
    pub(super) fn unhold(&mut self, agent: &AgentId, channel: Channel, wrap: bool) {
        if !wrap {
            return self.free_unit(agent, channel);
        }
        if let Some(a) = self.agents.get_mut(agent) {
            a.after_call = a.after_call.saturating_sub(1);
        }
    }

    pub(super) fn free_unit(&mut self, agent: &AgentId, channel: Channel) {
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
            .filter_map(|conv| self.fall_back(conv, now))
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
        made.extend(self.relax_due(now));
        made
    }

    pub(super) fn fall_back(
        &mut self,
        conv: &ConversationId,
        now: DateTime<Utc>,
    ) -> Option<Assignment> {
        let rec = self.routes.get(conv)?;
        let (channel, since) = (rec.channel, rec.since);
        match self.least_loaded(channel, rec.needs_now()) {
            Some(agent) => {
                let reason = self
                    .assign(conv, &agent, channel, Some(RouteReason::Fallback))
                    .unwrap_or(RouteReason::Fallback);
                if let Some(r) = self.routes.get_mut(conv) {
                    r.holding = Holding::Assigned(agent.clone());
                }
                Some(self.assignment(conv, &agent, reason, since, now))
            }
            None => {
                if let Some(r) = self.routes.get_mut(conv) {
                    r.holding = Holding::Queued;
                }
                None
            }
        }
    }

    pub(super) fn drain_all(&mut self, agent: &AgentId, now: DateTime<Utc>) -> Vec<Assignment> {
        Channel::ALL
            .iter()
            .flat_map(|c| self.drain(agent, *c, now))
            .collect()
    }

    /// Fills `agent`'s free units on `channel`: their own waiting customers first, then
    /// the channel's queue in priority order, passing over what they do not fit.
    pub(super) fn drain(
        &mut self,
        agent: &AgentId,
        channel: Channel,
        now: DateTime<Utc>,
    ) -> Vec<Assignment> {
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
            let since = rec.since;
            let reason = self
                .assign(&conv, agent, channel, Some(reason))
                .unwrap_or(reason);
            made.push(self.assignment(&conv, agent, reason, since, now));
        }
        made
    }

    /// The conversation `agent` should take next on `channel`, if they have room.
    pub(super) fn next_for(&self, agent: &AgentId, channel: Channel) -> Option<ConversationId> {
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
            // Only what they fit, among the first `QUEUE_SCAN` in queue order.
            let fits = |conv: &ConversationId| {
                self.routes.get(conv).is_some_and(|r| a.fits(r.needs_now()))
            };
            let by_priority = |r: &RouteRec| {
                (
                    DateTime::<Utc>::MIN_UTC,
                    queue_score(r.priority, r.since.timestamp_millis()),
                )
            };
            self.ordered(queued, by_priority)
                .into_iter()
                .take(QUEUE_SCAN)
                .find(fits)
        })
    }

    /// Conversations matching `keep`, ordered by `key` then id (as the sorted sets do).
    pub(super) fn ordered(
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
    /// A customer nobody could serve at first gets `agent` as personal agent (answered
    /// as `NewPersonalAgent`, the reason this answers).
    pub(super) fn assign(
        &mut self,
        conv: &ConversationId,
        agent: &AgentId,
        channel: Channel,
        reason: Option<RouteReason>,
    ) -> Option<RouteReason> {
        let adopted = self.adopt(conv, agent);
        let reason = if adopted && reason.is_some() {
            Some(RouteReason::NewPersonalAgent)
        } else {
            reason
        };
        if let Some(a) = self.agents.get_mut(agent) {
            *a.load.entry(channel).or_insert(0) += 1;
        }
        let label = reason.map(RouteReason::as_str).unwrap_or("transfer");
        let kind = if reason.is_some() {
            EventKind::ConversationAssigned
        } else {
            EventKind::ConversationTransferred
        };
        self.event(agent, kind, conv, label, None);
        let owner = self.routes.get(conv).and_then(|r| r.owner.clone());
        let since = self.routes.get(conv).map(|r| r.since.timestamp_millis());
        let feed_kind = match reason {
            Some(_) => FeedType::ConversationAssigned,
            None => FeedType::ConversationTransferred,
        };
        let data = serde_json::json!({
            "conversation_id": conv.to_string(), "agent_id": agent.as_str(),
            "channel": channel.as_str(), "reason": label,
            "personal_agent_id": owner.as_ref().map(AgentId::as_str).unwrap_or(""),
            "waiting_since_ms": since.unwrap_or(0),
        });
        let at = self.feed(feed_kind, &conv.to_string(), data);
        self.note_assignment(conv, agent, at, reason.is_none());
        if let (Some(owner), Some(_)) = (owner, reason) {
            if owner != *agent {
                self.event(
                    &owner,
                    EventKind::ConversationCovered,
                    conv,
                    label,
                    Some(agent.to_string()),
                );
            }
        }
        reason
    }

    /// Makes `agent` the owner of an unowned conversation's customer; whether it did.
    fn adopt(&mut self, conv: &ConversationId, agent: &AgentId) -> bool {
        let Some(rec) = self.routes.get_mut(conv).filter(|r| r.adopt) else {
            return false;
        };
        rec.adopt = false;
        rec.owner = Some(agent.clone());
        if let Some(a) = self.agents.get_mut(agent) {
            a.portfolio += 1;
        }
        true
    }
}
