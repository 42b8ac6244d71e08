//! Redacting one entry (CONTRACT "Redact one entry"), on the embedded store and on a real
//! Redis, each with a real archive: an e-mail's text and subject, an agent's reply still
//! waiting in the outbox, and an entry of a conversation already archived become
//! `[redacted]` wherever they are stored; nothing else changes; the agent's event replay,
//! the audit trail and the metric agree.

use serde_json::{json, Value};

use crate::helpers::{
    agent_jwt, message, spawn_app, test_settings, ApiClient, PostgresServer, RedisServer,
};
use crate::traces::{archive_text, contains, event_replay, redis_bytes, wait_archived};

#[tokio::test]
async fn on_the_embedded_store() {
    redacted_everywhere(false).await;
}

#[tokio::test]
async fn on_redis() {
    redacted_everywhere(true).await;
}

async fn redacted_everywhere(on_redis: bool) {
    let pg = PostgresServer::start();
    let redis = on_redis.then(RedisServer::start);
    let url = pg.url();
    let env = [
        ("SWITCHBOARD_ARCHIVE__URL", url.as_str()),
        ("SWITCHBOARD_RETENTION__ARCHIVE_AFTER_SECS", "1"),
        ("SWITCHBOARD_INGEST__REOPEN_WINDOW_SECS", "1"),
        // An adapter that never answers: the reply waits in the outbox.
        ("SWITCHBOARD_OUTBOUND_URL", "http://127.0.0.1:9/send"),
        ("SWITCHBOARD_OUTBOUND_SECRET", "outbound-secret"),
        ("SWITCHBOARD_OUTBOUND__FIRST_BACKOFF_MS", "60000"),
    ];
    let app = spawn_app(test_settings(
        redis.as_ref().map(RedisServer::url).as_deref(),
        &env,
    ))
    .await;
    app.agent_online("ann").await;
    let marker = |what: &str| format!("{what}-{}", uuid::Uuid::new_v4().simple());
    let (subject, text, reply_text, old_text) = (
        marker("subject"),
        marker("text"),
        marker("reply"),
        marker("old"),
    );

    // A conversation that will be archived, with an entry to redact there.
    let old = app
        .ingest(&message("chat", None, "visitor-old", &old_text))
        .await;
    let old_conv = old["conversation_id"].as_str().expect("id").to_owned();
    let old_entry = first_entry(&app, &old_conv).await;
    let resolved = app
        .admin_post(&format!("/v1/conversations/{old_conv}/resolve"), &json!({}))
        .await;
    assert_eq!(resolved.status(), 200);
    wait_archived(&app, &old_conv).await;

    // An open e-mail conversation with a subject, and a reply waiting in the outbox.
    let mut mail = message("email", None, "c@example.com", &text);
    mail["subject"] = json!(subject);
    let receipt = app.ingest(&mail).await;
    let conv = receipt["conversation_id"].as_str().expect("id").to_owned();
    app.ingest(&message("email", None, "c@example.com", "this one stays"))
        .await;
    let mail_entry = first_entry(&app, &conv).await;
    let reply = app
        .admin_post(
            &format!("/v1/conversations/{conv}/messages"),
            &json!({ "text": reply_text }),
        )
        .await;
    assert_eq!(reply.status(), 201);
    let reply: Value = reply.json().await.expect("json");
    assert_eq!(reply["delivery"], "pending");
    let reply_entry = reply["id"].as_str().expect("id").to_owned();

    for (conversation, entry) in [
        (&conv, &mail_entry),
        (&conv, &reply_entry),
        (&old_conv, &old_entry),
    ] {
        let path = format!("/v1/conversations/{conversation}/messages/{entry}/redact");
        let redacted = app.admin_post(&path, &json!({})).await;
        assert_eq!(redacted.status(), 200, "{path}");
        let redacted: Value = redacted.json().await.expect("json");
        assert_eq!(redacted["text"], "[redacted]");
        assert_eq!(redacted["id"], entry.as_str());
        let again = app.admin_post(&path, &json!({})).await;
        assert_eq!(again.status(), 200, "doing it twice is no error");
    }
    let view = app.admin_json(&format!("/v1/conversations/{conv}")).await;
    let texts: Vec<(&str, Option<&str>)> = view["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            (
                m["text"].as_str().unwrap_or_default(),
                m["subject"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        texts,
        vec![
            ("[redacted]", Some("[redacted]")),
            ("this one stays", None),
            ("[redacted]", None)
        ],
        "only the redacted entries changed"
    );
    let archived = app
        .admin_json(&format!("/v1/conversations/{old_conv}"))
        .await;
    assert_eq!(archived["archived"], true);
    assert_eq!(archived["messages"][0]["text"], "[redacted]");

    let missing = format!(
        "/v1/conversations/{conv}/messages/{}/redact",
        "0".repeat(32)
    );
    assert_eq!(app.admin_post(&missing, &json!({})).await.status(), 404);
    let bad = format!("/v1/conversations/{conv}/messages/nope/redact");
    assert_eq!(app.admin_post(&bad, &json!({})).await.status(), 404);
    let by_agent = app
        .client
        .post(format!(
            "{}/v1/conversations/{conv}/messages/{mail_entry}/redact",
            app.address
        ))
        .bearer_auth(agent_jwt("ann"))
        .send()
        .await
        .expect("sent");
    assert_eq!(by_agent.status(), 403);

    // Nowhere else either: Redis, the archive, the agent's replay.
    let gone = [&subject, &text, &reply_text, &old_text];
    let replayed = event_replay(&app, "ann").await;
    assert!(
        replayed.contains("conversation"),
        "the stream replayed nothing"
    );
    let mut places: Vec<(&str, Vec<u8>)> = vec![
        ("the archive", archive_text(&url).await.into_bytes()),
        (
            "the event replay",
            event_replay(&app, "ann").await.into_bytes(),
        ),
    ];
    if let Some(redis) = &redis {
        places.push(("Redis", redis_bytes(&mut redis.connection())));
    }
    for (place, bytes) in &places {
        for marker in gone {
            assert!(!contains(bytes, marker), "{marker} still in {place}");
        }
    }
    let audit = app.admin_json("/v1/audit?limit=1000").await;
    let redactions = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "message.redact")
        .count();
    assert_eq!(redactions, 6, "each request is audited: {audit}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("switchboard_redactions_total{kind=\"message\"} 3"),
        "three entries redacted, a repeat counts nothing"
    );
}

