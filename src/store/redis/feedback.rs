//! Customers' feedback on Redis. Ratings: `rate.lua` records one per conversation and
//! source on the customer's slot (the conversation's `rating:<source>` field is the
//! idempotency record) and keeps the customer's recent ones; then the rated agent's list
//! (its own slot) gets it — a crash between the two loses it from the agent's index only.
//! Complaints: the customer's hash names the conversation holding an open one
//! (`complaint`; `resolve.lua` clears it).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{corrupt, from_redis, RedisStore};
use crate::domain::{ConversationId, CustomerId, RECENT_RATINGS};
use crate::store::{FeedbackStore, Rated, RatingsOf, StoreError};

impl RedisStore {
    pub(super) async fn record_rating(
        &self,
        conv: &ConversationId,
        source: &str,
        rating: u8,
        now: DateTime<Utc>,
    ) -> Result<Option<Rated>, StoreError> {
        // The rating writes `rating.recorded`: the feed relay must know of the customer.
        self.announce_feed(conv.customer(), now).await?;
        let answer: Vec<String> = self
            .scripts
            .rate
            .key(self.keys.customer(conv.customer()))
            .key(self.keys.conversation(conv))
            .arg(source)
            .arg(rating)
            .arg(now.timestamp_millis())
            .arg(RECENT_RATINGS)
            .arg(conv.to_string())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let (status, agent) = match answer.as_slice() {
            [status] => (status.as_str(), ""),
            [status, agent] => (status.as_str(), agent.as_str()),
            _ => return Err(StoreError::Corrupt(format!("rate answered {answer:?}"))),
        };
        let agent = (!agent.is_empty())
            .then(|| agent.parse())
            .transpose()
            .map_err(corrupt)?;
        let duplicate = match status {
            "not_found" => return Ok(None),
            "dup" => true,
            _ => false,
        };
        if let (false, Some(agent)) = (duplicate, &agent) {
            let key = self.keys.agent_ratings(agent);
            let _: () = redis::pipe()
                .atomic()
                .lpush(&key, rating)
                .ignore()
                .ltrim(&key, 0, RECENT_RATINGS as isize - 1)
                .ignore()
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
        }
        Ok(Some(Rated { duplicate, agent }))
    }

    pub(super) async fn ratings_of(&self, of: &RatingsOf) -> Result<Vec<u8>, StoreError> {
        let key = match of {
            RatingsOf::Agent(a) => self.keys.agent_ratings(a),
            RatingsOf::Customer(c) => self.keys.customer_ratings(c),
        };
        redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(RECENT_RATINGS - 1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)
    }

    pub(super) async fn complaint(
        &self,
        customer: &CustomerId,
        conv: Option<&ConversationId>,
    ) -> Result<(), StoreError> {
        let key = self.keys.customer(customer);
        let cmd = match conv {
            Some(conv) => {
                let mut c = redis::cmd("HSET");
                c.arg(&key).arg("complaint").arg(conv.to_string());
                c
            }
            None => {
                let mut c = redis::cmd("HDEL");
                c.arg(&key).arg("complaint");
                c
            }
        };
        let _: () = cmd
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }
}

#[async_trait]
impl FeedbackStore for RedisStore {
    async fn set_open_complaint(
        &self,
        customer: &CustomerId,
        conv: Option<&ConversationId>,
    ) -> Result<(), StoreError> {
        self.complaint(customer, conv).await
    }

    async fn rate(
        &self,
        conv: &ConversationId,
        source: &str,
        rating: u8,
        now: DateTime<Utc>,
    ) -> Result<Option<Rated>, StoreError> {
        self.record_rating(conv, source, rating, now).await
    }

    async fn recent_ratings(&self, of: &RatingsOf) -> Result<Vec<u8>, StoreError> {
        self.ratings_of(of).await
    }

    async fn conversation_ratings(
        &self,
        conv: &ConversationId,
    ) -> Result<Vec<(String, u8)>, StoreError> {
        // The conversation's hash (a stub keeps it) holds `rating:<source>` = `<r>|<ms>`.
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.keys.conversation(conv))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        fields
            .into_iter()
            .filter_map(|(field, value)| {
                let source = field.strip_prefix("rating:")?.to_owned();
                let rating = value.split('|').next().unwrap_or_default().parse();
                Some(rating.map(|r| (source, r)).map_err(corrupt))
            })
            .collect()
    }
}
