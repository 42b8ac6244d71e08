//! The Redis store. An ingest costs two round trips in the common case: one to claim
//! (or look up) the message's identities, one Lua script that does everything else on
//! the customer's hash slot. Merges, rare by nature, run as a saga of idempotent
//! single-slot scripts that whoever meets a half-merged customer finishes.

use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use futures_util::future::try_join_all;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, Script, ServerErrorKind};
use serde::{Deserialize, Deserializer};

mod identity_cache;
mod keys;
mod outbox;
mod routing;

pub use keys::Keys;

use self::identity_cache::IdentityCache;
use self::routing::RoutingScripts;
use crate::routing::priority;
use crate::store::records::{inbound_record, sort_timeline};

/// Identities remembered per process, and for how long (see `identity_cache`).
const IDENTITY_CACHE_ENTRIES: usize = 100_000;
const IDENTITY_CACHE_TTL: StdDuration = StdDuration::from_secs(300);
use crate::domain::{
    merge_target, AgentId, AgentProfile, AgentView, Channel, ConversationId, ConversationState,
    ConversationView, CustomerId, CustomerView, EntryKind, Identity, InboundMessage, Message,
    Presence, Receipt, DEFAULT_QUEUE, DEFAULT_TIER,
};
use crate::store::{
    AgentEvent, Assignment, CallRecord, Delivery, DeliveryOutcome, DeliveryState, ReplyOutcome,
    ResolveOutcome, RoutingSnapshot, SavedAgent, Store, StoreError, StorePolicy, TransferOutcome,
    TransferTarget, CALL_TTL_SECS, EVENTS_KEPT, MAX_HOPS, THREAD_TTL_SECS,
};

struct Scripts {
    ingest: Script,
    merge_out: Script,
    merge_in: Script,
    repoint: Script,
    resolve: Script,
    reply: Script,
}

impl Scripts {
    fn load() -> Self {
        Self {
            ingest: Script::new(include_str!("lua/ingest.lua")),
            merge_out: Script::new(include_str!("lua/merge_out.lua")),
            merge_in: Script::new(include_str!("lua/merge_in.lua")),
            repoint: Script::new(include_str!("lua/repoint.lua")),
            resolve: Script::new(include_str!("lua/resolve.lua")),
            reply: Script::new(include_str!("lua/reply.lua")),
        }
    }
}

/// See the module docs and [`Keys`] for the layout.
pub struct RedisStore {
    conn: ConnectionManager,
    keys: Keys,
    policy: StorePolicy,
    scripts: Scripts,
    routing_scripts: RoutingScripts,
    outbox_claim: Script,
    identities: IdentityCache,
}

/// What merge_out hands to merge_in: everything of S that T absorbs.
#[derive(Debug, Deserialize)]
struct Snapshot {
    merged_into: String,
    /// The conversation that was open when the customer was merged away.
    #[serde(default)]
    open: Option<String>,
    #[serde(deserialize_with = "lua_list")]
    ids: Vec<String>,
}

/// cjson encodes an empty Lua table as `{}`; read that as an empty list.
fn lua_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrEmpty {
        List(Vec<String>),
        Empty(serde_json::Map<String, serde_json::Value>),
    }
    match ListOrEmpty::deserialize(d)? {
        ListOrEmpty::List(v) => Ok(v),
        ListOrEmpty::Empty(map) if map.is_empty() => Ok(Vec::new()),
        ListOrEmpty::Empty(_) => Err(serde::de::Error::custom("expected a list")),
    }
}

/// The customers holding a message's identities, and whether only the cache said so.
struct Claimed {
    owners: BTreeSet<CustomerId>,
    from_cache: bool,
}

enum ScriptAnswer {
    /// The script's further answers.
    Ok(Vec<String>),
    /// The customer (known from the cache only) does not exist in Redis.
    Unknown,
    Duplicate(String),
    Moved(CustomerId),
}

/// What the ingest script answers besides the receipt.
struct Appended {
    receipt: Receipt,
    /// The conversation's assigned agent (mirror), if any.
    agent: Option<String>,
    personal_agent: Option<String>,
    tier: String,
    repeat_contacts: u32,
}

