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
    /// rule 2). Under requirements: the first of the first `CANDIDATES` online agents
    /// (by portfolio, then id) who have the rarest needed tag that has room and fits, as
    /// `choose_personal` in Lua; ties in portfolio go by id, not load, so that index
    /// changes only with presence and portfolio, never with every assignment (keeping
    /// it ordered by load too halved routing throughput at 10,000 agents).
    pub(super) fn choose_personal_agent(
        &self,
        channel: Channel,
        needs: &[String],
    ) -> Option<AgentId> {
        let key = |a: &&AgentRec| (a.portfolio, a.load(channel), a.profile.id.clone());
        if needs.is_empty() {
            let able = self.agents.values().filter(|a| a.can_serve(channel));
            return able.min_by_key(key).map(|a| a.profile.id.clone());
        }
        let online = self
            .agents
            .values()
            .filter(|a| a.presence == Presence::Online);
        let candidates = Self::rarest_first(online, needs, |a| (a.portfolio, 0));
        candidates
            .into_iter()
            .find(|a| a.has_room(channel) && a.fits(needs))
            .map(|a| a.profile.id.clone())
    }

    /// The online agent with room on the channel who fits `needs`, lowest load first,
    /// then id; under requirements, among the first `CANDIDATES` (by load) who have the
    /// rarest needed tag.
    pub(super) fn least_loaded(&self, channel: Channel, needs: &[String]) -> Option<AgentId> {
        let able = self.agents.values().filter(|a| a.can_serve(channel));
        if needs.is_empty() {
            return able
                .min_by_key(|a| (a.load(channel), a.profile.id.clone()))
                .map(|a| a.profile.id.clone());
        }
        Self::rarest_first(able, needs, |a| (u64::from(a.load(channel)), 0))
            .into_iter()
            .find(|a| a.fits(needs))
            .map(|a| a.profile.id.clone())
    }

    /// The first `CANDIDATES` of `pool` who have the rarest tag of `needs` (the fewest
    /// holders in `pool`; the first such tag on a tie), in `order` then id: what a
    /// `ZRANGE 0 CANDIDATES-1` of that tag's index answers.
    fn rarest_first<'a>(
        pool: impl Iterator<Item = &'a AgentRec> + Clone,
        needs: &[String],
        order: impl Fn(&AgentRec) -> (u64, u32),
    ) -> Vec<&'a AgentRec> {
        let holders = |tag: &String| pool.clone().filter(|a| a.tags.contains(tag)).count();
        let Some(rarest) = needs.iter().min_by_key(|t| holders(t)) else {
            return Vec::new();
        };
        let mut candidates: Vec<&AgentRec> = pool.filter(|a| a.tags.contains(rarest)).collect();
        candidates.sort_by_key(|a| (order(a), a.profile.id.clone()));
        candidates.truncate(CANDIDATES);
        candidates
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
