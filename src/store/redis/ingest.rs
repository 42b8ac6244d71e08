//! Ingest on Redis. Two round trips in the common case: one to claim (or look up) the
//! message's identities (`claims.rs`), one Lua script on the customer's slot for
//! everything else; a third only when the conversation needs routing.

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;

use super::codec::{compact_id, corrupt, from_redis, parse_customer};
use super::message_record;
use super::placement::Routed;
use super::{receipts, RedisStore};
use crate::domain::{
    AgentId, CustomerId, Identity, InboundMessage, Language, Message, Receipt, Requirements,
    RoutingGroup,
};
use crate::routing::priority;
use crate::store::erasure::ErasureInventory;
use crate::store::records::inbound_record;
use crate::store::{StoreError, MAX_HOPS};

pub(super) enum ScriptAnswer {
    /// The script's further answers.
    Ok(Vec<String>),
    /// The customer (known from the cache only) does not exist in Redis.
    Unknown,
    /// The customer is being erased (or was): the message belongs to a new customer.
    Erased,
    Duplicate(String),
    Moved(CustomerId),
    /// The message opens (or reopens) a conversation, which writes a feed event: the
    /// customer goes on the feed relay's due list first, then the script runs again.
    Announce,
}

/// What the ingest script answers: a conversation an agent holds (its `agent` mirror)
/// needs no routing, so its receipt is final; any other is routed with what it read.
pub(super) enum Appended {
    Held(Receipt),
    ToRoute(ToRoute),
}

/// What routing a conversation no agent holds needs, as the ingest script read it.
pub(super) struct ToRoute {
    receipt: Receipt,
    /// The routing group the conversation is routed in (decided by the script).
    group: RoutingGroup,
    personal_agent: Option<String>,
    /// The life of `personal_agent` recorded with it ('' if none: `Incarnation`).
    personal_born: String,
    tier: String,
    repeat_contacts: u32,
    /// The customer's language, as the message or an earlier one said.
    language: Option<Language>,
    /// The customer has an open complaint (it raises the queue priority).
    complaint: bool,
}

impl RedisStore {
    #[tracing::instrument(skip_all, fields(key = %msg.idempotency_key(), customer_id))]
    pub(super) async fn ingest_message(
        &self,
        msg: &InboundMessage,
        now: DateTime<Utc>,
    ) -> Result<Receipt, StoreError> {
        let receipt = self.store_message(msg, now).await?;
        self.replicated(&receipt.customer_id, msg.identities())
            .await?;
        Ok(receipt)
    }

    /// With `replicas_to_ack`, the message counts as stored only once that many replicas
    /// hold it: `WAIT` on the connection to the customer's primary (a keyed read routes
    /// it there on a cluster; the multiplexed connection carried the message's writes
    /// before it). Fewer in time: 503, and the adapter's retry is answered as a duplicate
    /// once replication caught up.
    async fn replicated(
        &self,
        customer: &CustomerId,
        identities: &[Identity],
    ) -> Result<(), StoreError> {
        if self.replicas_to_ack == 0 {
            return Ok(());
        }
        // The customer's slot, and every identity's: an identity key lost in a failover
        // would split the customer in two as surely as a lost message loses the message.
        let mut keys = vec![self.keys.customer(customer)];
        keys.extend(identities.iter().map(|i| self.keys.identity(i)));
        let timeout = u64::try_from(self.ack_timeout.as_millis()).unwrap_or(u64::MAX);
        let waits = keys.into_iter().map(|key| {
            let mut conn = self.conn.clone();
            let replicas = self.replicas_to_ack;
            async move {
                redis::pipe()
                    .pttl(key)
                    .cmd("WAIT")
                    .arg(replicas)
                    .arg(timeout)
                    .query_async::<(i64, u32)>(&mut conn)
                    .await
            }
        });
        let acked = try_join_all(waits).await.map_err(from_redis)?;
        let fewest = acked.iter().map(|(_, n)| *n).min().unwrap_or(0);
        if fewest < self.replicas_to_ack {
            return Err(StoreError::Unavailable(
                format!(
                    "{fewest} of {} replicas acknowledged the message",
                    self.replicas_to_ack
                )
                .into(),
            ));
        }
        Ok(())
    }

