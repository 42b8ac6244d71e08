//! Blocked senders in the embedded store.

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::Identity;
use crate::store::{BlockStore, StoreError};

#[async_trait]
impl BlockStore for MemoryStore {
    async fn set_block(&self, identity: &Identity, blocked: bool) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let changed = match blocked {
            true => state.blocks.insert(identity.clone()),
            false => state.blocks.remove(identity),
        };
        if changed {
            state.blocks_version += 1;
        }
        Ok(changed)
    }

    async fn blocks(&self, known: u64) -> Result<Option<(u64, Vec<Identity>)>, StoreError> {
        let state = self.lock();
        if state.blocks_version == known {
            return Ok(None);
        }
        Ok(Some((
            state.blocks_version,
            state.blocks.iter().cloned().collect(),
        )))
    }
}
