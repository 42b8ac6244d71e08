//! Who can take a conversation in the reference engine: the personal agent chosen for a
//! new customer, the least loaded colleague, and how well an agent fits what a
//! conversation needs. A choice under requirements looks at the first `CANDIDATES`
//! agents (in choice order) who have the rarest needed tag, as the Redis script does
//! with one sorted set per tag, so both engines choose alike and neither scans everyone.

use chrono::{DateTime, Utc};

use crate::domain::{AgentId, Channel, ConversationId, Presence, RouteReason};
use crate::routing::{Assignment, Fit, CANDIDATES};

use super::{AgentRec, Routing};

impl AgentRec {
    /// Has every tag in `needs`.
    pub(super) fn fits(&self, needs: &[String]) -> bool {
        needs.iter().all(|t| self.tags.contains(t))
    }

    fn can_serve(&self, channel: Channel) -> bool {
        self.presence == Presence::Online && self.has_room(channel)
    }
}

impl Routing {
    /// Smallest portfolio, then lowest load on the channel, then id; among the agents who
    /// can serve the customer now (online, with room on the channel, fitting its needs):
    /// a new customer never waits for, and is never given, an agent who cannot (CONTRACT
    /// rule 2).
    pub(super) fn choose_personal_agent(
        &self,
        channel: Channel,
        needs: &[String],
    ) -> Option<AgentId> {
        self.pick(channel, needs, |a| (a.portfolio, a.load(channel)))
    }

    /// The online agent with room on the channel who fits `needs`, lowest load first,
    /// then id.
    pub(super) fn least_loaded(&self, channel: Channel, needs: &[String]) -> Option<AgentId> {
        self.pick(channel, needs, |a| (0, a.load(channel)))
    }

    fn pick(
        &self,
        channel: Channel,
        needs: &[String],
        key: impl Fn(&AgentRec) -> (u64, u32),
    ) -> Option<AgentId> {
        let able = self.agents.values().filter(|a| a.can_serve(channel));
        let order = |a: &&AgentRec| (key(a), a.profile.id.clone());
        if needs.is_empty() {
            return able.min_by_key(order).map(|a| a.profile.id.clone());
        }
        let holders = |tag: &String| able.clone().filter(|a| a.tags.contains(tag)).count();
        let rarest = needs.iter().min_by_key(|t| holders(t))?;
        let mut candidates: Vec<&AgentRec> = able.filter(|a| a.tags.contains(rarest)).collect();
        candidates.sort_by_key(order);
        candidates
            .into_iter()
            .take(CANDIDATES)
            .find(|a| a.fits(needs))
            .map(|a| a.profile.id.clone())
    }

    /// The assignment of `conv` to `agent` made now, with how the agent fits its needs.
    pub(super) fn assignment(
        &self,
        conv: &ConversationId,
        agent: &AgentId,
        reason: RouteReason,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Assignment {
        let Some(rec) = self.routes.get(conv) else {
            return Assignment::new(conv, agent, reason, Channel::Chat, since, now);
        };
        let made = Assignment::new(conv, agent, reason, rec.channel, since, now);
        if rec.needs.is_empty() {
            return made;
        }
        let tags = self
            .agents
            .get(agent)
            .map_or(&[][..], |a| a.tags.as_slice());
        made.fitting(Fit::of(tags, &rec.needs), rec.needs.language.clone())
    }
}
