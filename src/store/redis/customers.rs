//! Customers on Redis: ingest (`ingest.rs`), reads following merges (`reads.rs`), the
//! tier, and the identity index.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::codec::{from_redis, parse_customer};
use super::RedisStore;
use crate::domain::{CustomerId, CustomerView, Identity, InboundMessage, Receipt};
use crate::store::{CustomerStore, StoreError};

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
