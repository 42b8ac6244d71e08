//! Working-day deadlines in the embedded store: a set by due time, taken when due.

use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{ConversationId, DeadlineKind, Deadlines};

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
        }
        due.into_iter().map(|(_, c, k)| (c, k)).collect()
    }
}
