//! Agents' revoked tokens in the embedded store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::AgentId;
use crate::store::{format, CredentialStore, StoreError};

#[async_trait]
impl CredentialStore for MemoryStore {
    async fn revoke_tokens(
        &self,
        agent: &AgentId,
        at: DateTime<Utc>,
        keep: chrono::Duration,
    ) -> Result<(), StoreError> {
        // 0.1.0 replicas would go on taking the tokens: a revocation needs them all gone.
        if !self.format_gate.allows(format::TOKEN_REVOCATION) {
            return Err(format::before_finalize("revoking tokens needs"));
        }
        let mut state = self.lock();
        let until = Utc::now() + keep;
        let revoked = &mut state.revoked;
        revoked.retain(|_, (_, until)| *until > Utc::now());
        let entry = revoked.entry(agent.clone()).or_insert((at, until));
        if entry.0 <= at {
            *entry = (at, until);
        }
        Ok(())
    }

    async fn tokens_revoked(&self, agent: &AgentId) -> Result<Option<DateTime<Utc>>, StoreError> {
        let state = self.lock();
        Ok(state
            .revoked
            .get(agent)
            .filter(|(_, until)| *until > Utc::now())
            .map(|(at, _)| *at))
    }
}
