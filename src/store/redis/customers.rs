//! Customers on Redis: ingest (`ingest.rs`), reads following merges, the
//! tier, and the identity index.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::codec::{corrupt, from_redis, parse_customer, Hash};
use super::RedisStore;
use crate::domain::{
    AgentId, ConversationId, CustomerId, CustomerView, Identity, InboundMessage, Receipt,
    DEFAULT_TIER,
};
use crate::store::{CustomerStore, StoreError, MAX_HOPS};

#[async_trait]
impl CustomerStore for RedisStore {
    async fn ingest(
        &self,
        msg: &InboundMessage,
        now: DateTime<Utc>,
    ) -> Result<Receipt, StoreError> {
        self.ingest_message(msg, now).await
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
}

impl RedisStore {
    /// Loads a customer, following merges; `None` if nothing was ever stored under `id`.
    pub(super) async fn load_customer(
        &self,
        id: &CustomerId,
    ) -> Result<Option<CustomerView>, StoreError> {
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
            // Being erased: nothing of them answers any more.
            if hash.get("erasing").is_some() {
                return Ok(None);
            }
            let mut identities: Vec<Identity> = ids
                .iter()
                .filter_map(|k| Identity::from_stored_key(k))
                .collect();
            identities.sort();
            let seq = |name: &str| hash.get(name).map(|s| s.parse::<u64>()).transpose();
            let open = seq("open").map_err(corrupt)?;
            // A removed agent is nobody's personal agent any more, nor is one created
            // again under the same id since (`Incarnation`).
            let recorded = hash.get("pa_born").unwrap_or_default();
            let personal_agent = match hash.get("personal_agent").map(|a| a.parse::<AgentId>()) {
                Some(Ok(a)) if self.personal_alive(&a, recorded).await? => Some(a),
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
                open_complaint_conversation_id: hash.get("complaint").and_then(|c| c.parse().ok()),
                identities,
                id,
                satisfaction: None,
                follow_up_due: None,
            }));
        }
        Err(StoreError::Contention(format!(
            "merge chain from {id} too long"
        )))
    }
}
