//! Blocked senders on Redis: one set and its version under one hash tag
//! (`lua/blocks/set.lua` changes both at once). Replicas read the version each tick and
//! the set only when the version moved (`app::blocks`).

use async_trait::async_trait;

use super::codec::from_redis;
use super::RedisStore;
use crate::domain::Identity;
use crate::store::{BlockStore, StoreError};

#[async_trait]
impl BlockStore for RedisStore {
    async fn set_block(&self, identity: &Identity, blocked: bool) -> Result<bool, StoreError> {
        let changed: i64 = self
            .scripts
            .set_block
            .key(self.keys.blocks())
            .arg(identity.key())
            .arg(if blocked { "1" } else { "0" })
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(changed == 1)
    }

    async fn blocks(&self, known: u64) -> Result<Option<(u64, Vec<Identity>)>, StoreError> {
        let version: Option<u64> = redis::cmd("GET")
            .arg(self.keys.blocks_version())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let version = version.unwrap_or(0);
        if version == known {
            return Ok(None);
        }
        // Both in one slot: the set as of that version (or a newer one, read again next
        // tick).
        let (version, keys): (Option<u64>, Vec<String>) = redis::pipe()
            .get(self.keys.blocks_version())
            .smembers(self.keys.blocks())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let identities = keys
            .iter()
            .filter_map(|k| Identity::from_stored_key(k))
            .collect();
        Ok(Some((version.unwrap_or(0), identities)))
    }
}