impl RedisStore {
    /// Connects lazily: the service starts (not ready) while Redis is still down.
    pub fn connect(url: &str, prefix: &str, policy: StorePolicy) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(StdDuration::from_secs(2)))
            .set_response_timeout(Some(StdDuration::from_secs(2)))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(unavailable)?;
        Ok(Self {
            conn,
            keys: Keys::new(prefix),
            policy,
            scripts: Scripts::load(),
            routing_scripts: RoutingScripts::load(),
            outbox_claim: outbox::claim_script(),
            identities: IdentityCache::new(IDENTITY_CACHE_ENTRIES, IDENTITY_CACHE_TTL),
        })
    }

    /// Round trip 1: claims every identity for `fresh` unless someone holds it already
    /// (`SET NX GET`, Redis ≥ 7), and answers every holder. Commands go out together on
    /// the multiplexed connection, so this is one round trip however many identities.
    async fn claim(
        &self,
        identities: &[Identity],
        fresh: &CustomerId,
        use_cache: bool,
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
        let claims = identities.iter().map(|identity| {
            let mut conn = self.conn.clone();
            let key = self.keys.identity(identity);
            async move {
                let prior: Option<String> = redis::cmd("SET")
                    .arg(key)
                    .arg(fresh.as_str())
                    .arg("NX")
                    .arg("GET")
                    .query_async(&mut conn)
                    .await?;
                Ok::<_, RedisError>(prior)
            }
        });
        let answers = try_join_all(claims).await.map_err(from_redis)?;
        let owners = answers
            .into_iter()
            .map(|prior| match prior {
                Some(owner) => parse_customer(&owner),
                None => Ok(fresh.clone()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (key, owner) in keys.into_iter().zip(&owners) {
            self.identities.put(key, owner.clone());
        }
        Ok(Claimed {
            owners: owners.into_iter().collect(),
            from_cache: false,
        })
    }

    /// The customer a message belongs to: its identities claimed (or looked up in the
    /// cache), and every other customer holding one of them merged into the oldest.
    async fn owner(
        &self,
        msg: &InboundMessage,
        fresh: &CustomerId,
        use_cache: bool,
        now: DateTime<Utc>,
    ) -> Result<(CustomerId, bool), StoreError> {
        let claimed = self.claim(msg.identities(), fresh, use_cache).await?;
        let mut target = merge_target(claimed.owners.iter(), fresh);
        let others: Vec<&CustomerId> = claimed.owners.iter().filter(|o| **o != target).collect();
        for other in others {
            target = self.merge(other, &target, now).await?;
        }
        Ok((target, claimed.from_cache))
    }

    /// Round trip 2: the ingest script on the customer's slot.
    async fn append(
        &self,
        cid: &CustomerId,
        msg: &InboundMessage,
        message: &Message,
        from_cache: bool,
        now: DateTime<Utc>,
    ) -> Result<ScriptAnswer, StoreError> {
        let message_json =
            serde_json::to_string(message).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut call = self.scripts.ingest.prepare_invoke();
        call.key(self.keys.customer(cid))
            .key(self.keys.conversations(cid))
            .arg(cid.as_str())
            .arg(msg.idempotency_key())
            .arg(now.timestamp_millis())
            .arg(self.policy.reopen_window.num_milliseconds())
            .arg(self.policy.dedup_ttl.num_milliseconds())
            .arg(message.id.as_str())
            .arg(message_json)
            .arg(msg.medium().channel().as_str())
            .arg(msg.display_name().unwrap_or(""))
            .arg(DEFAULT_QUEUE)
            .arg(if from_cache { "1" } else { "0" });
        for identity in msg.identities() {
            call.arg(identity.key());
        }
        let answer: Vec<String> = call
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        script_answer(answer)
    }

    /// Round trip 3, only for a conversation no agent holds yet: routing decides; then
    /// one pipeline mirrors a newly chosen personal agent and the assignment on the
    /// customer's slot and gives the idempotency record the real route (the ingest
    /// script wrote it before routing had decided), so a retry after the conversation
    /// is resolved answers what the first delivery was told.
    async fn routed(
        &self,
        a: Appended,
        msg: &InboundMessage,
        now: DateTime<Utc>,
    ) -> Result<Receipt, StoreError> {
        let conv = a.receipt.conversation_id.clone();
        if a.agent.is_some() {
            // Held already: the script's receipt carries the real route.
            return Ok(a.receipt);
        }
        let channel = msg.medium().channel();
        let priority = priority(&a.tier, a.repeat_contacts > 0, channel);
        let routed = self
            .route_conversation(
                &conv,
                channel,
                priority,
                &a.tier,
                a.personal_agent.as_deref(),
                now,
            )
            .await?;
        let receipt = Receipt {
            route: routed.route,
            ..a.receipt
        };
        let cid = conv.customer();
        let mut pipe = redis::pipe();
        if let Some(personal) = &routed.new_personal_agent {
            pipe.hset(self.keys.customer(cid), "personal_agent", personal.as_str())
                .ignore();
        }
        if let Some(agent) = &receipt.route.agent_id {
            let agent: AgentId = agent.parse().map_err(corrupt)?;
            pipe.hset(self.keys.conversation(&conv), "agent", agent.as_str())
                .ignore();
        }
        let expires = now.timestamp_millis() + self.policy.dedup_ttl.num_milliseconds();
        let record = serde_json::to_string(&receipt).map_err(corrupt)?;
        pipe.hset(
            self.keys.customer_dedup(cid),
            msg.idempotency_key(),
            format!("{expires}|{record}"),
        )
        .ignore();
        pipe.query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(receipt)
    }

    /// Merges `source` into `target` and answers the customer that survives (which is
    /// `target`, or whoever `target` itself was merged into meanwhile).
    async fn merge(
        &self,
        source: &CustomerId,
        target: &CustomerId,
        now: DateTime<Utc>,
    ) -> Result<CustomerId, StoreError> {
        let raw: String = self
            .scripts
            .merge_out
            .key(self.keys.customer(source))
            .key(self.keys.conversations(source))
            .arg(target.as_str())
            .arg(now.timestamp_millis())
            .arg(source.as_str())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let snapshot: Snapshot = serde_json::from_str(&raw).map_err(corrupt)?;
        let into = parse_customer(&snapshot.merged_into)?;
        // `source` may have gone into another customer first; finish that merge (the
        // merge_in is idempotent, and its first runner may have died) either way.
        let absorbed_by = self.absorb(&into, source, &raw, now).await?;
        if let Some(open) = &snapshot.open {
            // Its timeline joined the survivor's conversation, which routing owns now.
            self.release_conversation(&open.parse().map_err(corrupt)?, now)
                .await?;
        }
        self.repoint(&snapshot.ids, source, &absorbed_by).await?;
        if absorbed_by == *target {
            return Ok(absorbed_by);
        }
        // Then `target` and that customer are one person as well: younger into older.
        let target = self.live(target).await?;
        if target == absorbed_by {
            return Ok(target);
        }
        let (older, younger) = if absorbed_by < target {
            (absorbed_by, target)
        } else {
            (target, absorbed_by)
        };
        Box::pin(self.merge(&younger, &older, now)).await
    }

    /// Runs merge_in of `source`'s snapshot on `target`, following `target`'s own merges;
    /// answers the customer that absorbed it.
    async fn absorb(
        &self,
        target: &CustomerId,
        source: &CustomerId,
        snapshot: &str,
        now: DateTime<Utc>,
    ) -> Result<CustomerId, StoreError> {
        let mut target = target.clone();
        for _ in 0..MAX_HOPS {
            let answer: Vec<String> = self
                .scripts
                .merge_in
                .key(self.keys.customer(&target))
                .key(self.keys.conversations(&target))
                .arg(source.as_str())
                .arg(now.timestamp_millis())
                .arg(target.as_str())
                .arg(snapshot)
                .arg(DEFAULT_QUEUE)
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            match script_answer(answer)? {
                ScriptAnswer::Moved(next) => target = next,
                _ => return Ok(target),
            }
        }
        Err(StoreError::Contention(format!(
            "absorbing {source} kept moving"
        )))
    }

    /// The customer that holds `id`'s data now (follows `merged_into`).
    async fn live(&self, id: &CustomerId) -> Result<CustomerId, StoreError> {
        let mut id = id.clone();
        for _ in 0..MAX_HOPS {
            let next: Option<String> = redis::cmd("HGET")
                .arg(self.keys.customer(&id))
                .arg("merged_into")
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            match next {
                Some(next) => id = parse_customer(&next)?,
                None => return Ok(id),
            }
        }
        Err(StoreError::Contention(format!(
            "merge chain from {id} too long"
        )))
    }

    /// Points a merged customer's identities at the survivor (saves later requests a hop).
    async fn repoint(
        &self,
        identities: &[String],
        from: &CustomerId,
        to: &CustomerId,
    ) -> Result<(), StoreError> {
        let moves = identities
            .iter()
            .filter_map(|key| Identity::from_stored_key(key))
            .map(|identity| {
                let mut conn = self.conn.clone();
                let mut call = self.scripts.repoint.key(self.keys.identity(&identity));
                call.arg(from.as_str()).arg(to.as_str());
                async move { call.invoke_async::<i64>(&mut conn).await }
            });
        try_join_all(moves).await.map_err(from_redis)?;
        Ok(())
    }

    /// Loads a customer, following merges; `None` if nothing was ever stored under `id`.
    async fn load_customer(&self, id: &CustomerId) -> Result<Option<CustomerView>, StoreError> {
        let mut id = id.clone();
        for _ in 0..MAX_HOPS {
            let (fields, ids, convs): (Vec<(String, String)>, Vec<String>, Vec<String>) =
                redis::pipe()
                    .hgetall(self.keys.customer(&id))
                    .smembers(self.keys.customer_identities(&id))
                    .lrange(self.keys.customer_conversations(&id), 0, -1)
                    .query_async(&mut self.conn.clone())
                    .await
                    .map_err(from_redis)?;
            if fields.is_empty() {
                return Ok(None);
            }
            let hash = Hash(fields);
            if let Some(next) = hash.get("merged_into") {
                id = parse_customer(next)?;
                continue;
            }
            let mut identities: Vec<Identity> = ids
                .iter()
                .filter_map(|k| Identity::from_stored_key(k))
                .collect();
            identities.sort();
            let seq = |name: &str| hash.get(name).map(|s| s.parse::<u64>()).transpose();
            let open = seq("open").map_err(corrupt)?;
            // A removed agent is nobody's personal agent any more.
            let personal_agent = match hash.get("personal_agent") {
                Some(a) if self.is_agent(a).await? => Some(a.to_owned()),
                _ => None,
            };
            return Ok(Some(CustomerView {
                open_conversation_id: open.map(|n| ConversationId::new(id.clone(), n)),
                conversation_ids: convs
                    .iter()
                    .map(|c| c.parse())
                    .collect::<Result<_, _>>()
                    .map_err(corrupt)?,
                display_name: hash.get("display_name").map(str::to_owned),
                tier: hash.get("tier").unwrap_or(DEFAULT_TIER).to_owned(),
                personal_agent_id: personal_agent,
                created_at: hash.time("created_at")?.unwrap_or_default(),
                identities,
                id,
            }));
        }
        Err(StoreError::Contention(format!(
            "merge chain from {id} too long"
        )))
    }

    /// One conversation's own record, messages, channels and merged conversations.
    async fn load_conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<StoredConversation>, StoreError> {
        let (fields, messages, channels, absorbed): ConversationReply = redis::pipe()
            .hgetall(self.keys.conversation(id))
            .lrange(self.keys.conversation_messages(id), 0, -1)
            .smembers(self.keys.conversation_channels(id))
            .lrange(self.keys.conversation_absorbed(id), 0, -1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        if fields.is_empty() {
            return Ok(None);
        }
        let messages = messages
            .iter()
            .map(|m| serde_json::from_str(m))
            .collect::<Result<_, _>>()
            .map_err(corrupt)?;
        let absorbed = absorbed
            .iter()
            .map(|c| c.parse())
            .collect::<Result<_, _>>()
            .map_err(corrupt)?;
        Ok(Some(StoredConversation {
            hash: Hash(fields),
            messages,
            channels: parse_channels(&channels)?,
            absorbed,
        }))
    }
}

#[async_trait]
impl Store for RedisStore {
    #[tracing::instrument(skip_all, fields(key = %msg.idempotency_key(), customer_id))]
    async fn ingest(
        &self,
        msg: &InboundMessage,
        now: DateTime<Utc>,
    ) -> Result<Receipt, StoreError> {
        let fresh = CustomerId::generate();
        let (mut target, mut from_cache) = self.owner(msg, &fresh, true, now).await?;
        let message = inbound_record(msg, now);
        for _ in 0..MAX_HOPS {
            tracing::Span::current().record("customer_id", target.as_str());
            match self.append(&target, msg, &message, from_cache, now).await? {
                ScriptAnswer::Ok(parts) => return self.routed(appended(parts)?, msg, now).await,
                ScriptAnswer::Duplicate(receipt) => {
                    // A retry learns where its conversation stands now.
                    let receipt = parse_receipt(&receipt, true)?;
                    let route = self.current_route(&receipt.conversation_id).await?;
                    return Ok(Receipt {
                        route: route.unwrap_or(receipt.route.clone()),
                        ..receipt
                    });
                }
                // A stale identity pointer led to a merged customer: finish that merge
                // (idempotent) so the pointers move, then follow it.
                // The cache named a customer Redis no longer has (data lost in a
                // failover or a restart without persistence): forget it and claim the
                // identities in Redis again, so every replica agrees on one customer.
                ScriptAnswer::Unknown => {
                    for identity in msg.identities() {
                        self.identities.forget(&identity.key());
                    }
                    (target, from_cache) = self.owner(msg, &fresh, false, now).await?;
                }
                ScriptAnswer::Moved(next) => {
                    target = self.merge(&target, &next, now).await?;
                    for identity in msg.identities() {
                        self.identities.put(identity.key(), target.clone());
                    }
                }
            }
        }
        Err(StoreError::Contention(format!(
            "customer of {} kept moving",
            msg.from()
        )))
    }

    async fn customer(&self, id: &CustomerId) -> Result<Option<CustomerView>, StoreError> {
        self.load_customer(id).await
    }

    async fn set_tier(
        &self,
        id: &CustomerId,
        tier: &str,
    ) -> Result<Option<CustomerView>, StoreError> {
        let Some(customer) = self.load_customer(id).await? else {
            return Ok(None);
        };
        // HSET XX-like: only an existing record (a concurrent merge leaves a pointer, and
        // the survivor is what `load_customer` found).
        let _: i64 = redis::cmd("HSET")
            .arg(self.keys.customer(&customer.id))
            .arg("tier")
            .arg(tier)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        self.load_customer(&customer.id).await
    }

    async fn customer_by_identity(
        &self,
        identity: &Identity,
    ) -> Result<Option<CustomerView>, StoreError> {
        let owner: Option<String> = redis::cmd("GET")
            .arg(self.keys.identity(identity))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        match owner {
            Some(owner) => self.load_customer(&parse_customer(&owner)?).await,
            None => Ok(None),
        }
    }

    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, StoreError> {
        let Some(StoredConversation {
            hash,
            mut messages,
            mut channels,
            absorbed,
        }) = self.load_conversation(id).await?
        else {
            return Ok(None);
        };
        let Some(customer) = self.load_customer(id.customer()).await? else {
            return Ok(None);
        };
        // Merged timelines live on other customers' slots: walk them, bounded.
        let mut pending = absorbed.clone();
        let mut visited = 0;
        while let Some(next) = pending.pop() {
            visited += 1;
            if visited > MAX_HOPS * MAX_HOPS {
                break;
            }
            if let Some(more) = self.load_conversation(&next).await? {
                messages.extend(more.messages);
                channels.extend(more.channels);
                pending.extend(more.absorbed);
            }
        }
        sort_timeline(&mut messages);
        let route = self.current_route(id).await?;
        Ok(Some(ConversationView {
            id: id.clone(),
            customer,
            state: match hash.get("state") {
                Some("open") => ConversationState::Open,
                _ => ConversationState::Resolved,
            },
            agent_id: route.as_ref().and_then(|r| r.agent_id.clone()),
            queue: route.as_ref().and_then(|r| r.queue.clone()),
            route,
            channels: channels.into_iter().collect(),
            repeat_contacts: hash
                .get("repeat_contacts")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            merged_conversation_ids: absorbed,
            created_at: hash.time("created_at")?.unwrap_or_default(),
            resolved_at: hash.time("resolved_at")?,
            messages,
        }))
    }

    async fn resolve(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<ResolveOutcome, StoreError> {
        let answer: String = self
            .scripts
            .resolve
            .key(self.keys.customer(id.customer()))
            .key(self.keys.conversations(id.customer()))
            .arg(id.seq())
            .arg(now.timestamp_millis())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        match answer.as_str() {
            "resolved" => Ok(ResolveOutcome::Resolved(
                self.release_conversation(id, now).await?,
            )),
            "already_resolved" => Ok(ResolveOutcome::AlreadyResolved),
            "not_found" => Ok(ResolveOutcome::NotFound),
            other => Err(StoreError::Corrupt(format!("resolve answered {other}"))),
        }
    }

    async fn put_agent(
        &self,
        profile: &AgentProfile,
        now: DateTime<Utc>,
    ) -> Result<SavedAgent, StoreError> {
        let (created, assignments) = self.put_agent_profile(profile, now).await?;
        let view = self
            .load_agent(&profile.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("agent {} vanished", profile.id)))?;
        Ok(SavedAgent {
            view,
            created,
            assignments,
        })
    }

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentView>, StoreError> {
        self.load_agent(id).await
    }

    async fn agents(&self) -> Result<Vec<AgentView>, StoreError> {
        self.load_agents().await
    }

    async fn set_presence(
        &self,
        id: &AgentId,
        presence: Presence,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        self.presence(id, presence, now).await
    }

    async fn fire_timers(&self, now: DateTime<Utc>) -> Result<Vec<Assignment>, StoreError> {
        self.timers(now).await
    }

    async fn delete_agent(
        &self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        self.remove_agent(id, now).await
    }

    async fn add_reply(
        &self,
        id: &ConversationId,
        message: &Message,
        now: DateTime<Utc>,
    ) -> Result<ReplyOutcome, StoreError> {
        let answer: String = self
            .scripts
            .reply
            .key(self.keys.customer(id.customer()))
            .key(self.keys.conversations(id.customer()))
            .arg(id.seq())
            .arg(serde_json::to_string(message).map_err(corrupt)?)
            .arg(now.timestamp_millis())
            .arg(if message.kind == EntryKind::Message {
                "1"
            } else {
                "0"
            })
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(match answer.as_str() {
            "not_found" => ReplyOutcome::NotFound,
            first => ReplyOutcome::Stored {
                first: first == "first",
            },
        })
    }

    async fn push_event(
        &self,
        agent: &AgentId,
        kind: &str,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        let _: String = redis::cmd("XADD")
            .arg(self.keys.agent_events(agent))
            .arg(&["MAXLEN", "~"])
            .arg(EVENTS_KEPT)
            .arg("*")
            .arg(&[
                "kind",
                kind,
                "conversation",
                &conversation.to_string(),
                "reason",
                "",
                "agent",
                "",
            ])
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    async fn agent_events(
        &self,
        agent: &AgentId,
        after: &str,
        limit: usize,
    ) -> Result<Vec<AgentEvent>, StoreError> {
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(self.keys.agent_events(agent))
            .arg(format!("({after}"))
            .arg("+")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        entries
            .into_iter()
            .map(|(id, fields)| agent_event(id, fields))
            .collect()
    }

    async fn last_event_id(&self, agent: &AgentId) -> Result<String, StoreError> {
        let newest: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg(self.keys.agent_events(agent))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(newest
            .into_iter()
            .next()
            .map_or_else(|| "0-0".to_owned(), |(id, _)| id))
    }

    async fn transfer(
        &self,
        id: &ConversationId,
        to: &TransferTarget,
        now: DateTime<Utc>,
    ) -> Result<TransferOutcome, StoreError> {
        self.transfer_conversation(id, to, now).await
    }

    async fn call(&self, external_id: &str) -> Result<Option<CallRecord>, StoreError> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.keys.call(external_id))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        raw.map(|r| serde_json::from_str(&r).map_err(corrupt))
            .transpose()
    }

    async fn save_call(&self, call: &CallRecord) -> Result<(), StoreError> {
        let _: () = redis::cmd("SET")
            .arg(self.keys.call(&call.external_id))
            .arg(serde_json::to_string(call).map_err(corrupt)?)
            .arg("EX")
            .arg(CALL_TTL_SECS)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    async fn release(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let made = self.release_conversation(id, now).await?;
        self.mirror_agent(id, None).await?;
        Ok(made)
    }

    async fn record_thread(
        &self,
        message_id: &str,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        let _: () = redis::cmd("SET")
            .arg(self.keys.thread(message_id))
            .arg(conversation.to_string())
            .arg("EX")
            .arg(THREAD_TTL_SECS)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    async fn thread(&self, message_id: &str) -> Result<Option<ConversationId>, StoreError> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.keys.thread(message_id))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        raw.map(|c| c.parse().map_err(corrupt)).transpose()
    }

    async fn enqueue_delivery(
        &self,
        id: &str,
        url: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.outbox_enqueue(id, url, body, now).await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.outbox_claim(now, lease_until, limit).await
    }

    async fn finish_delivery(&self, id: &str, outcome: &DeliveryOutcome) -> Result<(), StoreError> {
        self.outbox_finish(id, outcome).await
    }

    async fn delivery_state(&self, id: &str) -> Result<Option<DeliveryState>, StoreError> {
        self.outbox_state(id).await
    }

    async fn snapshot(&self) -> Result<RoutingSnapshot, StoreError> {
        self.routing_snapshot().await
    }

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
        window: StdDuration,
    ) -> Result<(u64, StdDuration), StoreError> {
        // MULTI, so a counter can never be left without its expiry (a lost PEXPIRE
        // would block the caller forever); `NX` keeps the window's first expiry.
        let key = self.keys.rate(bucket);
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let (count, _, left): (u64, i64, i64) = redis::pipe()
            .atomic()
            .incr(&key, 1)
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

/// `HGETALL`, `LRANGE` messages, `SMEMBERS` channels, `LRANGE` merged conversations.
type ConversationReply = (Vec<(String, String)>, Vec<String>, Vec<String>, Vec<String>);

/// One conversation's own keys, parsed.
struct StoredConversation {
    hash: Hash,
    messages: Vec<Message>,
    channels: BTreeSet<Channel>,
    absorbed: Vec<ConversationId>,
}

/// A hash read with `HGETALL`.
struct Hash(Vec<(String, String)>);

impl Hash {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.get(name)
            .map(|ms| {
                let ms: i64 = ms.parse().map_err(corrupt)?;
                Utc.timestamp_millis_opt(ms)
                    .single()
                    .ok_or_else(|| StoreError::Corrupt(format!("bad time {ms}")))
            })
            .transpose()
    }
}

fn script_answer(answer: Vec<String>) -> Result<ScriptAnswer, StoreError> {
    let mut parts = answer.into_iter();
    match (parts.next().as_deref(), parts.next()) {
        (Some("ok"), first) => Ok(ScriptAnswer::Ok(first.into_iter().chain(parts).collect())),
        (Some("dup"), Some(receipt)) => Ok(ScriptAnswer::Duplicate(receipt)),
        (Some("unknown"), _) => Ok(ScriptAnswer::Unknown),
        (Some("moved"), Some(to)) => Ok(ScriptAnswer::Moved(parse_customer(&to)?)),
        (status, _) => Err(StoreError::Corrupt(format!("script answered {status:?}"))),
    }
}

fn agent_event(id: String, fields: Vec<(String, String)>) -> Result<AgentEvent, StoreError> {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    Ok(AgentEvent {
        kind: get("kind").ok_or_else(|| StoreError::Corrupt(format!("event {id} has no kind")))?,
        conversation_id: get("conversation")
            .unwrap_or_default()
            .parse()
            .map_err(corrupt)?,
        reason: get("reason"),
        other_agent: get("agent"),
        id,
    })
}

fn appended(parts: Vec<String>) -> Result<Appended, StoreError> {
    let [receipt, agent, personal, tier, repeat] = <[String; 5]>::try_from(parts)
        .map_err(|p| StoreError::Corrupt(format!("ingest answered {p:?}")))?;
    let some = |s: String| Some(s).filter(|s| !s.is_empty());
    Ok(Appended {
        receipt: parse_receipt(&receipt, false)?,
        agent: some(agent),
        personal_agent: some(personal),
        tier,
        repeat_contacts: repeat.parse().unwrap_or(0),
    })
}

fn parse_receipt(raw: &str, duplicate: bool) -> Result<Receipt, StoreError> {
    let receipt: Receipt = serde_json::from_str(raw).map_err(corrupt)?;
    Ok(Receipt {
        duplicate,
        ..receipt
    })
}

fn parse_customer(raw: &str) -> Result<CustomerId, StoreError> {
    raw.parse().map_err(corrupt)
}

fn parse_channels(raw: &[String]) -> Result<BTreeSet<Channel>, StoreError> {
    raw.iter()
        .map(|c| serde_json::from_value(serde_json::Value::String(c.clone())))
        .collect::<Result<_, _>>()
        .map_err(corrupt)
}

pub(super) fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn unavailable(e: RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// Transient faults (network, timeouts, a loading or failing-over server) are
/// `Unavailable` and answer 503; anything else is a bug or corrupt data.
pub(super) fn from_redis(e: RedisError) -> StoreError {
    let transient = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error()
        || matches!(
            e.kind(),
            ErrorKind::Io
                | ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                )
        );
    if transient {
        unavailable(e)
    } else {
        StoreError::Corrupt(e.to_string())
    }
}
