//! Queues and priorities on Redis: a conversation's priority raised (a complaint, an
//! escalation: `lua/routing/raise.lua` on its group's slot), and a queue listed in serving
//! order across every routing group.

use super::{corrupt, from_redis, RedisStore};
use crate::domain::ConversationId;
use crate::store::{Queue, QueuedConversation, StoreError};

impl RedisStore {
    pub(super) async fn raise(&self, id: &ConversationId, floor: u8) -> Result<bool, StoreError> {
        let group = self.conversation_group(id).await?;
        let raised: i64 = self
            .scripts
            .raise
            .key(self.keys.routing(&group))
            .arg(id.to_string())
            .arg(floor)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        Ok(raised == 1)
    }

    /// Every group's queue, merged in queue order (score, then id).
    pub(super) async fn queue_listing(
        &self,
        queue: &Queue,
        limit: usize,
    ) -> Result<Vec<QueuedConversation>, StoreError> {
        let mut all: Vec<(f64, String)> = Vec::new();
        for group in self.all_groups().await? {
            let key = self.keys.queue(&group, queue.as_str());
            let page: Vec<(String, f64)> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(limit.saturating_sub(1))
                .arg("WITHSCORES")
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            all.extend(page.into_iter().map(|(c, s)| (s, c)));
        }
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        all.truncate(limit);
        all.into_iter()
            .map(|(score, conv)| {
                let id = conv.parse().map_err(corrupt)?;
                QueuedConversation::from_score(id, score)
                    .ok_or_else(|| StoreError::Corrupt(format!("queue score {score}")))
            })
            .collect()
    }
}
