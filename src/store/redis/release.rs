//! Freeing what a conversation holds in routing: on resolve and merge (whatever it
//! holds), and on a call's end (only the call's phone unit), with `release.lua`.

use chrono::{DateTime, Utc};

use super::{from_redis, RedisStore};
use crate::domain::{Channel, ConversationId, RoutingGroup};
use crate::store::{Assignment, StoreError};

impl RedisStore {
    /// Frees what a conversation held; answers the assignments the freed unit made.
    pub(super) async fn release_conversation(
        &self,
        group: &RoutingGroup,
        conv: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let made = self.release_script(group, conv, None, None, now).await?;
        self.recorded(made, group, now).await
    }

    /// A resolve: frees the route of the episode it ended (`resolve.lua` read it), unless
    /// routing has since taken the route over for a later episode (the conversation
    /// reopened meanwhile), which keeps it.
    pub(super) async fn release_resolved(
        &self,
        group: &RoutingGroup,
        conv: &ConversationId,
        episode: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let made = self
            .release_script(group, conv, None, Some(episode), now)
            .await?;
        if made == [["kept"]] {
            return Ok(Vec::new());
        }
        self.recorded(made, group, now).await
    }

    /// A call's end: frees the phone unit the conversation is held on, which its holder
    /// keeps as after-call work; `None` when it holds none (routed on another channel,
    /// queued or waiting, in the supervisor queue, or already after its call) and keeps
    /// its place.
    pub(super) async fn release_call(
        &self,
        group: &RoutingGroup,
        conv: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        let made = self
            .release_script(group, conv, Some(Channel::Phone), None, now)
            .await?;
        if made == [["kept"]] {
            return Ok(None);
        }
        self.recorded(made, group, now).await.map(Some)
    }

    async fn release_script(
        &self,
        group: &RoutingGroup,
        conv: &ConversationId,
        only: Option<Channel>,
        episode: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Vec<String>>, StoreError> {
        let mut script = self.scripts.release.key(self.keys.routing(group));
        script
            .arg(conv.to_string())
            .arg(now.timestamp_millis())
            .arg(only.map_or("", Channel::as_str));
        if let Some(episode) = episode {
            script.arg(episode);
        }
        script
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)
    }
}
