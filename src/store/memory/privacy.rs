//! A customer's data on request in the embedded store: redacting one entry where it is
//! kept, under the lock for what the process holds and through the archive (outside the
//! lock) for what moved there.

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::{ConversationId, MessageId};
use crate::store::archive::read_through;
use crate::store::redaction::{redacted, redacted_body};
use crate::store::{PrivacyStore, StoreError, MAX_HOPS};

#[async_trait]
impl PrivacyStore for MemoryStore {
    async fn redact_message(
        &self,
        conv: &ConversationId,
        message: &MessageId,
    ) -> Result<bool, StoreError> {
        let archived = match self.redact_held(conv, message) {
            Held::Redacted => return Ok(true),
            Held::Archived(parts) => parts,
        };
        for part in &archived {
            if read_through::redact(self.archive.as_ref(), part, message).await? {
                self.redact_delivery(message);
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// What the process itself held of the entry.
enum Held {
    Redacted,
    /// Not held here: the archived parts of the timeline it may be in.
    Archived(Vec<ConversationId>),
}

impl MemoryStore {
    /// Redacts the entry among the conversation's own and merged entries, as `timeline`
    /// walks them; otherwise answers the parts that moved to the archive.
    fn redact_held(&self, conv: &ConversationId, message: &MessageId) -> Held {
        let mut state = self.lock();
        let mut pending = vec![(conv.clone(), 0)];
        let mut archived = Vec::new();
        while let Some((id, depth)) = pending.pop() {
            let Some(rec) = state.conversations.get_mut(&id) else {
                continue;
            };
            if rec.archived {
                archived.push(id);
                continue;
            }
            if let Some(entry) = rec.messages.iter_mut().find(|m| m.id == *message) {
                *entry = redacted(entry.clone());
                scrub_delivery(&mut state, message);
                return Held::Redacted;
            }
            if depth < MAX_HOPS {
                pending.extend(rec.absorbed.iter().map(|a| (a.clone(), depth + 1)));
            }
        }
        Held::Archived(archived)
    }

    fn redact_delivery(&self, message: &MessageId) {
        scrub_delivery(&mut self.lock(), message);
    }
}

/// Redacts the text of the entry's delivery in the outbox, if it has one.
fn scrub_delivery(state: &mut super::State, message: &MessageId) {
    if let Some(delivery) = state.outbox.get_mut(message.as_str()) {
        if let Some(body) = redacted_body(&delivery.body) {
            delivery.body = body;
        }
    }
}
