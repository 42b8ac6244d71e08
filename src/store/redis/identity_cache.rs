//! A small in-process cache of identity → customer, so a message from a known customer
//! skips the claim round trip. It is safe to be stale: identities only ever move by
//! merges, which leave a forwarding pointer that the ingest script follows (and the
//! cache is then corrected). Entries are answered for a TTL (see `memo`); past it the
//! identity is claimed in Redis again, for the customer remembered, so an identity key
//! Redis lost while its customer survived is written back rather than handed to a
//! stranger.

use std::time::Duration;

use crate::domain::CustomerId;
use crate::store::sharded_cache::ShardedCache;

pub(super) struct IdentityCache {
    memo: ShardedCache<String, CustomerId>,
    ttl: Duration,
}

impl IdentityCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            memo: ShardedCache::new(capacity),
            ttl,
        }
    }

    pub fn get(&self, key: &str) -> Option<CustomerId> {
        self.memo.get_within(key, self.ttl)
    }

    /// The customer last seen holding `key`, however long ago: what a claim writes back
    /// if Redis lost the identity key (see `RedisStore::claim`).
    pub fn remembered(&self, key: &str) -> Option<CustomerId> {
        self.memo.get_within(key, Duration::MAX)
    }

    pub fn put(&self, key: String, customer: CustomerId) {
        self.memo.put(key, customer);
    }

    /// Drops what the cache believes about `key` (it proved wrong).
    pub fn forget(&self, key: &str) {
        self.memo.forget(key);
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
}