async fn first_entry(app: &ApiClient, conv: &str) -> String {
    let view = app.admin_json(&format!("/v1/conversations/{conv}")).await;
    view["messages"][0]["id"]
        .as_str()
        .expect("entry")
        .to_owned()
}

on_every_store!(a_merged_conversations_entry_is_redacted_where_it_is_kept);

/// On the embedded store, one Redis and the cluster (where a merged conversation lives
/// in another customer's slot): an entry of the conversation merged in is redacted in
/// that conversation's own list, then, once everything moved to the archive, another
/// entry in the archive.
async fn a_merged_conversations_entry_is_redacted_where_it_is_kept(kind: &str) {
    use chrono::Duration;
    use switchboard::app::archiving;

    let pg = PostgresServer::start();
    let (h, app) = crate::archiving::archiving_app(kind, &pg).await;
    let (open, other) = crate::archiving::merged_pair(&h.store).await;
    let texts = |v: &switchboard::domain::ConversationView| -> Vec<String> {
        v.messages.iter().map(|m| m.text.clone()).collect()
    };
    let before = h
        .store
        .conversation(&open)
        .await
        .expect("read")
        .expect("found");
    // The merged-in conversation's own first entry, kept in its customer's slot.
    let merged_in = h
        .store
        .conversation(&other)
        .await
        .expect("read")
        .expect("found");
    let merged_entry = merged_in.messages[0].id.clone();
    assert!(before.messages.iter().any(|m| m.id == merged_entry));
    assert!(h
        .store
        .redact_message(&open, &merged_entry)
        .await
        .expect("redact"));
    let after = h
        .store
        .conversation(&open)
        .await
        .expect("read")
        .expect("found");
    let changed: Vec<usize> = (0..3)
        .filter(|&i| texts(&before)[i] != texts(&after)[i])
        .collect();
    assert_eq!(changed.len(), 1, "{:?}", texts(&after));
    assert_eq!(after.messages[changed[0]].id, merged_entry);
    assert_eq!(after.messages[changed[0]].text, "[redacted]");

    let resolved_at = crate::helpers::t0() + Duration::hours(1);
    h.store.resolve(&open, resolved_at).await.expect("resolve");
    let moved = archiving::sweep(&app, resolved_at + Duration::seconds(61)).await;
    assert!(moved.expect("sweep") >= 1);
    let last = after.messages[2].id.clone();
    assert!(h
        .store
        .redact_message(&open, &last)
        .await
        .expect("redact archived"));
    let archived = h
        .store
        .conversation(&open)
        .await
        .expect("read")
        .expect("found");
    assert!(archived.archived);
    let redacted: Vec<&str> = archived.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        redacted.iter().filter(|t| **t == "[redacted]").count(),
        2,
        "{redacted:?}"
    );
    let nobody = switchboard::domain::MessageId::parse(&"0".repeat(32)).expect("id");
    assert!(!h
        .store
        .redact_message(&open, &nobody)
        .await
        .expect("redact"));
}
