//! Retention on Redis: the due list, sharded (`P:arch:{arch:K}`, `retention::due_shard`)
//! so that no key is hot and every shard is one slot; a customer's due conversations read
//! as the archive keeps them; and the stubs (`lua/archive/stub.lua`), one script per
//! customer's slot.

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};

use super::codec::{corrupt, from_redis};
use super::conversations::StoredConversation;
use super::RedisStore;
use crate::domain::{ConversationId, CustomerId};
use crate::store::archive::{ArchivedConversation, Record};
use crate::store::format;
use crate::store::records::sort_timeline;
use crate::store::retention::{due_shard, Archivable, ArchiveCandidate, ArchiveClaim, DUE_SHARDS};
use crate::store::{ArchiveStore, StoreError, MAX_HOPS};

fn millis(ms: &str) -> Result<DateTime<Utc>, StoreError> {
    let ms: f64 = ms.parse().map_err(corrupt)?;
    #[allow(clippy::cast_possible_truncation)]
    Utc.timestamp_millis_opt(ms as i64)
        .single()
        .ok_or_else(|| StoreError::Corrupt(format!("bad time {ms}")))
}

#[async_trait]
impl ArchiveStore for RedisStore {
    async fn claim_archive_due(
        &self,
        resolved_before: DateTime<Utc>,
        lease: chrono::Duration,
        limit: usize,
    ) -> Result<Vec<ArchiveClaim>, StoreError> {
        if !self.format_gate.allows(format::ARCHIVE_STUBS) {
            return Ok(Vec::new());
        }
        let leased = resolved_before + lease;
        // Every shard in turn from a random one, so replicas sweeping at once start apart.
        let first = Utc::now().timestamp_subsec_nanos() % DUE_SHARDS;
        let mut claims = Vec::new();
        for k in 0..DUE_SHARDS {
            if claims.len() >= limit {
                break;
            }
            let found: Vec<String> = self
                .scripts
                .archive_claim
                .key(self.keys.archive_due((first + k) % DUE_SHARDS))
                .arg(resolved_before.timestamp_millis())
                .arg(leased.timestamp_millis())
                .arg(limit - claims.len())
                .invoke_async(&mut self.bulk.clone())
                .await
                .map_err(from_redis)?;
            for pair in found.chunks_exact(2) {
                claims.push(ArchiveClaim {
                    customer: pair[0].parse().map_err(corrupt)?,
                    since: millis(&pair[1])?,
                    leased,
                });
            }
        }
        Ok(claims)
    }

    async fn archivable(
        &self,
        customer: &CustomerId,
        resolved_before: DateTime<Utc>,
    ) -> Result<Archivable, StoreError> {
        let (next, due) = self.read_due(customer, resolved_before).await?;
        let mut candidates = Vec::new();
        let mut merged_in = Vec::new();
        for (id, own) in due {
            // Counted in the same step as read: an entry arriving since makes the stub refuse.
            let entries = own.messages.len();
            let copy = if own.absorbed.is_empty() {
                copy_of(&id, own)?
            } else {
                self.archive_copy(&id).await?
            };
            if let Some(conversation) = copy {
                merged_in.extend(conversation.record.merged_conversation_ids.iter().cloned());
                candidates.push(ArchiveCandidate {
                    conversation,
                    entries,
                });
            }
        }
        // The conversations merged into them (other customers' slots) move with them.
        let mut seen: std::collections::HashSet<ConversationId> = candidates
            .iter()
            .map(|c| c.conversation.id.clone())
            .collect();
        while let Some(id) = merged_in.pop() {
            if seen.len() > MAX_HOPS * MAX_HOPS || !seen.insert(id.clone()) {
                continue;
            }
            // Counted before the read, for the same reason.
            let entries: usize = redis::cmd("LLEN")
                .arg(self.keys.conversation_messages(&id))
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            let Some(conversation) = self.archive_copy(&id).await? else {
                continue;
            };
            merged_in.extend(conversation.record.merged_conversation_ids.iter().cloned());
            candidates.push(ArchiveCandidate {
                conversation,
                entries,
            });
        }
        Ok(Archivable { candidates, next })
    }

    async fn stub_archived(
        &self,
        candidates: &[ArchiveCandidate],
        now: DateTime<Utc>,
    ) -> Result<Vec<ConversationId>, StoreError> {
        // Merged-in conversations (listed after what absorbed them) first: a crash in
        // between leaves the absorbing one due, and its next move finishes the rest.
        let slots = grouped(candidates.iter().rev(), |c| c.conversation.id.customer());
        let mut stubbed = Vec::new();
        for (i, (customer, list)) in slots.iter().enumerate() {
            if i > 0 {
                crate::store::crash_point("archive_between_slots");
            }
            // Bounded calls: the script unpacks its arguments onto Lua's stack.
            for chunk in list.chunks(STUBS_PER_CALL) {
                stubbed.extend(self.stub_chunk(customer, chunk, now).await?);
            }
        }
        Ok(stubbed)
    }

