//! Conversations in the embedded store: the read model with the whole timeline, and
//! resolution (routing frees the agent; who held it is remembered for later ratings).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::state::Timeline;
use super::MemoryStore;
use crate::domain::feed::FeedType;
use crate::domain::{
    ConversationId, ConversationState, ConversationView, CustomerView, EntryKind, Message,
    MessageId,
};
use crate::store::archive::read_through;
use crate::store::records::sort_timeline;
use crate::store::{ConversationStore, ReplyOutcome, ResolveOutcome, StoreError};

impl MemoryStore {
    /// A conversation's view, reading through the archive for what moved there.
    pub(super) async fn conversation_view(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, StoreError> {
        let (view, parts) = match self.live_view(id)? {
            Read::Missing => return Ok(None),
            Read::Archived(customer) => {
                let archived = read_through::archived(self.archive.as_ref(), id).await?;
                return Ok(Some(archived.into_view(*customer)));
            }
            Read::Live(view, parts) => (view, parts),
        };
        let mut view = *view;
        let mut channels = view.channels.iter().copied().collect();
        read_through::add_parts(
            self.archive.as_ref(),
            &parts,
            &mut view.messages,
            &mut channels,
        )
        .await?;
        view.channels = channels.into_iter().collect();
        Ok(Some(view))
    }

    /// What the embedded state holds of a conversation (under the lock, which no archive
    /// read may wait under).
    fn live_view(&self, id: &ConversationId) -> Result<Read, StoreError> {
        let state = self.lock();
        let Some(conv) = state.conversations.get(id) else {
            return Ok(Read::Missing);
        };
        let Some(customer) = state.customer_view(id.customer())? else {
            return Ok(Read::Missing);
        };
        if conv.archived {
            return Ok(Read::Archived(Box::new(customer)));
        }
        let mut timeline = Timeline::default();
        state.timeline(id, 0, &mut timeline);
        sort_timeline(&mut timeline.messages);
        let route = state.routing.current(&state.conv_group(id), id);
        let view = ConversationView {
            id: id.clone(),
            customer,
            state: conv.state,
            agent_id: route.as_ref().and_then(|r| r.agent_id.clone()),
            queue: route.as_ref().and_then(|r| r.queue),
            route,
            needs: state.routing.needs_now(&state.conv_group(id), id),
            channels: timeline.channels.into_iter().collect(),
            repeat_contacts: conv.repeat_contacts,
            merged_conversation_ids: conv.absorbed.clone(),
            earlier: false,
            archived: false,
            created_at: conv.created_at,
            resolved_at: conv.resolved_at,
            deadlines: None,
            messages: timeline.messages,
        };
        Ok(Read::Live(Box::new(view), timeline.archived))
    }

    pub(super) fn resolve_conversation(
        &self,
        id: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<ResolveOutcome, StoreError> {
        let mut state = self.lock();
        // On the due list before anything else, whatever comes of it, as on Redis (where
        // it is written first so that no crash can leave a resolution off it).
        let due = state
            .archive_due
            .entry(id.customer().clone())
            .or_insert(now);
        *due = (*due).min(now);
        let Some(conv) = state.conversations.get_mut(id) else {
            return Ok(ResolveOutcome::NotFound);
        };
        if conv.state == ConversationState::Resolved {
            return Ok(ResolveOutcome::AlreadyResolved);
        }
        state.resolved_event(id, now);
        let Some(conv) = state.conversations.get_mut(id) else {
            return Ok(ResolveOutcome::NotFound);
        };
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
        self.conversation_view(id).await
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
        if state.erasing(id.customer()) {
            return Ok(ReplyOutcome::NotFound);
        }
        let Some(conv) = state.conversations.get_mut(id) else {
            return Ok(ReplyOutcome::NotFound);
        };
        if conv.archived {
            return Ok(ReplyOutcome::Archived);
        }
        conv.messages.push(message.clone());
        let first = message.kind == EntryKind::Message && conv.first_response_at.is_none();
        if first {
            conv.first_response_at = Some(now);
            let data = serde_json::json!({
                "conversation_id": id.to_string(), "customer_id": id.customer().as_str(),
                "agent_id": message.from,
            });
            state.customer_feed(
                &id.customer().clone(),
                FeedType::ConversationFirstResponse,
                &id.to_string(),
                now,
                data,
            );
        }
        Ok(ReplyOutcome::Stored { first })
    }

    async fn claim_auto_reply(
        &self,
        id: &ConversationId,
        until: DateTime<Utc>,
        message: &MessageId,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let Some(conv) = state.conversations.get_mut(id) else {
            return Ok(false);
        };
        match &conv.auto_replied {
            Some((period, holder)) if *period == until => Ok(holder == message),
            _ => {
                conv.auto_replied = Some((until, message.clone()));
                Ok(true)
            }
        }
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

/// A conversation as the embedded state has it.
enum Read {
    Missing,
    /// Moved to the archive; its customer as they are now.
    Archived(Box<CustomerView>),
    /// Its view, and the archived conversations its timeline takes entries from.
    Live(Box<ConversationView>, Vec<ConversationId>),
}
