//! Retention in the embedded store: the due list of customers, their due conversations
//! read as the archive keeps them, and stubs (the timeline dropped, read from the archive).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{ConversationId, ConversationState, CustomerId};
use crate::store::archive::ArchivedConversation;
use crate::store::format;
use crate::store::retention::{Archivable, ArchiveCandidate, ArchiveClaim};
use crate::store::{ArchiveStore, StoreError, MAX_HOPS};

#[async_trait]
impl ArchiveStore for MemoryStore {
    async fn claim_archive_due(
        &self,
        resolved_before: DateTime<Utc>,
        lease: chrono::Duration,
        limit: usize,
    ) -> Result<Vec<ArchiveClaim>, StoreError> {
        if !self.format_gate.allows(format::ARCHIVE_STUBS) {
            return Ok(Vec::new());
        }
        let mut state = self.lock();
        let mut due: Vec<(DateTime<Utc>, CustomerId)> = state
            .archive_due
            .iter()
            .filter(|(_, since)| **since <= resolved_before)
            .map(|(customer, since)| (*since, customer.clone()))
            .collect();
        due.sort();
        due.truncate(limit);
        let leased = resolved_before + lease;
        Ok(due
            .into_iter()
            .map(|(since, customer)| {
                state.archive_due.insert(customer.clone(), leased);
                ArchiveClaim {
                    customer,
                    since,
                    leased,
                }
            })
            .collect())
    }

    async fn archivable(
        &self,
        customer: &CustomerId,
        resolved_before: DateTime<Utc>,
    ) -> Result<Archivable, StoreError> {
        let (due, next) = self.due_conversations(customer, resolved_before);
        let mut candidates = Vec::new();
        let mut pending = due;
        let mut seen = std::collections::HashSet::new();
        while let Some(id) = pending.pop() {
            if seen.len() > MAX_HOPS * MAX_HOPS || !seen.insert(id.clone()) {
                continue;
            }
            // Counted before the read: an entry arriving in between makes the stub refuse.
            let entries = self
                .lock()
                .conversations
                .get(&id)
                .map_or(0, |c| c.messages.len());
            let Some(view) = self.conversation_view(&id).await? else {
                continue;
            };
            if view.archived {
                continue;
            }
            let Some(conversation) = ArchivedConversation::of(&view) else {
                continue;
            };
            pending.extend(view.merged_conversation_ids.iter().cloned());
            candidates.push(ArchiveCandidate {
                conversation,
                entries,
            });
        }
        Ok(Archivable { candidates, next })
    }

    async fn stub_archived(
        &self,
        candidates: &[ArchiveCandidate],
        now: DateTime<Utc>,
    ) -> Result<Vec<ConversationId>, StoreError> {
        let mut state = self.lock();
        let mut stubbed = Vec::new();
        for candidate in candidates {
            let id = &candidate.conversation.id;
            let Some(conv) = state.conversations.get_mut(id) else {
                continue;
            };
            let unchanged = conv.state == ConversationState::Resolved
                && conv.resolved_at == Some(candidate.conversation.resolved_at)
                && conv.messages.len() == candidate.entries;
            if conv.archived || !unchanged {
                continue;
            }
            conv.archived = true;
            conv.messages = Vec::new();
            conv.deliveries.clear();
            stubbed.push(id.clone());
            if let Some(customer) = state.customers.get_mut(id.customer()) {
                customer.dedup.retain(|_, (_, expires)| *expires > now);
            }
        }
        Ok(stubbed)
    }

    async fn release_archive_claims(
        &self,
        releases: &[(ArchiveClaim, Option<DateTime<Utc>>)],
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        for (claim, next) in releases {
            let current = state.archive_due.get(&claim.customer).copied();
            match (current, *next) {
                // Ours still: due again at `next`, or done.
                (Some(at), Some(next)) if at == claim.leased => {
                    state.archive_due.insert(claim.customer.clone(), next);
                }
                (Some(at), None) if at == claim.leased => {
                    state.archive_due.remove(&claim.customer);
                }
                // A resolution since put them earlier (or another sweeper took over): keep
                // the earlier of the two.
                (Some(at), Some(next)) if next < at => {
                    state.archive_due.insert(claim.customer.clone(), next);
                }
                (None, Some(next)) => {
                    state.archive_due.insert(claim.customer.clone(), next);
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn delete_conversations(
        &self,
        ids: &[ConversationId],
        resolved_before: DateTime<Utc>,
    ) -> Result<Vec<ConversationId>, StoreError> {
        let mut state = self.lock();
        let mut deleted = Vec::new();
        for id in ids {
            let due = match state.conversations.get(id) {
                None => true,
                Some(conv) => {
                    conv.state == ConversationState::Resolved
                        && conv.resolved_at.is_some_and(|at| at < resolved_before)
                }
            };
            if !due {
                continue;
            }
            state.conversations.remove(id);
            // Out of its customer's list, and of the lists of those they merged into.
            if let Some(owner) = state.customers.get_mut(id.customer()) {
                if owner.last == Some(id.seq()) {
                    owner.last = None;
                }
            }
            let mut holder = Some(id.customer().clone());
            for _ in 0..MAX_HOPS {
                let Some(customer) = holder.take().and_then(|c| state.customers.get_mut(&c)) else {
                    break;
                };
                customer.conversations.retain(|c| c != id);
                holder = customer.merged_into.clone();
            }
            deleted.push(id.clone());
        }
        Ok(deleted)
    }

    async fn oldest_unarchived(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.lock().archive_due.values().min().copied())
    }
}

impl MemoryStore {
    /// A customer's own resolved conversations not archived: those resolved before
    /// `resolved_before`, and the earliest resolution among the rest.
    fn due_conversations(
        &self,
        customer: &CustomerId,
        resolved_before: DateTime<Utc>,
    ) -> (Vec<ConversationId>, Option<DateTime<Utc>>) {
        let state = self.lock();
        let mut due = Vec::new();
        let mut next: Option<DateTime<Utc>> = None;
        let own = state
            .customers
            .get(customer)
            .map(|c| c.conversations.clone())
            .unwrap_or_default();
        for id in own.iter().filter(|id| id.customer() == customer) {
            let Some(conv) = state.conversations.get(id) else {
                continue;
            };
            match conv.resolved_at {
                Some(at) if conv.state == ConversationState::Resolved && !conv.archived => {
                    if at < resolved_before {
                        due.push(id.clone());
                    } else {
                        next = Some(next.map_or(at, |n| n.min(at)));
                    }
                }
                _ => {}
            }
        }
        (due, next)
    }
}