    async fn store_message(
        &self,
        msg: &InboundMessage,
        now: DateTime<Utc>,
    ) -> Result<Receipt, StoreError> {
        let fresh = CustomerId::generate();
        let (mut target, mut from_cache) = self.owner(msg, &fresh, true, now).await?;
        // Whom the feed relay's due list holds (a claim announces `fresh`).
        let mut announced: Option<CustomerId> = (!from_cache).then(|| fresh.clone());
        let message = inbound_record(msg, now);
        // The idempotency key, and the digest its record is kept under (`receipts`).
        let key = msg.idempotency_key();
        let dedup = (key.as_str(), receipts::field(&key));
        for _ in 0..MAX_HOPS {
            tracing::Span::current().record("customer_id", target.as_str());
            let told = announced.as_ref() == Some(&target);
            match self
                .append(&target, msg, &message, &dedup, (from_cache, told), now)
                .await?
            {
                ScriptAnswer::Ok(parts) => {
                    // Cached only once a script stored them on the customer, so a cached
                    // customer holds its identities (the script skips adding them); a
                    // customer found in the cache is there already.
                    if !from_cache {
                        for identity in msg.identities() {
                            self.identities.put(identity.key(), target.clone());
                        }
                    }
                    let appended = appended(parts, &target)?;
                    return self.routed(appended, msg, &dedup.1, now).await;
                }
                ScriptAnswer::Duplicate(receipt) => {
                    // A retry learns where its conversation stands now.
                    let receipt = receipts::decode(&receipt, true, &target)?;
                    let route = self.current_route(&receipt.conversation_id).await?;
                    return Ok(Receipt {
                        route: route.unwrap_or(receipt.route.clone()),
                        ..receipt
                    });
                }
                // The cache named a customer Redis no longer has (data lost in a
                // failover or a restart without persistence): forget it and claim the
                // identities in Redis again, so every replica agrees on one customer.
                ScriptAnswer::Unknown => {
                    for identity in msg.identities() {
                        self.identities.forget(&identity.key());
                    }
                    (target, from_cache) = self.owner(msg, &fresh, false, now).await?;
                    announced = Some(fresh.clone());
                }
                // The customer is being erased: the pointers that led here go (unless a
                // new customer holds them already), and the message starts a new one.
                ScriptAnswer::Erased => {
                    self.unpoint(msg.identities(), &ErasureInventory::of(&target))
                        .await?;
                    (target, from_cache) = self.owner(msg, &fresh, false, now).await?;
                    announced = Some(fresh.clone());
                }
                // A stale identity pointer led to a merged customer: finish that merge
                // (idempotent) so the pointers move, then follow it.
                ScriptAnswer::Announce => {
                    self.announce_feed(&target, now).await?;
                    announced = Some(target.clone());
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

    /// Round trip 2: the ingest script on the customer's slot.
    pub(super) async fn append(
        &self,
        cid: &CustomerId,
        msg: &InboundMessage,
        message: &Message,
        (key, field): &(&str, String),
        (from_cache, announced): (bool, bool),
        now: DateTime<Utc>,
    ) -> Result<ScriptAnswer, StoreError> {
        let record = message_record::encode(message)?;
        let mut call = self.scripts.ingest.prepare_invoke();
        call.key(self.keys.customer(cid))
            .key(self.keys.conversations(cid))
            .arg(cid.as_str())
            .arg(field)
            .arg(now.timestamp_millis())
            .arg(self.policy.reopen_window.num_milliseconds())
            .arg(self.policy.dedup_ttl.num_milliseconds())
            .arg(compact_id(&message.id))
            .arg(record)
            .arg(msg.medium().channel().as_str())
            .arg(msg.display_name().unwrap_or(""))
            .arg(if from_cache { "1" } else { "0" })
            .arg(msg.group().map_or("", RoutingGroup::as_str))
            .arg(
                msg.requirements()
                    .language
                    .as_ref()
                    .map_or("", Language::as_str),
            )
            .arg(*key)
            .arg(if announced { "1" } else { "0" });
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
    /// `settle_route` writes what it decided on the customer's slot.
    pub(super) async fn routed(
        &self,
        appended: Appended,
        msg: &InboundMessage,
        field: &str,
        now: DateTime<Utc>,
    ) -> Result<Receipt, StoreError> {
        let a = match appended {
            // Held already: the script's receipt carries the real route.
            Appended::Held(receipt) => return Ok(receipt),
            Appended::ToRoute(a) => a,
        };
        let conv = a.receipt.conversation_id.clone();
        let channel = msg.medium().channel();
        let priority = priority(&a.tier, a.repeat_contacts > 0, channel, a.complaint);
        self.register_group(&a.group).await?;
        let routed = self
            .route_conversation(
                &a.group,
                &conv,
                a.repeat_contacts,
                channel,
                priority,
                &a.tier,
                a.personal_agent.as_deref(),
                &a.personal_born,
                &Requirements {
                    language: a.language.clone(),
                    skills: msg.requirements().skills.clone(),
                },
                now,
            )
            .await?;
        let Routed {
            route,
            new_personal_agent,
            personal_gone,
        } = routed;
        let receipt = Receipt { route, ..a.receipt };
        let personal = (new_personal_agent.as_ref(), personal_gone);
        let group = (&a.group, a.repeat_contacts);
        self.settle_route(&receipt, group, personal, field, now)
            .await?;
        Ok(receipt)
    }

    /// What the decision leaves on the customer's slot, in one script (`settle.lua`): a
    /// newly chosen personal agent (or the recorded one gone), the holder's mirror (only
    /// while the conversation is still open in this episode), and the idempotency
    /// record's real route. `group` is the routing group with the conversation's episode;
    /// `personal`, the personal agent chosen now (and their life) and whether the
    /// recorded one is gone.
    async fn settle_route(
        &self,
        receipt: &Receipt,
        (group, episode): (&RoutingGroup, u32),
        (chosen, personal_gone): (Option<&(AgentId, String)>, bool),
        field: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let conv = &receipt.conversation_id;
        let cid = conv.customer();
        let (personal, born) = chosen.map_or(("", ""), |(p, b)| (p.as_str(), b.as_str()));
        let expires = now.timestamp_millis() + self.policy.dedup_ttl.num_milliseconds();
        let lifetime = receipts::hash_lifetime_ms(self.policy.dedup_ttl.num_milliseconds());
        let _: i64 = self
            .scripts
            .settle
            .key(self.keys.customer(cid))
            .key(self.keys.conversation(conv))
            .key(self.keys.customer_dedup(cid))
            .arg(personal)
            .arg(born)
            .arg(group.as_str())
            .arg(if personal_gone { "1" } else { "0" })
            .arg(receipt.route.agent_id.as_ref().map_or("", AgentId::as_str))
            .arg(episode.to_string())
            .arg(now.timestamp_millis())
            .arg(field)
            .arg(format!("{expires}|{}", receipts::encode(receipt)))
            .arg(lifetime)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }
}

pub(super) fn script_answer(answer: Vec<String>) -> Result<ScriptAnswer, StoreError> {
    let mut parts = answer.into_iter();
    match (parts.next().as_deref(), parts.next()) {
        (Some("ok"), first) => Ok(ScriptAnswer::Ok(first.into_iter().chain(parts).collect())),
        (Some("dup"), Some(receipt)) => Ok(ScriptAnswer::Duplicate(receipt)),
        (Some("unknown"), _) => Ok(ScriptAnswer::Unknown),
        (Some("erased"), _) => Ok(ScriptAnswer::Erased),
        (Some("announce"), _) => Ok(ScriptAnswer::Announce),
        (Some("moved"), Some(to)) => Ok(ScriptAnswer::Moved(parse_customer(&to)?)),
        (status, _) => Err(StoreError::Corrupt(format!("script answered {status:?}"))),
    }
}

/// The script's answer after `ok`: the receipt alone for a held conversation; for one
/// to route, the receipt, group, personal agent, tier, repeat contacts, language,
/// whether a complaint is open and the personal agent's recorded life.
pub(super) fn appended(parts: Vec<String>, owner: &CustomerId) -> Result<Appended, StoreError> {
    let corrupt_answer = |p: Vec<String>| StoreError::Corrupt(format!("ingest answered {p:?}"));
    if parts.len() == 1 {
        let [receipt] = <[String; 1]>::try_from(parts).map_err(corrupt_answer)?;
        return Ok(Appended::Held(receipts::decode(&receipt, false, owner)?));
    }
    let [receipt, group, personal, tier, repeat, language, complaint, born] =
        <[String; 8]>::try_from(parts).map_err(corrupt_answer)?;
    Ok(Appended::ToRoute(ToRoute {
        receipt: receipts::decode(&receipt, false, owner)?,
        group: group.parse().map_err(corrupt)?,
        personal_agent: Some(personal).filter(|s| !s.is_empty()),
        personal_born: born,
        tier,
        repeat_contacts: repeat.parse().unwrap_or(0),
        language: language.parse().ok(),
        complaint: complaint == "1",
    }))
}
