//! The archive tier's storage on a real PostgreSQL (started by the test with `initdb` and
//! `pg_ctl`): migrations apply once however many replicas start together, and a
//! conversation reads back entry for entry, however often it is stored.

use serde_json::json;
use switchboard::store::archive::{Archive, ArchivedConversation};

use crate::helpers::{ext, inbound, memory_store, t0, PostgresServer};
use switchboard::store::StorePolicy;

#[tokio::test]
async fn a_conversation_reads_back_from_the_archive_entry_for_entry() {
    let pg = PostgresServer::start();
    let (a, b) = (
        Archive::connect(&pg.url()).expect("pool"),
        Archive::connect(&pg.url()).expect("pool"),
    );
    // Two replicas starting at once apply the schema once (sqlx's advisory lock).
    let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
    ra.expect("migrate a");
    rb.expect("migrate b");
    a.migrate().await.expect("again: nothing to do");

    let store = memory_store(StorePolicy::default());
    let mut receipt = None;
    for (i, (channel, network, from)) in [
        ("email", None, "ann@example.com"),
        ("chat", None, "visitor-9"),
        ("social", Some("whatsapp"), "+4915112345678"),
    ]
    .into_iter()
    .enumerate()
    {
        let body = json!({ "channel": channel, "network": network, "external_id": ext(),
            "from": from, "text": format!("entry {i}: Grüße, 你好 \"quoted\""),
            "subject": (channel == "email").then_some("Order 1234"),
            "identities": [{ "kind": "email", "value": "ann@example.com" }] });
        let at = t0() + chrono::Duration::nanoseconds(123_456_789 * i as i64);
        receipt = Some(store.ingest(&inbound(body), at).await.expect("ingest"));
    }
    let id = receipt.expect("receipt").conversation_id;
    let view = store.conversation(&id).await.expect("read").expect("found");
    assert_eq!(view.messages.len(), 3);
    let mut resolved = view.clone();
    resolved.resolved_at = Some(t0() + chrono::Duration::hours(1));
    let archived = ArchivedConversation::of(&resolved).expect("resolved");
    a.put(vec![archived.clone()]).await.expect("put");
    b.put(vec![archived.clone()])
        .await
        .expect("a retried move stores nothing twice");
    let back = b.get(&id).await.expect("get").expect("archived");
    assert_eq!(back, archived);
    assert_eq!(
        serde_json::to_string(&back.messages).expect("json"),
        serde_json::to_string(&view.messages).expect("json"),
        "the same JSON timeline"
    );
    let other = switchboard::domain::ConversationId::new(id.customer().clone(), 99);
    assert!(a.get(&other).await.expect("get").is_none());
}

/// A rollback: the schema carries a migration of a newer release this one does not
/// know; this release still starts on it.
#[tokio::test]
async fn a_schema_migrated_by_a_newer_release_still_starts_an_older_one() {
    let pg = PostgresServer::start();
    let archive = Archive::connect(&pg.url()).expect("pool");
    archive.migrate().await.expect("migrate");
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&pg.url())
        .await
        .expect("connection");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999, 'a newer release', true, '\\x00', 0)",
    )
    .execute(&mut conn)
    .await
    .expect("a newer release's migration");
    archive
        .migrate()
        .await
        .expect("an older release starts on the newer schema");
}

#[tokio::test]
async fn the_archive_answers_unavailable_while_postgresql_is_down() {
    let pg = PostgresServer::start();
    let archive = Archive::connect(&pg.url()).expect("pool");
    archive.migrate().await.expect("migrate");
    pg.stop();
    let id: switchboard::domain::ConversationId =
        "0193a1b2c3d4e5f60718293a4b5c6d7e-1".parse().expect("id");
    let err = archive.get(&id).await.expect_err("down");
    assert!(
        matches!(err, switchboard::store::StoreError::Unavailable(_)),
        "{err:?}"
    );
}
