//! The embedded store's state changes: stitching identities, merges, opening and
//! reopening conversations, routing them, and the views read from it.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::domain::{
    merge_target, next_step, AgentId, Channel, ConversationId, ConversationState, ConversationStep,
    CustomerId, CustomerView, Identity, InboundMessage, Incarnation, Message, Requirements,
    RouteReason, RoutingGroup,
};
use crate::routing::{priority, routing_group, Assignment, Groups, Request};
use crate::store::{StoreError, StorePolicy, MAX_HOPS};

use super::{ConvRec, CustomerRec, State};

impl State {
    /// Follows merge pointers to the customer that holds `id`'s data now.
    pub(super) fn live(&self, id: &CustomerId) -> Result<CustomerId, StoreError> {
        let mut id = id.clone();
        for _ in 0..MAX_HOPS {
            match self.customers.get(&id).and_then(|c| c.merged_into.clone()) {
                Some(next) => id = next,
                None => return Ok(id),
            }
        }
        Err(StoreError::Contention(format!(
            "merge chain from {id} too long"
        )))
    }

    pub(super) fn customer_mut(&mut self, id: &CustomerId) -> Result<&mut CustomerRec, StoreError> {
        self.customers
            .get_mut(id)
            .ok_or_else(|| StoreError::Corrupt(format!("customer {id} missing")))
    }

    pub(super) fn start_conversation(
        &mut self,
        cid: &CustomerId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let c = self.customer_mut(cid)?;
        c.seq += 1;
        let seq = c.seq;
        let id = ConversationId::new(cid.clone(), seq);
        c.conversations.push(id.clone());
        c.open = Some(seq);
        c.last = Some(seq);
        self.conversations.insert(id, ConvRec::new(now));
        Ok(seq)
    }

    /// Moves `source`'s identities, history and open conversation into `target`.
    pub(super) fn merge(
        &mut self,
        source: &CustomerId,
        target: &CustomerId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut src = self
            .customers
            .remove(source)
            .ok_or_else(|| StoreError::Corrupt(format!("customer {source} missing")))?;
        let mut released = Vec::new();
        let src_open = src
            .open
            .take()
            .map(|seq| ConversationId::new(source.clone(), seq));
        if let Some(open) = &src_open {
            if let Some(conv) = self.conversations.get_mut(open) {
                conv.state = ConversationState::Resolved;
                conv.resolved_at = Some(now);
            }
            // Its timeline joins the survivor's conversation, which routing owns now.
            let group = self.conv_group(open);
            released = self.routing.release(&group, open, now);
        }
        for identity in &src.identities {
            self.identities.insert(identity.clone(), target.clone());
        }
        // The survivor keeps their own personal agent: the merged customer's no longer
        // counts them (one customer, counted once, even when it is the same agent), unless
        // that agent has been removed (and perhaps created again) since.
        let src_alive = personal_alive(&self.routing, &src.personal_agent, &src.personal_born);
        let t_alive = self
            .customers
            .get(target)
            .is_none_or(|t| personal_alive(&self.routing, &t.personal_agent, &t.personal_born));
        let t = self.customer_mut(target)?;
        if !t_alive {
            // Removed since (or created again): the survivor has none, S's may take over.
            t.personal_agent = None;
            t.personal_born = None;
        }
        let dropped = t
            .personal_agent
            .as_ref()
            .and(src.personal_agent.clone())
            .filter(|_| src_alive);
        t.identities.extend(src.identities.iter().cloned());
        for conv in &src.conversations {
            if !t.conversations.contains(conv) {
                t.conversations.push(conv.clone());
            }
        }
        for (key, entry) in src.dedup.drain() {
            t.dedup.entry(key).or_insert(entry);
        }
        if t.personal_agent.is_none() {
            if let Some(agent) = src.personal_agent.take() {
                t.personal_agent = Some(agent);
                t.personal_born = src.personal_born.take();
                t.group = src.group.clone();
            }
        }
        t.display_name = t.display_name.take().or(src.display_name.take());
        let t_open = t.open;
        if let Some(absorbed) = src_open {
            let seq = match t_open {
                Some(seq) => seq,
                None => self.start_conversation(target, now)?,
            };
            let conv = ConversationId::new(target.clone(), seq);
            if let Some(c) = self.conversations.get_mut(&conv) {
                c.absorbed.push(absorbed);
            }
        }
        src.merged_into = Some(target.clone());
        self.customers.insert(source.clone(), src);
        let data = serde_json::json!({"customer_id": source.as_str(), "into": target.as_str()});
        self.customer_feed(
            target,
            crate::domain::feed::FeedType::CustomerMerged,
            source.as_str(),
            now,
            data,
        );
        if let Some(agent) = &dropped {
            self.routing.drop_from_portfolio(agent);
        }
        // As on Redis, where the freed unit's assignments are recorded after the survivor
        // took over the merged customer's fields.
        self.adopt(&released);
        Ok(())
    }

