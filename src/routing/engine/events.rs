//! Agents' events in the reference engine: kept per agent (the newest `EVENTS_KEPT`),
//! replayed after an id, as the Redis streams are.

use crate::domain::{AgentId, ConversationId};
use crate::routing::{AgentEvent, EventKind, EVENTS_KEPT};

use super::Routing;

impl Routing {
    pub fn event(
        &mut self,
        agent: &AgentId,
        kind: EventKind,
        conv: &ConversationId,
        reason: &str,
        other: Option<String>,
    ) {
        self.next_event += 1;
        let log = self.log.entry(agent.clone()).or_default();
        log.push_back(AgentEvent {
            id: format!("{}-0", self.next_event),
            kind,
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

    /// Drops every event, and every feed entry, about a conversation `about` picks (a
    /// customer's erasure).
    pub fn forget_events(&mut self, about: &dyn Fn(&ConversationId) -> bool) {
        for log in self.log.values_mut() {
            log.retain(|e| !about(&e.conversation_id));
        }
        self.forget_feed(about);
    }

    pub fn last_event_id(&self, agent: &AgentId) -> String {
        self.log
            .get(agent)
            .and_then(|l| l.back())
            .map_or_else(|| "0-0".to_owned(), |e| e.id.clone())
    }
}

/// `"17-0"` → 17; anything unreadable sorts first.
fn event_seq(id: &str) -> u64 {
    id.split('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
