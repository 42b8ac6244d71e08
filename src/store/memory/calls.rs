//! Phone calls in the embedded store: call records and the calls waiting in the
//! provider's queue for whoever routing gives their conversation to.

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::ConversationId;
use crate::store::{CallRecord, CallStore, StoreError};

#[async_trait]
impl CallStore for MemoryStore {
    async fn call(&self, external_id: &str) -> Result<Option<CallRecord>, StoreError> {
        Ok(self.lock().calls.get(external_id).cloned())
    }

    async fn save_call(&self, call: &CallRecord) -> Result<(), StoreError> {
        self.lock()
            .calls
            .insert(call.external_id.clone(), call.clone());
        Ok(())
    }

    async fn set_waiting_call(
        &self,
        conv: &ConversationId,
        external_id: &str,
    ) -> Result<(), StoreError> {
        self.lock()
            .waiting_calls
            .insert(conv.clone(), external_id.to_owned());
        Ok(())
    }

    async fn take_waiting_call(&self, conv: &ConversationId) -> Result<Option<String>, StoreError> {
        Ok(self.lock().waiting_calls.remove(conv))
    }
}
