//! The archive tier on PostgreSQL (CONTRACT "Data lifecycle (v3)"): conversations
//! resolved long enough ago leave Redis for it, whole, and are read back through it.
//!
//! `sqlx` (without its compile-time checked macros): a pool, TLS on rustls, and a
//! migrator that takes a PostgreSQL advisory lock, so replicas starting together apply
//! the embedded schema migrations (`migrations/`) once. This module is the archive's
//! storage: the sweep (`app::archiving`) moves conversations here, and the stores read
//! through it where Redis keeps only a stub.

use std::borrow::Cow;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row;

use chrono::{DateTime, Utc};

use crate::domain::{ConversationId, CustomerId};
use crate::store::StoreError;

mod audit;
mod feed;
pub(crate) mod read_through;
mod record;

pub use feed::SinkPage;
pub use record::{ArchivedConversation, Record};

/// The schema, embedded in the binary: `(version, description, SQL)`.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "archive", include_str!("migrations/V1__archive.sql")),
    (2, "audit", include_str!("migrations/V2__audit.sql")),
    (3, "feed", include_str!("migrations/V3__feed.sql")),
];

/// The embedded migrations as `sqlx` resolves a migration directory.
#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// The archive's connection pool.
#[derive(Debug, Clone)]
pub struct Archive {
    pool: PgPool,
}

fn unavailable(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => {
            StoreError::Corrupt(e.to_string())
        }
        other => StoreError::Unavailable(Box::new(other)),
    }
}

impl Archive {
    /// Connects lazily: the service starts while PostgreSQL is still down.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy(url)
            .map_err(unavailable)?;
        Ok(Self { pool })
    }

    /// Applies the embedded migrations not applied yet, once across replicas. Migrations
    /// only add (tables, columns, indexes), so a schema a newer release applied is one
    /// this release can run on: during a rolling upgrade's rollback an older replica
    /// starts against it instead of refusing the versions it does not know.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut migrator = Migrator::new(Embedded)
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        migrator.set_ignore_missing(true);
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))
    }

    /// Stores conversations with their timelines in one statement however many (`UNNEST`
    /// of column arrays). Idempotent: a move retried after a crash, or by a second
    /// replica, leaves each conversation stored once, as last given.
    pub async fn put(&self, conversations: Vec<ArchivedConversation>) -> Result<(), StoreError> {
        // Encoding a round's timelines takes milliseconds of CPU: off the async workers,
        // where it would hold up the requests queued behind it.
        let batch = tokio::task::spawn_blocking(move || Columns::of(&conversations))
            .await
            .map_err(|e| StoreError::Corrupt(format!("encoding the archive batch: {e}")))??;
        sqlx::query(
            "INSERT INTO conversations (id, customer_id, created_at, resolved_at, record, timeline) \
             SELECT id, customer_id, created_at, resolved_at, record, timeline::json \
             FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], \
                         $5::jsonb[], $6::text[]) \
               AS t(id, customer_id, created_at, resolved_at, record, timeline) \
             ON CONFLICT (id) DO UPDATE SET created_at = EXCLUDED.created_at, \
               resolved_at = EXCLUDED.resolved_at, record = EXCLUDED.record, \
               timeline = EXCLUDED.timeline",
        )
        .bind(&batch.ids)
        .bind(&batch.customers)
        .bind(&batch.created)
        .bind(&batch.resolved)
        .bind(&batch.records)
        .bind(&batch.timelines)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    /// An archived conversation with its whole timeline, in order.
    pub async fn get(
        &self,
        id: &ConversationId,
    ) -> Result<Option<ArchivedConversation>, StoreError> {
        let row = sqlx::query(
            "SELECT created_at, resolved_at, record, timeline::text AS timeline \
             FROM conversations WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let timeline: String = row.try_get("timeline").map_err(unavailable)?;
        Ok(Some(ArchivedConversation {
            id: id.clone(),
            created_at: row.try_get("created_at").map_err(unavailable)?,
            resolved_at: row.try_get("resolved_at").map_err(unavailable)?,
            record: from_json(row.try_get("record").map_err(unavailable)?)?,
            messages: serde_json::from_str(&timeline)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        }))
    }
}

impl Archive {
    /// Up to `limit` archived conversations resolved before `resolved_before`, oldest
    /// first: what retention deletes next.
    pub async fn resolved_before(
        &self,
        resolved_before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ConversationId>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM conversations WHERE resolved_at < $1 ORDER BY resolved_at LIMIT $2",
        )
        .bind(resolved_before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id").map_err(unavailable)?;
                id.parse()
                    .map_err(|e: crate::domain::DomainError| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// Redacts the entry `message` of the archived conversation `id`'s timeline (its
    /// text, and its subject when it has one); answers whether the entry is there.
    pub async fn redact(
        &self,
        id: &ConversationId,
        message: &crate::domain::MessageId,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE conversations SET timeline = ( \
               SELECT json_agg(CASE WHEN e->>'id' = $2 THEN \
                 (e::jsonb || jsonb_build_object('text', $3::text) \
                   || CASE WHEN e->>'subject' IS NOT NULL \
                      THEN jsonb_build_object('subject', $3::text) ELSE '{}'::jsonb END)::json \
                 ELSE e END ORDER BY n) \
               FROM json_array_elements(timeline) WITH ORDINALITY AS t(e, n)) \
             WHERE id = $1 \
               AND EXISTS (SELECT 1 FROM json_array_elements(timeline) e WHERE e->>'id' = $2)",
        )
        .bind(id.to_string())
        .bind(message.as_str())
        .bind(crate::store::redaction::REDACTED)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() > 0)
    }

    /// Deletes every archived conversation of the erased customers (by the customer the
    /// row names, and by id for those a merge brought to them).
    pub async fn erase(
        &self,
        customers: &[CustomerId],
        conversations: &[ConversationId],
    ) -> Result<(), StoreError> {
        let customers: Vec<String> = customers.iter().map(ToString::to_string).collect();
        let ids: Vec<String> = conversations.iter().map(ToString::to_string).collect();
        sqlx::query(
            "DELETE FROM conversations WHERE customer_id = ANY($1::text[]) OR id = ANY($2::text[])",
        )
        .bind(&customers)
        .bind(&ids)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        self.erase_feed(&customers, &ids).await
    }

    /// Deletes archived conversations (those not archived are no error).
    pub async fn delete(&self, ids: &[ConversationId]) -> Result<(), StoreError> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        sqlx::query("DELETE FROM conversations WHERE id = ANY($1::text[])")
            .bind(&ids)
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A batch as the columns `UNNEST` takes: one array per column.
#[derive(Default)]
struct Columns {
    ids: Vec<String>,
    customers: Vec<String>,
    created: Vec<DateTime<Utc>>,
    resolved: Vec<DateTime<Utc>>,
    records: Vec<serde_json::Value>,
    /// Each timeline as one JSON array, as the API shows it.
    timelines: Vec<String>,
}

impl Columns {
    /// Each conversation once (an upsert may not touch a row twice in one statement).
    fn of(conversations: &[ArchivedConversation]) -> Result<Self, StoreError> {
        let mut columns = Columns::default();
        let mut seen = std::collections::HashSet::new();
        for conv in conversations.iter().filter(|c| seen.insert(&c.id)) {
            columns.ids.push(conv.id.to_string());
            columns.customers.push(conv.id.customer().to_string());
            columns.created.push(conv.created_at);
            columns.resolved.push(conv.resolved_at);
            columns.records.push(to_json(&conv.record)?);
            columns.timelines.push(
                serde_json::to_string(&conv.messages)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
        }
        Ok(columns)
    }
}