    async fn release_archive_claims(
        &self,
        releases: &[(ArchiveClaim, Option<DateTime<Utc>>)],
    ) -> Result<(), StoreError> {
        // One script call per shard the claims came from.
        let shards = grouped(releases.iter(), |(claim, _)| due_shard(&claim.customer));
        for (shard, list) in shards {
            let mut call = self.scripts.archive_release.prepare_invoke();
            call.key(self.keys.archive_due(shard));
            for (claim, next) in list {
                call.arg(claim.customer.to_string())
                    .arg(claim.leased.timestamp_millis())
                    .arg(next.map_or(String::new(), |n| n.timestamp_millis().to_string()));
            }
            let _: i64 = call
                .invoke_async(&mut self.bulk.clone())
                .await
                .map_err(from_redis)?;
        }
        Ok(())
    }

    async fn delete_conversations(
        &self,
        ids: &[ConversationId],
        resolved_before: DateTime<Utc>,
    ) -> Result<Vec<ConversationId>, StoreError> {
        let by_customer = grouped(ids.iter(), ConversationId::customer);
        let mut deleted = Vec::new();
        for (customer, ids) in by_customer {
            for chunk in ids.chunks(STUBS_PER_CALL) {
                let gone = self.delete_chunk(customer, chunk, resolved_before).await?;
                deleted.extend(gone);
            }
        }
        Ok(deleted)
    }

    async fn oldest_unarchived(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut oldest: Option<DateTime<Utc>> = None;
        for shard in 0..DUE_SHARDS {
            let first: Vec<String> = redis::cmd("ZRANGE")
                .arg(self.keys.archive_due(shard))
                .arg(0)
                .arg(0)
                .arg("WITHSCORES")
                .query_async(&mut self.bulk.clone())
                .await
                .map_err(from_redis)?;
            if let [_, score] = first.as_slice() {
                let at = millis(score)?;
                oldest = Some(oldest.map_or(at, |o| o.min(at)));
            }
        }
        Ok(oldest)
    }
}

/// `items` grouped by `key` (each group one script call: one slot, or one shard), groups
/// in the order their first item came, items in their order.
fn grouped<'a, T, K: PartialEq>(
    items: impl Iterator<Item = &'a T>,
    key: impl Fn(&'a T) -> K,
) -> Vec<(K, Vec<&'a T>)> {
    let mut groups: Vec<(K, Vec<&'a T>)> = Vec::new();
    for item in items {
        let k = key(item);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, list)) => list.push(item),
            None => groups.push((k, vec![item])),
        }
    }
    groups
}

/// A due conversation as `read.lua` answers it: its sequence number, hash, messages,
/// channels, merged conversations and replies' delivery reports.
type DueConversation = (
    u64,
    Vec<(String, String)>,
    Vec<Vec<u8>>,
    Vec<String>,
    Vec<String>,
    Vec<(String, String)>,
);

/// The archive's copy of a conversation read from Redis (the view's own fields and its
/// timeline in order; the customer, read live, is no part of it); `None` unless it is
/// resolved and still in Redis.
fn copy_of(
    id: &ConversationId,
    mut c: StoredConversation,
) -> Result<Option<ArchivedConversation>, StoreError> {
    if c.hash.get("archived").is_some() || c.hash.get("state") != Some("resolved") {
        return Ok(None);
    }
    let Some(resolved_at) = c.hash.time("resolved_at")? else {
        return Ok(None);
    };
    sort_timeline(&mut c.messages);
    Ok(Some(ArchivedConversation {
        id: id.clone(),
        created_at: c.hash.time("created_at")?.unwrap_or_default(),
        resolved_at,
        record: Record {
            channels: c.channels.into_iter().collect(),
            repeat_contacts: c
                .hash
                .get("repeat_contacts")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            merged_conversation_ids: c.absorbed,
        },
        messages: c.messages,
    }))
}

/// Conversations one `stub.lua` call takes (three arguments each).
const STUBS_PER_CALL: usize = 500;

