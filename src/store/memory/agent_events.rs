//! Agents' events in the embedded store: each routing group's log, kept in memory.

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::{AgentId, ConversationId};
use crate::store::{AgentEvent, EventKind, EventStore, StoreError};

#[async_trait]
impl EventStore for MemoryStore {
    async fn push_event(
        &self,
        agent: &AgentId,
        kind: EventKind,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        self.lock().routing.event(agent, kind, conversation);
        Ok(())
    }

    async fn agent_events(
        &self,
        agent: &AgentId,
        after: &str,
        limit: usize,
    ) -> Result<Vec<AgentEvent>, StoreError> {
        Ok(self.lock().routing.events(agent, after, limit))
    }

    async fn last_event_id(&self, agent: &AgentId) -> Result<String, StoreError> {
        Ok(self.lock().routing.last_event_id(agent))
    }

    async fn newest_events(
        &self,
        cursors: &[(AgentId, String)],
        limit: usize,
    ) -> Result<Vec<(AgentId, String)>, StoreError> {
        let state = self.lock();
        Ok(cursors
            .iter()
            .filter_map(|(agent, after)| {
                let events = state.routing.events(agent, after, limit);
                events.last().map(|e| (agent.clone(), e.id.clone()))
            })
            .collect())
    }
}
