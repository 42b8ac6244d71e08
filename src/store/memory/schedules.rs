//! Working-day deadlines and follow-ups in the embedded store: due times, taken when due.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{ConversationId, CustomerId, DeadlineKind, Deadlines};
use crate::store::{ScheduleStore, StoreError};

impl MemoryStore {
    pub(super) fn schedule(&self, conv: &ConversationId, due: &Deadlines) {
        let mut state = self.lock();
        for kind in DeadlineKind::ALL {
            let scheduled = state
                .deadlines
                .iter()
                .any(|(_, c, k)| c == conv && *k == kind);
            if !scheduled {
                state.deadlines.insert((due.due(kind), conv.clone(), kind));
            }
        }
    }

    pub(super) fn unschedule(&self, conv: &ConversationId, kinds: &[DeadlineKind]) {
        self.lock()
            .deadlines
            .retain(|(_, c, k)| c != conv || !kinds.contains(k));
    }

    pub(super) fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Vec<(ConversationId, DeadlineKind)> {
        let mut state = self.lock();
        let due: Vec<_> = state
            .deadlines
            .iter()
            .take_while(|(at, _, _)| *at <= now)
            .take(limit)
            .cloned()
            .collect();
        for d in &due {
            state.deadlines.remove(d);
            state.deadline_at.remove(&(d.1.clone(), d.2));
        }
        due.into_iter().map(|(_, c, k)| (c, k)).collect()
    }

    pub(super) fn schedule_follow_up(
        &self,
        customer: &CustomerId,
        at: DateTime<Utc>,
        replace: bool,
    ) {
        let mut state = self.lock();
        if replace || !state.follow_ups.contains_key(customer) {
            state.follow_ups.insert(customer.clone(), at);
        }
    }

    pub(super) fn cancel_follow_up(&self, customer: &CustomerId) -> bool {
        self.lock().follow_ups.remove(customer).is_some()
    }

    pub(super) fn follow_up(&self, customer: &CustomerId) -> Option<DateTime<Utc>> {
        self.lock().follow_ups.get(customer).copied()
    }

    pub(super) fn take_due_follow_ups(&self, now: DateTime<Utc>, limit: usize) -> Vec<CustomerId> {
        let mut state = self.lock();
        let mut due: Vec<(DateTime<Utc>, CustomerId)> = state
            .follow_ups
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(c, at)| (*at, c.clone()))
            .collect();
        due.sort();
        due.truncate(limit);
        for (_, c) in &due {
            state.follow_ups.remove(c);
        }
        due.into_iter().map(|(_, c)| c).collect()
    }
}

#[async_trait]
impl ScheduleStore for MemoryStore {
    async fn schedule_deadlines(
        &self,
        conv: &ConversationId,
        due: &Deadlines,
    ) -> Result<(), StoreError> {
        self.schedule(conv, due);
        Ok(())
    }

    async fn clear_deadlines(
        &self,
        conv: &ConversationId,
        kinds: &[DeadlineKind],
    ) -> Result<(), StoreError> {
        self.unschedule(conv, kinds);
        Ok(())
    }

    async fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(ConversationId, DeadlineKind)>, StoreError> {
        Ok(self.take_due(now, limit))
    }

    async fn schedule_follow_up(
        &self,
        customer: &CustomerId,
        at: DateTime<Utc>,
        replace: bool,
    ) -> Result<(), StoreError> {
        MemoryStore::schedule_follow_up(self, customer, at, replace);
        Ok(())
    }

    async fn cancel_follow_up(&self, customer: &CustomerId) -> Result<bool, StoreError> {
        Ok(MemoryStore::cancel_follow_up(self, customer))
    }

    async fn follow_up(&self, customer: &CustomerId) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(MemoryStore::follow_up(self, customer))
    }

    async fn due_follow_ups(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<CustomerId>, StoreError> {
        Ok(self.take_due_follow_ups(now, limit))
    }
}
