//! Working-day deadlines on Redis: one sorted set (`P:dl:{dl}`) of `<conversation>|<kind>`
//! by when they are due; written when a conversation starts waiting (`ZADD NX`: the first
//! schedule holds), dropped when answered or resolved, taken by `deadlines_due.lua`.
//! Follow-ups likewise: `P:fu:{fu}`, customer ids by when they are due.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{from_redis, RedisStore};
use crate::domain::{ConversationId, CustomerId, DeadlineKind, Deadlines};
use crate::store::{ScheduleStore, StoreError};

pub(super) fn member(conv: &ConversationId, kind: DeadlineKind) -> String {
    format!("{conv}|{}", kind.as_str())
}

impl RedisStore {
    pub(super) async fn schedule(
        &self,
        conv: &ConversationId,
        due: &Deadlines,
    ) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(self.keys.deadlines()).arg("NX");
        for kind in DeadlineKind::ALL {
            cmd.arg(due.due(kind).timestamp_millis())
                .arg(member(conv, kind));
        }
        let _: () = cmd
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    pub(super) async fn unschedule(
        &self,
        conv: &ConversationId,
        kinds: &[DeadlineKind],
    ) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(self.keys.deadlines());
        for kind in kinds {
            cmd.arg(member(conv, *kind));
        }
        let _: () = cmd
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    pub(super) async fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ConversationId, DeadlineKind)>, StoreError> {
        let due: Vec<String> = self
            .scripts
            .deadlines_due
            .key(self.keys.deadlines())
            .arg(now.timestamp_millis())
            .arg(limit)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(due
            .iter()
            .filter_map(|m| {
                let (conv, kind) = m.rsplit_once('|')?;
                Some((conv.parse().ok()?, DeadlineKind::parse(kind)?))
            })
            .collect())
    }

    pub(super) async fn schedule_follow_up_at(
        &self,
        customer: &CustomerId,
        at: DateTime<Utc>,
        replace: bool,
    ) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(self.keys.follow_ups());
        if !replace {
            cmd.arg("NX");
        }
        let _: () = cmd
            .arg(at.timestamp_millis())
            .arg(customer.as_str())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    pub(super) async fn cancel_follow_up_of(
        &self,
        customer: &CustomerId,
    ) -> Result<bool, StoreError> {
        let removed: i64 = redis::cmd("ZREM")
            .arg(self.keys.follow_ups())
            .arg(customer.as_str())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(removed == 1)
    }

    pub(super) async fn follow_up_of(
        &self,
        customer: &CustomerId,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let score: Option<i64> = redis::cmd("ZSCORE")
            .arg(self.keys.follow_ups())
            .arg(customer.as_str())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(score.and_then(DateTime::from_timestamp_millis))
    }

    pub(super) async fn take_due_follow_ups(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<CustomerId>, StoreError> {
        let due: Vec<String> = self
            .scripts
            .deadlines_due
            .key(self.keys.follow_ups())
            .arg(now.timestamp_millis())
            .arg(limit)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(due.iter().filter_map(|c| c.parse().ok()).collect())
    }
}

#[async_trait]
impl ScheduleStore for RedisStore {
    async fn schedule_deadlines(
        &self,
        conv: &ConversationId,
        due: &Deadlines,
    ) -> Result<(), StoreError> {
        self.schedule(conv, due).await
    }

    async fn clear_deadlines(
        &self,
        conv: &ConversationId,
        kinds: &[DeadlineKind],
    ) -> Result<(), StoreError> {
        self.unschedule(conv, kinds).await
    }

    async fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ConversationId, DeadlineKind)>, StoreError> {
        self.take_due(now, limit).await
    }

    async fn schedule_follow_up(
        &self,
        customer: &CustomerId,
        at: DateTime<Utc>,
        replace: bool,
    ) -> Result<(), StoreError> {
        self.schedule_follow_up_at(customer, at, replace).await
    }

    async fn cancel_follow_up(&self, customer: &CustomerId) -> Result<bool, StoreError> {
        self.cancel_follow_up_of(customer).await
    }

    async fn follow_up(&self, customer: &CustomerId) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.follow_up_of(customer).await
    }

    async fn due_follow_ups(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<CustomerId>, StoreError> {
        self.take_due_follow_ups(now, limit).await
    }
}
