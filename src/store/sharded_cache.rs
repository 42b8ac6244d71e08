//! What a process remembers between requests (of Redis: identity → customer, agent →
//! group; of its own answers: a conversation's out-of-hours hint): a map sharded so
//! that requests on different threads rarely meet on one lock, each lock held for one
//! lookup, entries answered only while young enough for the caller, and a full shard
//! emptied rather than grown.

use std::borrow::Borrow;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const SHARDS: usize = 16;

pub struct ShardedCache<K, V> {
    shards: Vec<Mutex<HashMap<K, (V, Instant)>>>,
    per_shard: usize,
}

impl<K: Hash + Eq, V: Clone> ShardedCache<K, V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: (capacity / SHARDS).max(1),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> MutexGuard<'_, HashMap<K, (V, Instant)>> {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        self.shards[(h.finish() as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// What is remembered of `key`, if it was learnt within `ttl`.
    pub fn get_within<Q>(&self, key: &Q, ttl: Duration) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(key)
            .get(key)
            .filter(|(_, at)| at.elapsed() < ttl)
            .map(|(v, _)| v.clone())
    }

    pub fn put(&self, key: K, value: V) {
        let mut shard = self.shard(&key);
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.clear();
        }
        shard.insert(key, (value, Instant::now()));
    }

    /// Drops what is remembered of `key` (it proved wrong).
    pub fn forget<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shard(key).remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_answered_while_young_enough_for_the_caller() {
        let memo: ShardedCache<String, u32> = ShardedCache::new(64);
        memo.put("a".into(), 1);
        assert_eq!(memo.get_within("a", Duration::from_secs(60)), Some(1));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            memo.get_within("a", Duration::from_millis(10)),
            None,
            "too old"
        );
        memo.forget("a");
        assert_eq!(
            memo.get_within("a", Duration::from_secs(60)),
            None,
            "forgotten"
        );
    }

    #[test]
    fn a_full_shard_starts_over_instead_of_growing() {
        let memo: ShardedCache<String, u32> = ShardedCache::new(SHARDS);
        for i in 0..1000 {
            memo.put(format!("k{i}"), i);
        }
        assert!(memo.len() <= SHARDS, "{}", memo.len());
    }
}