    /// Finds (or creates) the one customer all of `identities` belong to, merging as needed.
    pub(super) fn stitch(
        &mut self,
        identities: &[Identity],
        now: DateTime<Utc>,
    ) -> Result<CustomerId, StoreError> {
        let mut owners = BTreeSet::new();
        for identity in identities {
            if let Some(owner) = self.identities.get(identity) {
                let owner = self.live(owner)?;
                // An erased customer's identities start a new customer.
                if !self.erasing(&owner) {
                    owners.insert(owner);
                }
            }
        }
        let fresh = CustomerId::generate();
        let target = merge_target(owners.iter(), &fresh);
        self.customers
            .entry(target.clone())
            .or_insert_with(|| CustomerRec::new(now));
        for other in owners.iter().filter(|o| **o != target) {
            self.merge(other, &target, now)?;
        }
        for identity in identities {
            self.identities.insert(identity.clone(), target.clone());
        }
        self.customer_mut(&target)?
            .identities
            .extend(identities.iter().cloned());
        Ok(target)
    }

    pub(super) fn conversation_for(
        &mut self,
        cid: &CustomerId,
        now: DateTime<Utc>,
        policy: &StorePolicy,
    ) -> Result<(u64, bool), StoreError> {
        let c = self.customer_mut(cid)?;
        let last_resolved = c.last.and_then(|seq| {
            let conv = self
                .conversations
                .get(&ConversationId::new(cid.clone(), seq))
                // An archived conversation never reopens: its timeline is final.
                .filter(|conv| !conv.archived)?;
            Some((seq, conv.resolved_at?))
        });
        let open = self.customers.get(cid).and_then(|c| c.open);
        match next_step(open, last_resolved, now, policy.reopen_window) {
            ConversationStep::Append(seq) => Ok((seq, false)),
            ConversationStep::Reopen(seq) => {
                if let Some(conv) = self
                    .conversations
                    .get_mut(&ConversationId::new(cid.clone(), seq))
                {
                    conv.state = ConversationState::Open;
                    conv.resolved_at = None;
                    conv.repeat_contacts += 1;
                    // Routed afresh: in the group the customer belongs to now.
                    conv.group = None;
                }
                self.customer_mut(cid)?.open = Some(seq);
                Ok((seq, true))
            }
            ConversationStep::Start => Ok((self.start_conversation(cid, now)?, false)),
        }
    }

    /// Routes the conversation `msg` joined (or answers where it stands) in its group,
    /// recording a newly chosen personal agent, and their group, on the customer.
    pub(super) fn route(
        &mut self,
        cid: &CustomerId,
        conv: &ConversationId,
        msg: &InboundMessage,
        repeat: bool,
        now: DateTime<Utc>,
        policy: &StorePolicy,
    ) -> Result<crate::domain::Route, StoreError> {
        let (channel, hint) = (msg.medium().channel(), msg.group());
        let State {
            customers,
            conversations,
            routing,
            ..
        } = self;
        let customer = customers
            .get_mut(cid)
            .ok_or_else(|| StoreError::Corrupt(format!("customer {cid} missing")))?;
        let group = conversations
            .get_mut(conv)
            .map(|c| {
                c.group
                    .get_or_insert_with(|| {
                        routing_group(customer.personal_agent.is_some(), &customer.group, hint)
                    })
                    .clone()
            })
            .unwrap_or_default();
        // An agent removed and created again since is a stranger: chosen anew, as for a
        // removed one (`route.lua` checks the same).
        if !personal_alive(routing, &customer.personal_agent, &customer.personal_born) {
            customer.personal_agent = None;
            customer.personal_born = None;
        }
        let had_personal = customer.personal_agent.clone();
        if let Some(language) = &msg.requirements().language {
            customer.language = Some(language.clone());
        }
        let requirements = Requirements {
            language: customer.language.clone(),
            skills: msg.requirements().skills.clone(),
        };
        let request = Request {
            conversation: conv,
            channel,
            priority: priority(
                &customer.tier,
                repeat,
                channel,
                customer.complaint.is_some(),
            ),
            tier: &customer.tier,
            personal_agent: &mut customer.personal_agent,
            requirements: &requirements,
        };
        let route = routing.route(&group, request, now, policy).0;
        if let Some(agent) = &customer.personal_agent {
            if customer.personal_agent != had_personal {
                customer.personal_born = routing.born(agent).cloned();
                customer.group = group;
            }
        }
        Ok(route)
    }

