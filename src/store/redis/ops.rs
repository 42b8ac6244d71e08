//! Operating the Redis store: reachability, rate-limit windows shared by every replica,
//! and the count of routing decisions the Rust placement rule disagreed with.

use std::time::Duration as StdDuration;

use async_trait::async_trait;

use super::codec::from_redis;
use super::RedisStore;
use crate::store::{OpsStore, StoreError};

#[async_trait]
impl OpsStore for RedisStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    async fn count_request(
        &self,
        bucket: &str,
        n: u64,
        window: StdDuration,
    ) -> Result<(u64, StdDuration), StoreError> {
        // MULTI, so a counter can never be left without its expiry (a lost PEXPIRE
        // would block the caller forever); `NX` keeps the window's first expiry.
        let key = self.keys.rate(bucket);
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let (count, _, left): (u64, i64, i64) = redis::pipe()
            .atomic()
            .incr(&key, n)
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(window_ms)
            .arg("NX")
            .pttl(&key)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let left = u64::try_from(left).unwrap_or(window_ms);
        Ok((count, StdDuration::from_millis(left)))
    }
}

impl crate::store::Store for RedisStore {
    fn placement_mismatches(&self) -> u64 {
        self.placement_mismatches
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}
