//! Replies' delivery reports on Redis: each conversation's reports in its `:dl` hash
//! (`lua/delivery.lua` moves a reply's status only forward), and the provider's message
//! id of each reply in a key of its own slot, so a provider's report finds its reply.

use chrono::Duration;

use super::codec::{corrupt, from_redis};
use super::RedisStore;
use crate::domain::{ConversationId, Direction, Message, MessageId, ReplyDelivery};
use crate::store::StoreError;

/// How long a provider's message id finds its reply: reports come within days.
fn provider_id_ttl() -> Duration {
    Duration::days(30)
}

/// The `:dl` field naming a reply's provider id.
pub(super) fn provider_field(message: &MessageId) -> String {
    format!("p:{}", message.as_str())
}

impl RedisStore {
    pub(super) async fn remember_provider_id(
        &self,
        conv: &ConversationId,
        message: &MessageId,
        provider_id: &str,
    ) -> Result<(), StoreError> {
        let _: () = redis::cmd("SET")
            .arg(self.keys.provider_message(provider_id))
            .arg(format!("{conv}|{}", message.as_str()))
            .arg("EX")
            .arg(provider_id_ttl().num_seconds())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        // With the conversation too, so that an erasure finds the key above.
        if provider_id != message.as_str() {
            let _: i64 = redis::cmd("HSET")
                .arg(self.keys.conversation_deliveries(conv))
                .arg(provider_field(message))
                .arg(provider_id)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
        }
        Ok(())
    }

    pub(super) async fn provider_reply(
        &self,
        provider_id: &str,
    ) -> Result<Option<(ConversationId, MessageId)>, StoreError> {
        let raw: Option<String> = redis::cmd("GET")
            .arg(self.keys.provider_message(provider_id))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let Some(raw) = raw else {
            return Ok(None);
        };
        let (conv, message) = raw
            .split_once('|')
            .ok_or_else(|| StoreError::Corrupt(format!("provider id record {raw}")))?;
        let message = MessageId::parse(message)
            .ok_or_else(|| StoreError::Corrupt(format!("message id {message}")))?;
        Ok(Some((conv.parse().map_err(corrupt)?, message)))
    }

    pub(super) async fn advance(
        &self,
        conv: &ConversationId,
        message: &MessageId,
        report: &ReplyDelivery,
    ) -> Result<Option<ReplyDelivery>, StoreError> {
        let json = serde_json::to_string(report).map_err(corrupt)?;
        let recorded: Option<String> = self
            .scripts
            .delivery
            .key(self.keys.conversation(conv))
            .arg(message.as_str())
            .arg(report.status.rank())
            .arg(json)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        recorded
            .map(|r| serde_json::from_str(&r).map_err(corrupt))
            .transpose()
    }

    /// Adds each reply's delivery report to its timeline entry (a conversation with no
    /// reply costs no read).
    pub(super) async fn with_deliveries(
        &self,
        conv: &ConversationId,
        messages: &mut [Message],
    ) -> Result<(), StoreError> {
        if !messages.iter().any(|m| m.direction == Direction::Out) {
            return Ok(());
        }
        let reports: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.keys.conversation_deliveries(conv))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        attach(messages, &reports);
        Ok(())
    }
}

/// Puts each `<reply id> → <rank>|<JSON>` report on its entry.
pub(super) fn attach(messages: &mut [Message], reports: &[(String, String)]) {
    if reports.is_empty() {
        return;
    }
    for m in messages
        .iter_mut()
        .filter(|m| m.direction == Direction::Out)
    {
        let report = reports
            .iter()
            .find(|(id, _)| id == m.id.as_str())
            .and_then(|(_, r)| r.split_once('|'))
            .and_then(|(_, json)| serde_json::from_str(json).ok());
        if report.is_some() {
            m.delivery = report;
        }
    }
}
