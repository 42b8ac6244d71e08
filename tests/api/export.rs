//! A customer's export (CONTRACT "Export"): with conversations both in Redis and in the
//! archive (real PostgreSQL; the embedded store, one Redis and the 3+3 cluster), the
//! document holds every message ingested for them, text equal, with their identities,
//! ratings and complaints; over HTTP only an admin reads it.

use std::sync::Arc;

use chrono::Duration;
use futures_util::TryStreamExt;
use serde_json::{json, Value};

use switchboard::app::{archiving, export, App};
use switchboard::domain::{ConversationId, CustomerId};

use crate::archiving::{archiving_app, conversation_of};
use crate::helpers::{
    agent_jwt, ext, inbound, message, spawn_app, t0, test_settings, PostgresServer,
};

on_every_store!(an_export_holds_every_message_from_redis_and_the_archive);

/// The texts `conversation_of` ingests, in order.
fn texts_of(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{i:03}: {}", "Grüße — 你好 \"quoted\" ".repeat(4)))
        .collect()
}

async fn exported(app: &Arc<App>, customer: &CustomerId) -> Value {
    let found = export::begin(app, customer)
        .await
        .expect("read")
        .expect("found");
    let chunks: Vec<String> = found
        .chunks(app.clone())
        .try_collect()
        .await
        .expect("export");
    serde_json::from_str(&chunks.concat()).expect("one JSON document")
}

async fn an_export_holds_every_message_from_redis_and_the_archive(kind: &str) {
    let pg = PostgresServer::start();
    let (h, app) = archiving_app(kind, &pg).await;
    let archived = conversation_of(&h.store, "ann", 12, t0()).await;
    let resolved_at = t0() + Duration::hours(1);
    h.store
        .resolve(&archived, resolved_at)
        .await
        .expect("resolve");
    h.store
        .rate(&archived, "survey", 4, resolved_at)
        .await
        .expect("rate")
        .expect("rated");
    let moved = archiving::sweep(&app, resolved_at + Duration::seconds(61)).await;
    assert_eq!(moved.expect("sweep"), 1);
    let later = t0() + Duration::hours(3);
    let open = conversation_of(&h.store, "ann", 5, later).await;
    assert_ne!(open, archived, "a new conversation after the archived one");
    let complaint = json!({ "channel": "chat", "external_id": ext(), "from": "visitor-ann",
        "text": "[complaint] nobody answered" });
    h.store
        .ingest(&inbound(complaint), later + Duration::hours(1))
        .await
        .expect("complaint");
    let other = conversation_of(&h.store, "bob", 2, t0()).await;

    let doc = exported(&app, archived.customer()).await;
    assert_eq!(doc["format"], export::EXPORT_FORMAT);
    assert_eq!(doc["customer"]["id"], archived.customer().to_string());
    let identities = doc["identities"].to_string();
    assert!(identities.contains("ann@example.com"), "{identities}");
    assert_eq!(doc["ratings"], json!([4]));
    let conversations = doc["conversations"].as_array().expect("conversations");
    let by_id = |id: &ConversationId| {
        conversations
            .iter()
            .find(|c| c["id"] == id.to_string())
            .unwrap_or_else(|| panic!("{id} not exported: {doc}"))
    };
    let texts = |c: &Value| -> Vec<String> {
        c["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| m["text"].as_str().expect("text").to_owned())
            .collect()
    };
    assert_eq!(by_id(&archived)["archived"], true);
    assert_eq!(
        by_id(&archived)["ratings"],
        json!({ "survey": 4 }),
        "rated, though archived"
    );
    assert_eq!(by_id(&open)["ratings"], json!({}));
    assert_eq!(
        texts(by_id(&archived)),
        texts_of(12),
        "the archived timeline, whole"
    );
    let mut expected = texts_of(5);
    expected.push("[complaint] nobody answered".into());
    assert_eq!(texts(by_id(&open)), expected, "the open timeline, whole");
    assert!(
        conversations
            .iter()
            .all(|c| c["id"] != other.to_string() && c.get("customer").is_none()),
        "only the customer's own conversations, without repeating the customer"
    );
    assert_eq!(doc["complaints"][0]["text"], "[complaint] nobody answered");
    assert_eq!(doc["complaints"][0]["conversation_id"], open.to_string());
}

#[tokio::test]
async fn only_an_admin_exports_and_an_unknown_customer_is_404() {
    let app = spawn_app(test_settings(None, &[])).await;
    let receipt = app
        .ingest(&message("chat", None, "visitor-9", "hello there"))
        .await;
    let customer = receipt["customer_id"].as_str().expect("customer");
    let path = format!("/v1/customers/{customer}/export");
    let ok = app.admin_get(&path).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["content-type"], "application/json");
    let doc: Value = ok.json().await.expect("json");
    assert_eq!(
        doc["conversations"][0]["messages"][0]["text"],
        "hello there"
    );

    app.agent_online("ann").await;
    let agent = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(agent_jwt("ann"))
        .send()
        .await
        .expect("sent");
    assert_eq!(agent.status(), 403, "an agent never exports");
    let missing = app.admin_get("/v1/customers/c_nobody/export").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}
