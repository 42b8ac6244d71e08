//! Operating the embedded store: it is always reachable, and rate-limit windows live in
//! this process only.

use async_trait::async_trait;

use super::MemoryStore;
use crate::store::{OpsStore, StoreError};

#[async_trait]
impl OpsStore for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn count_request(
        &self,
        bucket: &str,
        n: u64,
        window: std::time::Duration,
    ) -> Result<(u64, std::time::Duration), StoreError> {
        let now = std::time::Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        // Windows that ended are dropped as they are met, and all of them now and then,
        // so idle callers do not accumulate.
        if windows.len() > 10_000 {
            windows.retain(|_, (_, end)| *end > now);
        }
        let entry = windows
            .entry(bucket.to_owned())
            .or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 += n;
        Ok((entry.0, entry.1 - now))
    }
}

impl crate::store::Store for MemoryStore {}
