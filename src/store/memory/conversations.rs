//! Conversations in the embedded store: the read model with the whole timeline, and
//! resolution (routing frees the agent; who held it is remembered for later ratings).

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{ConversationId, ConversationState, ConversationView, EntryKind, Message};
use crate::store::records::sort_timeline;
use crate::store::{ConversationStore, ReplyOutcome, ResolveOutcome, StoreError};

impl MemoryStore {
    pub(super) fn conversation_view(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, StoreError> {
        let state = self.lock();
        let Some(conv) = state.conversations.get(id) else {
            return Ok(None);
        };
        let Some(customer) = state.customer_view(id.customer())? else {
            return Ok(None);
        };
        let mut messages = Vec::new();
        let mut channels = BTreeSet::new();
        state.timeline(id, 0, &mut messages, &mut channels);
        sort_timeline(&mut messages);
        let route = state.routing.current(&state.conv_group(id), id);
        Ok(Some(ConversationView {
            id: id.clone(),
            customer,
            state: conv.state,
            agent_id: route.as_ref().and_then(|r| r.agent_id.clone()),
            queue: route.as_ref().and_then(|r| r.queue.clone()),
            route,
            needs: state.routing.needs_now(&state.conv_group(id), id),
            channels: channels.into_iter().collect(),
            repeat_contacts: conv.repeat_contacts,
            merged_conversation_ids: conv.absorbed.clone(),
            created_at: conv.created_at,
            resolved_at: conv.resolved_at,
            deadlines: None,
            messages,
        }))
    }

    pub(super) fn resolve_conversation(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<ResolveOutcome, StoreError> {
        let mut state = self.lock();
        let Some(conv) = state.conversations.get_mut(id) else {
            return Ok(ResolveOutcome::NotFound);
        };
        if conv.state == ConversationState::Resolved {
            return Ok(ResolveOutcome::AlreadyResolved);
        }
        conv.state = ConversationState::Resolved;
        conv.resolved_at = Some(now);
        let customer = state.customer_mut(id.customer())?;
        if customer.open == Some(id.seq()) {
            customer.open = None;
        }
        // Resolving the conversation that holds an open complaint closes it.
        if customer.complaint.as_ref() == Some(id) {
            customer.complaint = None;
        }
        let group = state.conv_group(id);
        let held = state.routing.current(&group, id).and_then(|r| r.agent_id);
        if let Some(conv) = state.conversations.get_mut(id) {
            conv.served_by = held;
        }
        let made = state.routing.release(&group, id, now);
        state.adopt(&made);
        Ok(ResolveOutcome::Resolved(made))
    }
}

#[async_trait]
impl ConversationStore for MemoryStore {
    async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, StoreError> {
        self.conversation_view(id)
    }

    async fn resolve(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<ResolveOutcome, StoreError> {
        self.resolve_conversation(id, now)
    }

    async fn add_reply(
        &self,
        id: &ConversationId,
        message: &Message,
        now: DateTime<Utc>,
    ) -> Result<ReplyOutcome, StoreError> {
        let mut state = self.lock();
        let Some(conv) = state.conversations.get_mut(id) else {
            return Ok(ReplyOutcome::NotFound);
        };
        conv.messages.push(message.clone());
        let first = message.kind == EntryKind::Message && conv.first_response_at.is_none();
        if first {
            conv.first_response_at = Some(now);
        }
        Ok(ReplyOutcome::Stored { first })
    }

    async fn record_thread(
        &self,
        message_id: &str,
        conversation: &ConversationId,
    ) -> Result<(), StoreError> {
        self.lock()
            .threads
            .insert(message_id.to_owned(), conversation.clone());
        Ok(())
    }

    async fn thread(&self, message_id: &str) -> Result<Option<ConversationId>, StoreError> {
        Ok(self.lock().threads.get(message_id).cloned())
    }
}
