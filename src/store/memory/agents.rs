//! Agents in the embedded store: profiles, presence and removal go through the routing
//! engine, which may hand waiting work to someone (customers adopt whoever takes them).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{AgentId, AgentProfile, AgentView, ConversationId, Presence};
use crate::store::{AgentStore, Assignment, SavedAgent, StoreError};

#[async_trait]
impl AgentStore for MemoryStore {
    async fn put_agent(
        &self,
        profile: &AgentProfile,
        now: DateTime<Utc>,
    ) -> Result<SavedAgent, StoreError> {
        let mut state = self.lock();
        let (view, created, assignments) = state
            .routing
            .put_agent(profile.clone(), now)
            .map_err(|busy| StoreError::Conflict(busy.to_owned()))?;
        state.adopt(&assignments);
        Ok(SavedAgent {
            view,
            created,
            assignments,
        })
    }

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentView>, StoreError> {
        Ok(self.lock().routing.agent(id))
    }

    async fn agents(&self) -> Result<Vec<AgentView>, StoreError> {
        Ok(self.lock().routing.agents())
    }

    async fn held(&self, agent: &AgentId) -> Result<Vec<ConversationId>, StoreError> {
        Ok(self.lock().routing.held(agent))
    }

    async fn set_presence(
        &self,
        id: &AgentId,
        presence: Presence,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        let grace = self.policy.offline_grace;
        let mut state = self.lock();
        let made = state.routing.set_presence(id, presence, now, grace);
        state.adopt(made.as_deref().unwrap_or_default());
        Ok(made)
    }

    async fn delete_agent(
        &self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        let mut state = self.lock();
        let made = state.routing.delete_agent(id, now);
        state.adopt(made.as_deref().unwrap_or_default());
        Ok(made)
    }
}