impl RedisStore {
    /// Stubs some of one customer's conversations in one script call.
    async fn stub_chunk(
        &self,
        customer: &CustomerId,
        chunk: &[&ArchiveCandidate],
        now: DateTime<Utc>,
    ) -> Result<Vec<ConversationId>, StoreError> {
        let mut call = self.scripts.archive_stub.prepare_invoke();
        call.key(self.keys.customer(customer))
            .key(self.keys.conversations(customer))
            .arg(now.timestamp_millis());
        for candidate in chunk {
            call.arg(candidate.conversation.id.seq())
                .arg(candidate.conversation.resolved_at.timestamp_millis())
                .arg(candidate.entries);
        }
        let seqs: Vec<u64> = call
            .invoke_async(&mut self.bulk.clone())
            .await
            .map_err(from_redis)?;
        Ok(seqs
            .into_iter()
            .map(|seq| ConversationId::new(customer.clone(), seq))
            .collect())
    }

    /// The archive's copy of a resolved conversation still in Redis, its timeline
    /// composed with the conversations merged into it.
    async fn archive_copy(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ArchivedConversation>, StoreError> {
        match self.composed(id).await? {
            Some(c) => copy_of(id, c),
            None => Ok(None),
        }
    }

    /// Deletes some of one customer's conversations (`lua/archive/delete.lua`), then
    /// their ids in the lists of the customers they were merged into, up the chain.
    async fn delete_chunk(
        &self,
        customer: &CustomerId,
        ids: &[&ConversationId],
        resolved_before: DateTime<Utc>,
    ) -> Result<Vec<ConversationId>, StoreError> {
        let mut call = self.scripts.archive_delete.prepare_invoke();
        call.key(self.keys.customer(customer))
            .key(self.keys.conversations(customer))
            .arg(resolved_before.timestamp_millis())
            .arg(customer.to_string());
        for id in ids {
            call.arg(id.seq());
        }
        let answer: Vec<String> = call
            .invoke_async(&mut self.bulk.clone())
            .await
            .map_err(from_redis)?;
        let Some((survivor, gone)) = answer.split_first() else {
            return Err(StoreError::Corrupt("delete.lua answered nothing".into()));
        };
        let gone: Vec<ConversationId> = gone
            .iter()
            .map(|seq| {
                Ok(ConversationId::new(
                    customer.clone(),
                    seq.parse().map_err(corrupt)?,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        let mut next = survivor.clone();
        for _ in 0..MAX_HOPS {
            if next.is_empty() || gone.is_empty() {
                break;
            }
            let survivor: CustomerId = next.parse().map_err(corrupt)?;
            let mut pipe = redis::pipe();
            for id in &gone {
                pipe.cmd("LREM")
                    .arg(self.keys.customer_conversations(&survivor))
                    .arg(0)
                    .arg(id.to_string())
                    .ignore();
            }
            pipe.cmd("HGET")
                .arg(self.keys.customer(&survivor))
                .arg("merged_into");
            let (further,): (Option<String>,) = pipe
                .query_async(&mut self.bulk.clone())
                .await
                .map_err(from_redis)?;
            next = further.unwrap_or_default();
        }
        Ok(gone)
    }

    /// Puts a customer on the due list from `resolved_at` (or keeps an earlier entry):
    /// written before the resolution it announces, so no crash can leave a resolved
    /// conversation off the list; an entry for nothing is dropped by the sweep.
    pub(super) async fn announce_resolution(
        &self,
        customer: &CustomerId,
        resolved_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _: i64 = redis::cmd("ZADD")
            .arg(self.keys.archive_due(due_shard(customer)))
            .arg("LT")
            .arg(resolved_at.timestamp_millis())
            .arg(customer.to_string())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    /// A customer's own conversations due (resolved before `resolved_before`, not
    /// archived), read whole in one step (`lua/archive/read.lua`), and the earliest
    /// resolution among the rest.
    async fn read_due(
        &self,
        customer: &CustomerId,
        resolved_before: DateTime<Utc>,
    ) -> Result<
        (
            Option<DateTime<Utc>>,
            Vec<(ConversationId, StoredConversation)>,
        ),
        StoreError,
    > {
        let (next, due): (String, Vec<DueConversation>) = self
            .scripts
            .archive_read
            .key(self.keys.customer(customer))
            .key(self.keys.conversations(customer))
            .arg(resolved_before.timestamp_millis())
            .arg(customer.to_string())
            .invoke_async(&mut self.bulk.clone())
            .await
            .map_err(from_redis)?;
        let next = (!next.is_empty()).then(|| millis(&next)).transpose()?;
        let due = due
            .into_iter()
            .map(|(seq, fields, messages, channels, absorbed, reports)| {
                let mut own = StoredConversation::parse((fields, messages, channels, absorbed))?;
                super::deliveries::attach(&mut own.messages, &reports);
                Ok((ConversationId::new(customer.clone(), seq), own))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((next, due))
    }
}
