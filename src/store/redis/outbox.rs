//! The durable outbox on Redis, under one hash tag (`P:ob:{ob}`): `:due` (a sorted set of
//! delivery ids by next attempt) and `:d:<id>` (url, body, attempts, state, error). Every
//! replica's sender claims due deliveries with a lease (`lua/outbox/claim.lua`), so a
//! delivery survives restarts and is retried until it lands or is given up.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{corrupt, from_redis, RedisStore};
use crate::domain::{ConversationId, MessageId, ReplyDelivery};
use crate::store::{
    Delivery, DeliveryOutcome, DeliveryState, DeliveryStatus, OutboxStore, StoreError,
};

impl RedisStore {
    fn outbox(&self) -> String {
        self.keys.outbox()
    }

    pub(super) async fn outbox_enqueue(
        &self,
        id: &str,
        url: &str,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let record = self.keys.delivery(id);
        // HSETNX on `body` keeps a re-enqueue (a retried request) from resetting attempts.
        let _: () = redis::pipe()
            .atomic()
            .cmd("HSETNX")
            .arg(&record)
            .arg("body")
            .arg(body)
            .ignore()
            .cmd("HSETNX")
            .arg(&record)
            .arg("url")
            .arg(url)
            .ignore()
            .cmd("HSETNX")
            .arg(&record)
            .arg("state")
            .arg(DeliveryStatus::Pending.as_str())
            .ignore()
            .cmd("ZADD")
            .arg(self.keys.outbox_due())
            .arg("NX")
            .arg(now.timestamp_millis())
            .arg(id)
            .ignore()
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    pub(super) async fn outbox_claim(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let parts: Vec<String> = self
            .scripts
            .outbox_claim
            .key(self.outbox())
            .arg(now.timestamp_millis())
            .arg(limit)
            .arg(lease_until.timestamp_millis())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        parts
            .chunks(4)
            .map(|c| match c {
                [id, url, body, attempts] => Ok(Delivery {
                    id: id.clone(),
                    url: url.clone(),
                    body: body.clone(),
                    attempts: attempts.parse().map_err(corrupt)?,
                }),
                other => Err(StoreError::Corrupt(format!("claim answered {other:?}"))),
            })
            .collect()
    }

    pub(super) async fn outbox_finish(
        &self,
        id: &str,
        outcome: &DeliveryOutcome,
    ) -> Result<(), StoreError> {
        let record = self.keys.delivery(id);
        let due = self.keys.outbox_due();
        let mut pipe = redis::pipe();
        pipe.atomic();
        match outcome {
            DeliveryOutcome::Delivered => {
                pipe.cmd("HSET")
                    .arg(&record)
                    .arg("state")
                    .arg(DeliveryStatus::Delivered.as_str())
                    .ignore();
                pipe.cmd("ZREM").arg(&due).arg(id).ignore();
            }
            DeliveryOutcome::Retry { at, error } => {
                pipe.cmd("HSET")
                    .arg(&record)
                    .arg("error")
                    .arg(error)
                    .ignore();
                pipe.cmd("ZADD")
                    .arg(&due)
                    .arg(at.timestamp_millis())
                    .arg(id)
                    .ignore();
            }
            DeliveryOutcome::Failed { error } => {
                pipe.cmd("HSET")
                    .arg(&record)
                    .arg("state")
                    .arg(DeliveryStatus::Failed.as_str())
                    .arg("error")
                    .arg(error)
                    .ignore();
                pipe.cmd("ZREM").arg(&due).arg(id).ignore();
            }
        }
        let _: () = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    pub(super) async fn outbox_state(&self, id: &str) -> Result<Option<DeliveryState>, StoreError> {
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.keys.delivery(id))
            .arg(&["state", "attempts", "error"])
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(match fields.as_slice() {
            [Some(state), attempts, error] => Some(DeliveryState {
                state: state.parse()?,
                attempts: attempts
                    .as_deref()
                    .and_then(|a| a.parse().ok())
                    .unwrap_or(0),
                last_error: error.clone(),
            }),
            _ => None,
        })
    }
}

#[async_trait]
impl OutboxStore for RedisStore {
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
    async fn record_provider_id(
        &self,
        conv: &ConversationId,
        message: &MessageId,
        provider_id: &str,
    ) -> Result<(), StoreError> {
        self.remember_provider_id(conv, message, provider_id).await
    }

    async fn reply_by_provider_id(
        &self,
        provider_id: &str,
    ) -> Result<Option<(ConversationId, MessageId)>, StoreError> {
        self.provider_reply(provider_id).await
    }

    async fn advance_delivery(
        &self,
        conv: &ConversationId,
        message: &MessageId,
        report: &ReplyDelivery,
    ) -> Result<Option<ReplyDelivery>, StoreError> {
        self.advance(conv, message, report).await
    }
}
