//! Ingest's first round trip on Redis: which customer a message belongs to. Its
//! identities are claimed (`SET NX GET`) or found in the process's identity cache;
//! every other customer holding one of them is merged into the oldest; a claim also
//! announces the fresh customer on the feed relay's due list.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;
use redis::RedisError;

use super::codec::{from_redis, parse_customer};
use super::RedisStore;
use crate::domain::{merge_target, CustomerId, Identity, InboundMessage};
use crate::store::StoreError;

/// The customers holding a message's identities, and whether only the cache said so.
pub(super) struct Claimed {
    owners: BTreeSet<CustomerId>,
    from_cache: bool,
}

impl RedisStore {
    /// Round trip 1: claims every identity unless someone holds it already (`SET NX
    /// GET`, Redis ≥ 7), and answers every holder. Commands go out together on
    /// the multiplexed connection, so this is one round trip however many identities.
    pub(super) async fn claim(
        &self,
        identities: &[Identity],
        fresh: &CustomerId,
        use_cache: bool,
        now: DateTime<Utc>,
    ) -> Result<Claimed, StoreError> {
        // A known customer's usual identities: no round trip (see `identity_cache`).
        let keys: Vec<String> = identities.iter().map(Identity::key).collect();
        let cached = use_cache
            .then(|| {
                self.identities
                    .owner_of_all(keys.iter().map(String::as_str))
            })
            .flatten();
        if let Some(owner) = cached {
            return Ok(Claimed {
                owners: BTreeSet::from([owner]),
                from_cache: true,
            });
        }
        // Each identity is claimed for the customer this process last saw holding it,
        // however long ago, else for `fresh`: an identity key lost while its customer
        // survived (a failover that missed one slot's writes) goes back to that customer
        // instead of starting a stranger.
        let claims = identities.iter().map(|identity| {
            let mut conn = self.conn.clone();
            let key = self.keys.identity(identity);
            let claim_for = use_cache
                .then(|| self.identities.remembered(&identity.key()))
                .flatten()
                .unwrap_or_else(|| fresh.clone());
            async move {
                let prior: Option<String> = redis::cmd("SET")
                    .arg(key)
                    .arg(claim_for.as_str())
                    .arg("NX")
                    .arg("GET")
                    .query_async(&mut conn)
                    .await?;
                Ok::<_, RedisError>((claim_for, prior))
            }
        });
        // A message that claims identities is likely a new customer's, whose first
        // script opens a conversation and writes its feed event: `fresh` goes on the feed
        // relay's due list in the same round trip (for a customer found instead, the
        // relay drops the entry for nothing), so that script need not answer `announce`.
        let (answers, ()) = tokio::try_join!(
            async { try_join_all(claims).await.map_err(from_redis) },
            self.announce_feed(fresh, now),
        )?;
        let mut owners = BTreeSet::new();
        for ((claimed_for, prior), identity) in answers.into_iter().zip(identities) {
            let Some(holder) = prior else {
                // Claimed for the customer this process remembered: unless that one was
                // erased since (its pointer gone with it), which it must not come back as.
                let owner = match claimed_for != *fresh {
                    true => self.unless_erased(identity, claimed_for, fresh).await?,
                    false => claimed_for,
                };
                owners.insert(owner);
                continue;
            };
            let holder = parse_customer(&holder)?;
            if claimed_for != *fresh && claimed_for != holder {
                self.remembered_owner(&claimed_for, identity, &mut owners)
                    .await?;
            }
            owners.insert(holder);
        }
        Ok(Claimed {
            owners,
            from_cache: false,
        })
    }

    /// An identity just claimed for `remembered`, whose pointer was gone: when that
    /// customer is being erased (or was), the identity goes to `fresh` instead.
    async fn unless_erased(
        &self,
        identity: &Identity,
        remembered: CustomerId,
        fresh: &CustomerId,
    ) -> Result<CustomerId, StoreError> {
        let (erasing, erased): (bool, bool) = redis::pipe()
            .hexists(self.keys.customer(&remembered), "erasing")
            .exists(self.keys.erasure(&remembered))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        if !erasing && !erased {
            return Ok(remembered);
        }
        self.identities.forget(&identity.key());
        let key = identity.key();
        self.repoint(&[key], &remembered, fresh).await?;
        Ok(fresh.clone())
    }

    /// Redis names another holder than the customer this process remembers for
    /// `identity`: a duplicate started while the identity key was lost, or the survivor
    /// of a merge. Either way both are one person, so a remembered customer that still
    /// exists joins the owners (and the merge into the oldest follows); one Redis no
    /// longer has is forgotten.
    async fn remembered_owner(
        &self,
        remembered: &CustomerId,
        identity: &Identity,
        owners: &mut BTreeSet<CustomerId>,
    ) -> Result<(), StoreError> {
        let exists: bool = redis::cmd("EXISTS")
            .arg(self.keys.customer(remembered))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        if exists {
            owners.insert(remembered.clone());
        } else {
            self.identities.forget(&identity.key());
        }
        Ok(())
    }

    /// The customer a message belongs to: its identities claimed (or looked up in the
    /// cache), and every other customer holding one of them merged into the oldest.
    pub(super) async fn owner(
        &self,
        msg: &InboundMessage,
        fresh: &CustomerId,
        use_cache: bool,
        now: DateTime<Utc>,
    ) -> Result<(CustomerId, bool), StoreError> {
        let claimed = self.claim(msg.identities(), fresh, use_cache, now).await?;
        let mut target = merge_target(claimed.owners.iter(), fresh);
        let others: Vec<&CustomerId> = claimed.owners.iter().filter(|o| **o != target).collect();
        for other in others {
            target = self.merge(other, &target, now).await?;
        }
        Ok((target, claimed.from_cache))
    }
}
