//! Cross-group transfers in the reference engine. A conversation leaves one group's
//! routing (`hand_off`) and arrives in another's (`take_over`): two steps, because on
//! Redis each group is its own hash slot and no script may span two. Each step is
//! idempotent, so the Redis saga can be finished by whoever finds it half done.

use chrono::{DateTime, Utc};

use crate::domain::{AgentId, Channel, ConversationId, Presence, Route, RouteReason};
use crate::routing::Assignment;

use super::{Holding, RouteRec, Routing};

/// What a conversation carries from one group to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    pub channel: Channel,
    pub priority: u8,
    pub since: DateTime<Utc>,
    /// Transfers so far, this one included.
    pub transfers: u32,
}

impl Routing {
    /// The channel and the transfers so far of a routed conversation.
    pub fn routed(&self, conv: &ConversationId) -> Option<(Channel, u32)> {
        self.routes.get(conv).map(|r| (r.channel, r.transfers))
    }

    /// Whether `agent` is online with room on `channel` in this group.
    pub fn can_take(&self, agent: &AgentId, channel: Channel) -> bool {
        self.agents
            .get(agent)
            .is_some_and(|a| a.presence == Presence::Online && a.has_room(channel))
    }

    /// Whether `agent` may leave this group: they hold nothing, nobody waits for them
    /// and they are nobody's personal agent (a customer belongs to their agent's group).
    pub fn is_idle(&self, agent: &AgentId) -> bool {
        let busy = self.routes.values().any(|r| match &r.holding {
            Holding::Assigned(a) | Holding::Waiting { agent: a, .. } => a == agent,
            _ => false,
        });
        !busy && self.agents.get(agent).is_none_or(|a| a.portfolio == 0)
    }

    /// First step: `conv` leaves this group; its holder's freed unit serves whoever
    /// waits for them. `None` when it is not routed here (already handed off).
    pub fn hand_off(
        &mut self,
        conv: &ConversationId,
        now: DateTime<Utc>,
    ) -> Option<(Handoff, Vec<Assignment>)> {
        let rec = self.routes.remove(conv)?;
        let handoff = Handoff {
            channel: rec.channel,
            priority: rec.priority,
            since: rec.since,
            transfers: rec.transfers + 1,
        };
        let made = match self.take_out(&rec) {
            Some(holder) => self.drain(&holder, rec.channel, now),
            None => Vec::new(),
        };
        Some((handoff, made))
    }

    /// Second step: `conv` arrives for `target`, or, if they can no longer take it, for
    /// the least loaded agent here, or this group's queue. A conversation already routed
    /// here is answered as it stands (the step ran before).
    pub fn take_over(
        &mut self,
        conv: &ConversationId,
        handoff: &Handoff,
        target: &AgentId,
        now: DateTime<Utc>,
    ) -> (Route, Vec<Assignment>) {
        if let Some(rec) = self.routes.get(conv) {
            return (rec.route(RouteReason::AlreadyAssigned), Vec::new());
        }
        // A transfer's target takes it as a transfer; anyone else as a fallback.
        let taker = if self.can_take(target, handoff.channel) {
            Some((target.clone(), None))
        } else {
            self.least_loaded(handoff.channel, &[])
                .map(|a| (a, Some(RouteReason::Fallback)))
        };
        let rec = RouteRec {
            channel: handoff.channel,
            holding: taker
                .as_ref()
                .map_or(Holding::Queued, |(a, _)| Holding::Assigned(a.clone())),
            owner: None,
            since: handoff.since,
            priority: handoff.priority,
            transfers: handoff.transfers,
            queue: None,
            wrap: false,
            // The customer's personal agent belongs to the other group.
            adopt: false,
            // Requirements stay in the group that set them: an explicit transfer chose
            // the agent.
            needs: Default::default(),
            step: 0,
            relax_due: None,
        };
        let route = rec.route(RouteReason::AlreadyAssigned);
        self.routes.insert(conv.clone(), rec);
        let mut made = Vec::new();
        if let Some((agent, reason)) = taker {
            self.assign(conv, &agent, handoff.channel, reason);
            if let Some(reason) = reason {
                let a = Assignment::new(conv, &agent, reason, handoff.channel, handoff.since, now);
                made.push(a);
            }
        }
        (route, made)
    }
}
