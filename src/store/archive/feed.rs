//! The event feed in the archive (`app::feed_sink`): each page the sink reads is written
//! in one transaction with the sink's cursor, so every event lands once however often a
//! replica dies, and replicas take turns (the cursor's row is locked for the step).

use sqlx::Row;

use super::{unavailable, Archive};
use crate::domain::facts::ConversationFacts;
use crate::domain::feed::{CloudEvent, FeedType};
use crate::domain::ConversationId;
use crate::store::StoreError;

/// What one step of the sink wrote: the events, and the cursor after them.
pub struct SinkPage {
    pub events: Vec<CloudEvent>,
    pub next: String,
}

impl Archive {
    /// One step of the sink `name`: locks its cursor (`None`: from the start), hands it to
    /// `read` for the page after it, and stores that page and the new cursor in the same
    /// transaction. Answers how many events the page held.
    pub async fn sink_feed<F, Fut>(&self, name: &str, read: F) -> Result<usize, StoreError>
    where
        F: FnOnce(Option<String>) -> Fut,
        Fut: std::future::Future<Output = Result<SinkPage, StoreError>>,
    {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        sqlx::query("INSERT INTO feed_sinks (name, cursor) VALUES ($1, '') ON CONFLICT DO NOTHING")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        let cursor: String =
            sqlx::query("SELECT cursor FROM feed_sinks WHERE name = $1 FOR UPDATE")
                .bind(name)
                .fetch_one(&mut *tx)
                .await
                .map_err(unavailable)?
                .try_get(0)
                .map_err(unavailable)?;
        let page = read((!cursor.is_empty()).then_some(cursor)).await?;
        if page.events.is_empty() {
            return Ok(0);
        }
        for event in &page.events {
            put_event(&mut tx, event).await?;
        }
        sqlx::query("UPDATE feed_sinks SET cursor = $2 WHERE name = $1")
            .bind(name)
            .bind(&page.next)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(page.events.len())
    }

    /// Deletes what the feed's tables hold about erased customers, but the notice of the
    /// erasure itself.
    pub(super) async fn erase_feed(
        &self,
        customers: &[String],
        conversations: &[String],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM feed_events WHERE type <> $3 \
               AND (customer_id = ANY($1::text[]) OR subject = ANY($2::text[]))",
        )
        .bind(customers)
        .bind(conversations)
        .bind(FeedType::CustomerErased.as_str())
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        sqlx::query(
            "DELETE FROM conversation_facts \
             WHERE customer_id = ANY($1::text[]) OR conversation_id = ANY($2::text[])",
        )
        .bind(customers)
        .bind(conversations)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }
}

impl Archive {
    /// A conversation's row of `conversation_facts` as JSON (its columns by name), if it
    /// was resolved and sunk: for the customer's export.
    pub async fn conversation_facts(
        &self,
        id: &ConversationId,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let row = sqlx::query(
            "SELECT row_to_json(f)::jsonb FROM conversation_facts f WHERE conversation_id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.map(|r| r.try_get(0).map_err(unavailable)).transpose()
    }
}

/// The customer an event concerns: its `data.customer_id`, else its conversation's.
fn customer_of(event: &CloudEvent) -> Option<String> {
    if let Some(c) = event.data["customer_id"].as_str() {
        return Some(c.to_owned());
    }
    let conv: ConversationId = event.subject.parse().ok()?;
    Some(conv.customer().to_string())
}

async fn put_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    event: &CloudEvent,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO feed_events (id, type, subject, customer_id, time, data) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&event.id)
    .bind(&event.kind)
    .bind(&event.subject)
    .bind(customer_of(event))
    .bind(event.time)
    .bind(&event.data)
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    match FeedType::parse(&event.kind) {
        Some(FeedType::ConversationResolved) => put_facts(tx, event).await,
        Some(FeedType::RatingRecorded) => {
            sqlx::query("UPDATE conversation_facts SET csat = $2 WHERE conversation_id = $1")
                .bind(&event.subject)
                .bind(event.data["rating"].as_i64().map(|r| r as i16))
                .execute(&mut **tx)
                .await
                .map_err(unavailable)?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Upserts the conversation's row from a resolution's facts (a later resolution wins).
async fn put_facts(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    event: &CloudEvent,
) -> Result<(), StoreError> {
    let facts: ConversationFacts = serde_json::from_value(event.data.clone())
        .map_err(|e| StoreError::Corrupt(format!("facts of {}: {e}", event.id)))?;
    sqlx::query(
        "INSERT INTO conversation_facts (conversation_id, customer_id, routing_group, resolved_at, \
           wait_secs, wait_working_secs, first_response_secs, first_response_working_secs, \
           resolution_secs, resolution_working_secs, transfers, channels, agent_id, \
           personal_agent_id, personal_agent_hit, csat, complaint, reopened) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
         ON CONFLICT (conversation_id) DO UPDATE SET \
           routing_group = EXCLUDED.routing_group, resolved_at = EXCLUDED.resolved_at, \
           wait_secs = EXCLUDED.wait_secs, wait_working_secs = EXCLUDED.wait_working_secs, \
           first_response_secs = EXCLUDED.first_response_secs, \
           first_response_working_secs = EXCLUDED.first_response_working_secs, \
           resolution_secs = EXCLUDED.resolution_secs, \
           resolution_working_secs = EXCLUDED.resolution_working_secs, \
           transfers = EXCLUDED.transfers, channels = EXCLUDED.channels, \
           agent_id = EXCLUDED.agent_id, personal_agent_id = EXCLUDED.personal_agent_id, \
           personal_agent_hit = EXCLUDED.personal_agent_hit, \
           csat = COALESCE(EXCLUDED.csat, conversation_facts.csat), \
           complaint = EXCLUDED.complaint, reopened = EXCLUDED.reopened \
         WHERE conversation_facts.resolved_at <= EXCLUDED.resolved_at",
    )
    .bind(&event.subject)
    .bind(event.data["customer_id"].as_str().unwrap_or_default())
    .bind(&facts.group)
    .bind(event.time)
    .bind(facts.wait_secs)
    .bind(facts.wait_working_secs)
    .bind(facts.first_response_secs)
    .bind(facts.first_response_working_secs)
    .bind(facts.resolution_secs)
    .bind(facts.resolution_working_secs)
    .bind(i32::try_from(facts.transfers).unwrap_or(i32::MAX))
    .bind(&facts.channels)
    .bind(&facts.agent_id)
    .bind(&facts.personal_agent_id)
    .bind(facts.personal_agent_hit)
    .bind(facts.csat.map(i16::from))
    .bind(facts.complaint)
    .bind(i32::try_from(facts.reopened).unwrap_or(i32::MAX))
    .execute(&mut **tx)
    .await
    .map_err(unavailable)?;
    Ok(())
}
