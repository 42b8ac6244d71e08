//! The event feed in the embedded store: each routing group's shard, kept by the
//! reference engine where the change is made.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::feed::FeedEvent;
use crate::store::{FeedStore, StoreError};

#[async_trait]
impl FeedStore for MemoryStore {
    async fn feed_shards(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.lock().routing.feed_shards())
    }

    async fn feed_after(
        &self,
        shard: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        Ok(self.lock().routing.feed_after(shard, after, limit))
    }

    async fn trim_feed(&self, before: DateTime<Utc>) -> Result<(), StoreError> {
        self.lock().routing.trim_feed(before);
        Ok(())
    }
}
