//! Ratings in the embedded store: one per conversation and source, and the recent ones
//! of each agent and customer (as `rate.lua` and the agents' lists do on Redis).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::feed::FeedType;
use crate::domain::{AgentId, ConversationId, CustomerId, RECENT_RATINGS};
use crate::store::{FeedbackStore, Rated, RatingsOf, StoreError};

impl MemoryStore {
    /// `None` when there is no such conversation. It rates the agent holding it, else
    /// who last served it, else the customer's personal agent.
    pub(super) fn record_rating(
        &self,
        conv: &ConversationId,
        source: &str,
        rating: u8,
        now: DateTime<Utc>,
    ) -> Option<Rated> {
        let mut state = self.lock();
        let group = state.conv_group(conv);
        let holder = state.routing.current(&group, conv).and_then(|r| r.agent_id);
        let owner = state
            .live(conv.customer())
            .ok()
            .and_then(|c| state.customers.get(&c)?.personal_agent.clone());
        let rec = state.conversations.get_mut(conv)?;
        let agent = holder.or_else(|| rec.served_by.clone()).or(owner);
        if rec.ratings.contains_key(source) {
            return Some(Rated {
                duplicate: true,
                agent,
            });
        }
        rec.ratings.insert(source.to_owned(), rating);
        rec.last_rating = Some(rating);
        let data = serde_json::json!({
            "conversation_id": conv.to_string(), "customer_id": conv.customer().as_str(),
            "rating": rating, "source": source,
            "agent_id": agent.as_ref().map_or("", AgentId::as_str),
        });
        state.customer_feed(
            &conv.customer().clone(),
            FeedType::RatingRecorded,
            &conv.to_string(),
            now,
            data,
        );
        let mut subjects = vec![RatingsOf::Customer(conv.customer().clone())];
        subjects.extend(agent.clone().map(RatingsOf::Agent));
        for of in subjects {
            let recent = state.ratings.entry(of).or_default();
            recent.push_front(rating);
            recent.truncate(RECENT_RATINGS);
        }
        Some(Rated {
            duplicate: false,
            agent,
        })
    }

    pub(super) fn ratings_of(&self, of: &RatingsOf) -> Vec<u8> {
        self.lock()
            .ratings
            .get(of)
            .map(|r| r.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[async_trait]
impl FeedbackStore for MemoryStore {
    async fn set_open_complaint(
        &self,
        customer: &CustomerId,
        conv: Option<&ConversationId>,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let rec = state.customer_mut(customer)?;
        rec.complaint = conv.cloned();
        Ok(())
    }

    async fn rate(
        &self,
        conv: &ConversationId,
        source: &str,
        rating: u8,
        now: DateTime<Utc>,
    ) -> Result<Option<Rated>, StoreError> {
        Ok(self.record_rating(conv, source, rating, now))
    }

    async fn recent_ratings(&self, of: &RatingsOf) -> Result<Vec<u8>, StoreError> {
        Ok(self.ratings_of(of))
    }

    async fn conversation_ratings(
        &self,
        conv: &ConversationId,
    ) -> Result<Vec<(String, u8)>, StoreError> {
        let state = self.lock();
        Ok(state.conversations.get(conv).map_or_else(Vec::new, |c| {
            c.ratings.iter().map(|(s, r)| (s.clone(), *r)).collect()
        }))
    }
}