    /// Customers nobody could serve at first get as personal agent whoever took them
    /// (assignments answered as `NewPersonalAgent`), in that agent's group.
    pub(super) fn adopt(&mut self, made: &[Assignment]) {
        for a in made
            .iter()
            .filter(|a| a.reason == RouteReason::NewPersonalAgent)
        {
            let Ok(cid) = self.live(a.conversation_id.customer()) else {
                continue;
            };
            let group = self
                .routing
                .group_of(&a.agent_id)
                .cloned()
                .unwrap_or_default();
            let born = self.routing.born(&a.agent_id).cloned();
            let routing = &self.routing;
            if let Some(c) = self.customers.get_mut(&cid) {
                // None, or one removed (or created again) since: `adopt.lua` likewise.
                if c.personal_agent.is_none()
                    || !personal_alive(routing, &c.personal_agent, &c.personal_born)
                {
                    c.personal_agent = Some(a.agent_id.clone());
                    c.personal_born = born;
                    c.group = group;
                }
            }
        }
    }

    /// The group a conversation is routed in (the default before it ever was).
    /// The channel a routed conversation is routed on and its customer's tier (what its
    /// requirements' relaxing steps depend on).
    pub(super) fn route_inputs(&self, conv: &ConversationId) -> Option<(Channel, String)> {
        let channel = self.routing.channel_of(&self.conv_group(conv), conv)?;
        let cid = self.live(conv.customer()).ok()?;
        let tier = self.customers.get(&cid)?.tier.clone();
        Some((channel, tier))
    }

    pub(super) fn conv_group(&self, conv: &ConversationId) -> RoutingGroup {
        self.conversations
            .get(conv)
            .and_then(|c| c.group.clone())
            .unwrap_or_default()
    }

    pub(super) fn customer_view(
        &self,
        id: &CustomerId,
    ) -> Result<Option<CustomerView>, StoreError> {
        if !self.customers.contains_key(id) {
            return Ok(None);
        }
        let id = self.live(id)?;
        let Some(c) = self.customers.get(&id).filter(|c| !c.erasing) else {
            return Ok(None);
        };
        Ok(Some(CustomerView {
            id: id.clone(),
            display_name: c.display_name.clone(),
            identities: c.identities.iter().cloned().collect(),
            tier: c.tier.clone(),
            personal_agent_id: personal_alive(&self.routing, &c.personal_agent, &c.personal_born)
                .then(|| c.personal_agent.clone())
                .flatten(),
            open_conversation_id: c.open.map(|seq| ConversationId::new(id.clone(), seq)),
            conversation_ids: c.conversations.clone(),
            created_at: c.created_at,
            satisfaction: None,
            follow_up_due: None,
            open_complaint_conversation_id: c.complaint.clone(),
        }))
    }

    /// Messages of `id` and of every conversation merged into it, depth-first.
    /// Collects a conversation's timeline and channels, merged conversations included;
    /// conversations met that moved to the archive are listed in `archived` instead (their
    /// archived copies hold what they absorbed).
    pub(super) fn timeline(&self, id: &ConversationId, depth: usize, out: &mut Timeline) {
        let Some(conv) = self.conversations.get(id) else {
            return;
        };
        if conv.archived {
            out.archived.push(id.clone());
            return;
        }
        out.messages.extend(conv.messages.iter().map(|m| {
            let mut m = m.clone();
            m.delivery = conv.deliveries.get(&m.id).cloned();
            m
        }));
        out.channels.extend(conv.channels.iter().copied());
        if depth < MAX_HOPS {
            for absorbed in &conv.absorbed {
                self.timeline(absorbed, depth + 1, out);
            }
        }
    }
}

/// A timeline being collected (`State::timeline`).
#[derive(Debug, Default)]
pub(super) struct Timeline {
    pub messages: Vec<Message>,
    pub channels: BTreeSet<Channel>,
    pub archived: Vec<ConversationId>,
}

/// Whether a customer's personal agent (`agent`, of life `born`) still lives: the agent
/// exists and is the life that took them (`Incarnation::same`). No agent: nothing to check.
fn personal_alive(routing: &Groups, agent: &Option<AgentId>, born: &Option<Incarnation>) -> bool {
    agent.as_ref().is_none_or(|a| {
        routing
            .born(a)
            .is_some_and(|now| Incarnation::same(born.as_ref(), Some(now)))
    })
}
