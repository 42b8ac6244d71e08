//! Phone calls on Redis: each call's record (`P:call:{sid}`), and the call waiting in the
//! provider's queue for a conversation (on its customer's slot), both kept `CALL_TTL_SECS`.

use async_trait::async_trait;

use super::codec::{corrupt, from_redis};
use super::RedisStore;
use crate::domain::ConversationId;
use crate::store::{CallRecord, CallStore, StoreError, CALL_TTL_SECS};

#[async_trait]
impl CallStore for RedisStore {
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

    async fn set_waiting_call(
        &self,
        conv: &ConversationId,
        external_id: &str,
    ) -> Result<(), StoreError> {
        let _: () = redis::cmd("SET")
            .arg(self.keys.waiting_call(conv))
            .arg(external_id)
            .arg("EX")
            .arg(CALL_TTL_SECS)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    async fn take_waiting_call(&self, conv: &ConversationId) -> Result<Option<String>, StoreError> {
        redis::cmd("GETDEL")
            .arg(self.keys.waiting_call(conv))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)
    }
}
