//! The event feed's entries of one routing group in the reference engine (CONTRACT
//! "Event export (v3)"): written where the change is made, as `lua/routing/prelude.lua`'s
//! `feed` writes them in the same script, and read after a position as the Redis stream
//! is.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};

use crate::domain::feed::{seq_parts, FeedEvent, FeedType};
use crate::domain::{AgentId, ConversationId};

use super::Routing;

/// The group's feed: entries numbered `<ms>-<n>` as a Redis stream numbers them.
#[derive(Debug, Default)]
pub(super) struct Feed {
    entries: VecDeque<FeedEvent>,
    last: (u64, u64),
    /// Each conversation's first assignment and transfers, as its events record them
    /// (the Redis store keeps them on the conversation: `mirror.lua`).
    facts: HashMap<ConversationId, AssignmentFacts>,
}

/// Who took a conversation first and when, and how often it was transferred.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssignmentFacts {
    pub first: Option<(DateTime<Utc>, AgentId)>,
    pub transfers: u32,
}

impl Routing {
    /// Appends an entry about `subject` (its shard is named when read); answers its time.
    pub(super) fn feed(
        &mut self,
        kind: FeedType,
        subject: &str,
        data: serde_json::Value,
    ) -> DateTime<Utc> {
        // Milliseconds, as the Redis stores' events carry.
        let now = Utc::now().timestamp_millis();
        let at = DateTime::from_timestamp_millis(now).unwrap_or_default();
        let ms = u64::try_from(now).unwrap_or(0);
        let feed = &mut self.feed;
        feed.last = match ms > feed.last.0 {
            true => (ms, 0),
            false => (feed.last.0, feed.last.1 + 1),
        };
        feed.entries.push_back(FeedEvent {
            shard: String::new(),
            seq: format!("{}-{}", feed.last.0, feed.last.1),
            id: None,
            kind,
            subject: subject.to_owned(),
            at,
            data,
        });
        at
    }

    /// Records an assignment (`at`, as its event) in the conversation's facts.
    pub(super) fn note_assignment(
        &mut self,
        conv: &ConversationId,
        agent: &AgentId,
        at: DateTime<Utc>,
        transfer: bool,
    ) {
        let facts = self.feed.facts.entry(conv.clone()).or_default();
        facts.first.get_or_insert_with(|| (at, agent.clone()));
        facts.transfers += u32::from(transfer);
    }

    /// The conversation's first assignment and transfers, if it was ever assigned here.
    pub fn assignment_facts(&self, conv: &ConversationId) -> Option<AssignmentFacts> {
        self.feed.facts.get(conv).cloned()
    }

    /// Up to `limit` entries after the position `after`, oldest first.
    pub fn feed_after(&self, after: &str, limit: usize) -> Vec<FeedEvent> {
        let after = seq_parts(after).unwrap_or((0, 0));
        self.feed
            .entries
            .iter()
            .filter(|e| seq_parts(&e.seq).is_some_and(|s| s > after))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Drops the entries about a conversation `about` picks (a customer's erasure).
    pub(super) fn forget_feed(&mut self, about: &dyn Fn(&ConversationId) -> bool) {
        self.feed.facts.retain(|conv, _| !about(conv));
        self.feed.entries.retain(|e| {
            let conv: Option<ConversationId> = e.subject.parse().ok();
            !conv.is_some_and(|c| about(&c))
        });
    }

    /// Drops the entries older than `before`.
    pub fn trim_feed(&mut self, before: DateTime<Utc>) {
        while self.feed.entries.front().is_some_and(|e| e.at < before) {
            self.feed.entries.pop_front();
        }
    }
}
