//! A small in-process cache of identity → customer, so a message from a known customer
//! skips the claim round trip. It is safe to be stale: identities only ever move by
//! merges, which leave a forwarding pointer that the ingest script follows (and the
//! cache is then corrected). Entries expire after a TTL; shards keep locks short and
//! independent, and a full shard is simply emptied.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::CustomerId;

const SHARDS: usize = 16;

pub(super) struct IdentityCache {
    shards: Vec<Mutex<HashMap<String, (CustomerId, Instant)>>>,
    per_shard: usize,
    ttl: Duration,
}

impl IdentityCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: (capacity / SHARDS).max(1),
            ttl,
        }
    }

    fn shard(&self, key: &str) -> &Mutex<HashMap<String, (CustomerId, Instant)>> {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        &self.shards[(h.finish() as usize) % SHARDS]
    }

    pub fn get(&self, key: &str) -> Option<CustomerId> {
        let shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        shard
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(c, _)| c.clone())
    }

    pub fn put(&self, key: String, customer: CustomerId) {
        let mut shard = self.shard(&key).lock().unwrap_or_else(|p| p.into_inner());
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.clear();
        }
        shard.insert(key, (customer, Instant::now()));
    }

    /// Drops what the cache believes about `key` (it proved wrong).
    pub fn forget(&self, key: &str) {
        let mut shard = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        shard.remove(key);
    }

    /// The one customer all of `keys` are known to belong to, if the cache knows them all.
    pub fn owner_of_all<'a>(&self, mut keys: impl Iterator<Item = &'a str>) -> Option<CustomerId> {
        let first = self.get(keys.next()?)?;
        keys.all(|k| self.get(k).as_ref() == Some(&first))
            .then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_answers_only_when_every_identity_agrees_and_entries_expire() {
        let cache = IdentityCache::new(64, Duration::from_millis(50));
        let (a, b) = (CustomerId::generate(), CustomerId::generate());
        cache.put("email:x".into(), a.clone());
        cache.put("phone:1".into(), a.clone());
        cache.put("chat:v".into(), b);
        assert_eq!(
            cache.owner_of_all(["email:x", "phone:1"].into_iter()),
            Some(a)
        );
        assert_eq!(
            cache.owner_of_all(["email:x", "chat:v"].into_iter()),
            None,
            "two customers"
        );
        assert_eq!(cache.owner_of_all(["email:x", "unknown"].into_iter()), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("email:x"), None, "expired");
    }

    #[test]
    fn a_full_shard_starts_over_instead_of_growing() {
        let cache = IdentityCache::new(SHARDS, Duration::from_secs(60));
        for i in 0..1000 {
            cache.put(format!("k{i}"), CustomerId::generate());
        }
        let total: usize = cache
            .shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum();
        assert!(total <= SHARDS, "{total}");
    }
}
