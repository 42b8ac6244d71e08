//! A conversation as the archive keeps it: what its view shows besides the live customer,
//! so a view read back is the view that left Redis, entry for entry.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    Channel, ConversationId, ConversationState, ConversationView, CustomerView, Message,
};

/// A resolved conversation, its composed timeline (merged conversations' entries
/// included, in order) and the fields of its view.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedConversation {
    pub id: ConversationId,
    pub created_at: DateTime<Utc>,
    pub resolved_at: DateTime<Utc>,
    pub record: Record,
    pub messages: Vec<Message>,
}

/// The view's fields kept in the `record` column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub channels: Vec<Channel>,
    pub repeat_contacts: u32,
    pub merged_conversation_ids: Vec<ConversationId>,
}

impl ArchivedConversation {
    /// The archive's copy of a resolved conversation's view; `None` while it is open.
    pub fn of(view: &ConversationView) -> Option<Self> {
        Some(Self {
            id: view.id.clone(),
            created_at: view.created_at,
            resolved_at: view.resolved_at?,
            record: Record {
                channels: view.channels.clone(),
                repeat_contacts: view.repeat_contacts,
                merged_conversation_ids: view.merged_conversation_ids.clone(),
            },
            messages: view.messages.clone(),
        })
    }

    /// The view again, with the customer as they are now.
    pub fn into_view(self, customer: CustomerView) -> ConversationView {
        ConversationView {
            id: self.id,
            customer,
            state: ConversationState::Resolved,
            agent_id: None,
            queue: None,
            route: None,
            needs: Vec::new(),
            channels: self.record.channels,
            repeat_contacts: self.record.repeat_contacts,
            merged_conversation_ids: self.record.merged_conversation_ids,
            created_at: self.created_at,
            resolved_at: Some(self.resolved_at),
            deadlines: None,
            messages: self.messages,
            earlier: false,
            archived: true,
        }
    }
}
