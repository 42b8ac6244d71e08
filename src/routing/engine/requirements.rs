//! A conversation's requirements over its life in the reference engine: they relax in
//! steps (`routing::Needs`), and an agent or admin may set them anew; either way a
//! queued conversation that someone now fits goes to them at once.

use chrono::{DateTime, Utc};

use crate::domain::{ConversationId, RouteReason};
use crate::routing::{Assignment, Needs};

use super::{Holding, Routing};

impl Routing {
    /// Relaxing steps due by `now` move on, oldest first; a queued conversation that
    /// someone now fits goes to them.
    pub(super) fn relax_due(&mut self, now: DateTime<Utc>) -> Vec<Assignment> {
        let due = self.ordered(
            |r| r.relax_due.is_some_and(|t| t <= now),
            |r| (r.relax_due.unwrap_or(now), 0.0),
        );
        due.iter()
            .filter_map(|conv| self.relax(conv, now))
            .collect()
    }

    fn relax(&mut self, conv: &ConversationId, now: DateTime<Utc>) -> Option<Assignment> {
        let rec = self.routes.get_mut(conv)?;
        rec.step = rec.needs.step_at(rec.step, now);
        rec.relax_due = rec.needs.next_relax(rec.step).filter(|t| *t > now);
        let queued = rec.holding == Holding::Queued && rec.queue.is_none();
        if !queued {
            return None;
        }
        self.place_queued(conv, now)
    }

    /// Gives a queued conversation to the least loaded agent who fits it now, if any.
    fn place_queued(&mut self, conv: &ConversationId, now: DateTime<Utc>) -> Option<Assignment> {
        let rec = self.routes.get(conv)?;
        let (channel, since) = (rec.channel, rec.since);
        let needs = rec.needs_now().to_vec();
        let agent = self.least_loaded(channel, &needs)?;
        let own = self
            .routes
            .get(conv)
            .is_some_and(|r| r.owner.as_ref() == Some(&agent));
        let reason = if own {
            RouteReason::PersonalAgent
        } else {
            RouteReason::Fallback
        };
        let reason = self
            .assign(conv, &agent, channel, Some(reason))
            .unwrap_or(reason);
        if let Some(r) = self.routes.get_mut(conv) {
            r.holding = Holding::Assigned(agent.clone());
        }
        Some(self.assignment(conv, &agent, reason, since, now))
    }

    /// Replaces what `conv` needs (relaxing again from `now`); `None` when it is not
    /// routed. Queued, it goes at once to a fitting agent with room; waiting for a
    /// personal agent who no longer fits, it falls back now; a holder keeps it.
    pub fn require(
        &mut self,
        conv: &ConversationId,
        needs: Needs,
        now: DateTime<Utc>,
    ) -> Option<Vec<Assignment>> {
        let rec = self.routes.get_mut(conv)?;
        rec.relax_due = needs.next_relax(0);
        rec.needs = needs;
        rec.step = 0;
        let tags = rec.needs_now().to_vec();
        let made = match rec.holding.clone() {
            Holding::Queued if rec.queue.is_none() => self.place_queued(conv, now),
            Holding::Waiting { agent, .. }
                if !self.agents.get(&agent).is_some_and(|a| a.fits(&tags)) =>
            {
                self.fall_back(conv, now)
            }
            _ => None,
        };
        Some(made.into_iter().collect())
    }

    /// Raises `conv`'s queue priority to at least `floor`; false when it is not routed.
    pub fn raise_priority(&mut self, conv: &ConversationId, floor: u8) -> bool {
        let Some(rec) = self.routes.get_mut(conv) else {
            return false;
        };
        rec.priority = rec.priority.max(floor);
        true
    }
}
