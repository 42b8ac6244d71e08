//! Agents' revoked tokens on Redis: one key per agent beside their group pointer, set by
//! `lua/credentials/revoke.lua` (never moved back) and read on every agent request.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::codec::from_redis;
use super::RedisStore;
use crate::domain::AgentId;
use crate::store::{format, CredentialStore, StoreError};

#[async_trait]
impl CredentialStore for RedisStore {
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
        let _: i64 = self
            .scripts
            .revoke_tokens
            .key(self.keys.agent_revoked(agent))
            .arg(at.timestamp_millis())
            .arg(keep.num_milliseconds().max(1))
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    async fn tokens_revoked(&self, agent: &AgentId) -> Result<Option<DateTime<Utc>>, StoreError> {
        let at: Option<i64> = redis::cmd("GET")
            .arg(self.keys.agent_revoked(agent))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(at.and_then(DateTime::from_timestamp_millis))
    }
}
