//! `POST /v1/messages` and the reads, through HTTP against a real Redis.

use serde_json::{json, Value};

use crate::helpers::{message, on_both_stores, spawn_app, test_settings, RedisServer};

#[tokio::test]
async fn the_contract_example_is_accepted_with_a_receipt() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let body = json!({ "channel": "email", "network": null,
        "external_id": "<provider message id>",
        "from": "Jane.Doe@Example.com",
        "identities": [{"kind": "phone", "value": "+1 415 555 0100"}],
        "display_name": "Jane Doe", "subject": "Order 1234",
        "text": "Where is my order?", "sent_at": "2026-11-22T10:00:00Z" });
    let receipt = app.ingest(&body).await;
    for field in ["message_id", "customer_id", "conversation_id"] {
        assert!(
            receipt[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}"
        );
    }
    assert_eq!(receipt["duplicate"], false);
    assert_eq!(receipt["route"]["decision"], "queued");
    assert_eq!(receipt["route"]["reason"], "no_agent_available");
    assert_eq!(receipt["route"]["agent_id"], Value::Null);

    let conv = app
        .admin_json(&format!(
            "/v1/conversations/{}",
            receipt["conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(conv["state"], "open");
    assert_eq!(conv["channels"], json!(["email"]));
    assert_eq!(conv["customer"]["display_name"], "Jane Doe");
    assert_eq!(conv["customer"]["tier"], "standard");
    let m = &conv["messages"][0];
    assert_eq!(m["direction"], "in");
    assert_eq!(m["from"], "jane.doe@example.com");
    assert_eq!(m["text"], "Where is my order?");
    assert_eq!(m["subject"], "Order 1234");
    assert_eq!(m["at"], "2026-11-22T10:00:00Z");

    let found = app
        .admin_json("/v1/customers?identity=phone:+14155550100")
        .await;
    assert_eq!(found["id"], receipt["customer_id"]);
    let by_id = app
        .admin_json(&format!(
            "/v1/customers/{}",
            receipt["customer_id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(by_id["open_conversation_id"], receipt["conversation_id"]);
    assert_eq!(by_id["personal_agent_id"], Value::Null);
}

#[tokio::test]
async fn a_retried_webhook_is_a_duplicate_even_after_a_restart() {
    let redis = RedisServer::start();
    let body = message("phone", Some("sms"), "+14155550100", "hello");
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let first = app.ingest(&body).await;
    let retry = app.ingest(&body).await;
    assert_eq!(retry["duplicate"], true);
    assert_eq!(retry["message_id"], first["message_id"]);
    assert_eq!(retry["conversation_id"], first["conversation_id"]);
    app.stop().await;

    let restarted = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let after = restarted.ingest(&body).await;
    assert_eq!(after["duplicate"], true);
    assert_eq!(after["message_id"], first["message_id"]);
    assert_eq!(after["customer_id"], first["customer_id"]);
    let conv = restarted
        .admin_json(&format!(
            "/v1/conversations/{}",
            first["conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(conv["messages"].as_array().map(Vec::len), Some(1));
}

/// A conversation's timeline entries written by earlier versions (JSON arrays, with
/// letters or with the enums spelt out) read back beside this version's, in time order.
#[tokio::test]
async fn timeline_entries_of_earlier_versions_still_read() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let first = app
        .ingest(&message("chat", None, "visitor-layouts", "new layout"))
        .await;
    let conversation = first["conversation_id"].as_str().unwrap_or_default();
    let customer = first["customer_id"].as_str().unwrap_or_default();
    let seq = conversation.rsplit('-').next().unwrap_or_default();
    let at = 1_764_000_000_123_456_789_i64;
    let letters = json!([
        "0192f3a0c1d27e4a8b9c0d1e2f3a4b5c",
        "icm",
        "visitor-layouts",
        "letters",
        null,
        "ext-letters",
        at,
        5
    ]);
    let spelt = json!([
        "0192f3a0c1d27e4a8b9c0d1e2f3a4b5d",
        "in",
        "chat",
        null,
        "visitor-layouts",
        "spelt",
        null,
        "ext-spelt",
        at,
        0,
        "message"
    ]);
    let _: () = redis::cmd("RPUSH")
        .arg(format!("sb:v:{{{customer}}}:{seq}:m"))
        .arg(letters.to_string())
        .arg(spelt.to_string())
        .query(&mut redis.connection())
        .expect("push the earlier versions' entries");
    let conv = app
        .admin_json(&format!("/v1/conversations/{conversation}"))
        .await;
    let texts: Vec<&str> = conv["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["text"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(texts, ["letters", "spelt", "new layout"], "{conv}");
    assert_eq!(conv["messages"][0]["external_id"], "ext-letters");
    assert_eq!(conv["messages"][1]["from"], "visitor-layouts");
}

/// Records written by earlier versions (under the plain idempotency key, the flat layout
/// with the full conversation id) still answer a retry during their lifetime.
#[tokio::test]
async fn a_retry_of_a_message_recorded_by_an_earlier_version_is_a_duplicate() {
    let redis = RedisServer::start();
    let body = message("chat", None, "visitor-legacy", "hello");
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let first = app.ingest(&body).await;
    let customer = first["customer_id"].as_str().unwrap_or_default();
    let dedup = format!("sb:c:{{{customer}}}:dx");
    let mut conn = redis.connection();
    let records: Vec<String> = redis::cmd("HKEYS")
        .arg(&dedup)
        .query(&mut conn)
        .expect("keys");
    let external_id = body["external_id"].as_str().unwrap_or_default();
    assert_eq!(records.len(), 1, "one record");
    assert_ne!(
        records[0],
        format!("chat:-:{external_id}"),
        "under the key's digest"
    );
    let expires = chrono::Utc::now().timestamp_millis() + 60_000;
    let legacy = format!(
        "{expires}|{}|{}|0|queued||chat|no_agent_available",
        first["message_id"].as_str().unwrap_or_default(),
        first["conversation_id"].as_str().unwrap_or_default()
    );
    // The customer as an earlier version left it: its record under the plain key, and
    // no `dxl` (which this version writes on every customer it creates).
    let _: () = redis::pipe()
        .del(&dedup)
        .hset(&dedup, format!("chat:-:{external_id}"), legacy)
        .hdel(format!("sb:c:{{{customer}}}"), "dxl")
        .query(&mut conn)
        .expect("write the earlier version's record");
    let retry = app.ingest(&body).await;
    assert_eq!(retry["duplicate"], true);
    assert_eq!(retry["message_id"], first["message_id"]);
    assert_eq!(retry["conversation_id"], first["conversation_id"]);
}

/// A customer's idempotency records expire with their hash, which outlives each record
/// (`ttl` from its write) by pushing its expiry only once per slack (`ttl / 64`) of the
/// customer's writing: no `PEXPIRE` per message.
#[tokio::test]
async fn the_idempotency_records_outlive_their_ttl_with_one_expiry_push_per_slack() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let first = app
        .ingest(&message("chat", None, "visitor-ttl", "one"))
        .await;
    let customer = first["customer_id"].as_str().unwrap_or_default().to_owned();
    let (hash, records) = (
        format!("sb:c:{{{customer}}}"),
        format!("sb:c:{{{customer}}}:dx"),
    );
    let mut conn = redis.connection();
    let mut pttl = || -> i64 {
        redis::cmd("PTTL")
            .arg(&records)
            .query(&mut conn)
            .expect("pttl")
    };
    let ttl: i64 = 7 * 24 * 3_600_000;
    let lifetime = ttl + ttl / 64;
    let pushed = pttl();
    assert!(pushed > ttl && pushed <= lifetime, "{pushed}");
    std::thread::sleep(std::time::Duration::from_millis(20));
    app.ingest(&message("chat", None, "visitor-ttl", "two"))
        .await;
    assert!(
        pttl() < pushed,
        "a second message within the slack pushes nothing"
    );
    // Once the slack has passed, the next message pushes the expiry again.
    let mut conn2 = redis.connection();
    let _: () = redis::cmd("HSET")
        .arg(&hash)
        .arg("dxt")
        .arg(1)
        .query(&mut conn2)
        .expect("age the push");
    let before = pttl();
    app.ingest(&message("chat", None, "visitor-ttl", "three"))
        .await;
    let again = pttl();
    assert!(again > before && again > ttl, "{before} -> {again}");
}

#[tokio::test]
async fn one_person_on_every_channel_is_one_customer_with_one_conversation() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let first = app
        .ingest(&message(
            "phone",
            Some("voice"),
            "+1 (415) 555-0100",
            "calling",
        ))
        .await;
    let mut chat = message("chat", None, "visitor-7", "logged in");
    chat["identities"] = json!([{ "kind": "email", "value": "Jane.Doe@Example.com" }]);
    let bodies = [
        message("phone", Some("sms"), "4155550100", "sms, national"),
        message("phone", Some("sms"), "415-555-0100", "dashes"),
        message("phone", Some("sms"), "(415) 555 0100", "brackets"),
        message("social", Some("whatsapp"), "14155550100", "whatsapp id"),
        {
            let mut m = message("email", None, "jane.doe@example.com", "mail");
            m["identities"] = json!([{ "kind": "phone", "value": "+14155550100" }]);
            m
        },
        message("email", None, "JANE.DOE@EXAMPLE.COM", "shouting"),
        chat,
    ];
    for body in &bodies {
        let r = app.ingest(body).await;
        assert_eq!(r["customer_id"], first["customer_id"], "{body}");
        assert_eq!(r["conversation_id"], first["conversation_id"], "{body}");
    }
    let conv = app
        .admin_json(&format!(
            "/v1/conversations/{}",
            first["conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    let texts: Vec<&str> = conv["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts.len(), 8);
    assert_eq!(texts[0], "calling");
    assert_eq!(texts[7], "logged in", "in the order they happened");
    let mut channels: Vec<&str> = conv["channels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    channels.sort_unstable();
    assert_eq!(channels, ["chat", "email", "phone", "social"]);
}

#[tokio::test]
async fn two_customers_proven_to_be_one_person_merge() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let by_mail = app
        .ingest(&message("email", None, "sam@example.com", "mail first"))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let by_phone = app
        .ingest(&message("phone", Some("sms"), "+14155550142", "sms second"))
        .await;
    assert_ne!(by_mail["customer_id"], by_phone["customer_id"]);

    let mut proof = message("chat", None, "visitor-sam", "I'm both");
    proof["identities"] = json!([{ "kind": "email", "value": "sam@example.com" }, { "kind": "phone", "value": "4155550142" }]);
    let merged = app.ingest(&proof).await;
    assert_eq!(merged["customer_id"], by_mail["customer_id"]);
    assert_eq!(merged["conversation_id"], by_mail["conversation_id"]);

    let found = app
        .admin_json("/v1/customers?identity=phone:4155550142")
        .await;
    assert_eq!(found["id"], by_mail["customer_id"]);
    let conv = app
        .admin_json(&format!(
            "/v1/conversations/{}",
            by_mail["conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    let texts: Vec<&str> = conv["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["mail first", "sms second", "I'm both"]);
}

#[tokio::test]
async fn resolving_then_writing_again_reopens_the_conversation() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let r = app.ingest(&message("chat", None, "v-re", "help")).await;
    let conv_path = format!(
        "/v1/conversations/{}",
        r["conversation_id"].as_str().unwrap_or_default()
    );
    let resolved = app
        .admin_post(&format!("{conv_path}/resolve"), &json!({ "csat": 5 }))
        .await;
    assert_eq!(resolved.status(), 200);
    let again = app
        .admin_post(&format!("{conv_path}/resolve"), &json!({}))
        .await;
    assert_eq!(again.status(), 409);
    let back = app.ingest(&message("chat", None, "v-re", "me again")).await;
    assert_eq!(back["conversation_id"], r["conversation_id"]);
    let conv = app.admin_json(&conv_path).await;
    assert_eq!(conv["state"], "open");
    assert_eq!(conv["repeat_contacts"], 1);
}

/// Later messages into the conversation an agent holds take the ingest script's shortest
/// path (#33), and answer what its general path answers: assigned to that agent, no
/// repeat contact, the retry a duplicate of the same route, and every message stored.
#[tokio::test]
async fn later_messages_into_a_held_conversation_answer_as_assigned_and_retry_alike() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    app.agent_online("agent-held").await;
    let first = app.ingest(&message("chat", None, "v-held", "hi")).await;
    assert_eq!(first["route"]["agent_id"], "agent-held", "{first}");
    let body = message("chat", None, "v-held", "still there?");
    let later = app.ingest(&body).await;
    assert_eq!(later["conversation_id"], first["conversation_id"]);
    assert_eq!(later["duplicate"], false);
    assert_eq!(later["route"]["reason"], "already_assigned", "{later}");
    assert_eq!(later["route"]["agent_id"], "agent-held");
    assert_eq!(later.get("repeat_contact"), None, "{later}");
    let retry = app.ingest(&body).await;
    assert_eq!(retry["duplicate"], true);
    assert_eq!(retry["message_id"], later["message_id"]);
    assert_eq!(retry["route"], later["route"]);
    assert_eq!(retry.get("repeat_contact"), None, "{retry}");
    let conv = app
        .admin_json(&format!(
            "/v1/conversations/{}",
            first["conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(conv["messages"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn the_embedded_store_serves_the_same_api() {
    let app = spawn_app(test_settings(None, &[])).await;
    let first = app.ingest(&message("email", None, "e@x.io", "one")).await;
    let second = app.ingest(&message("email", None, "E@X.IO", "two")).await;
    assert_eq!(first["conversation_id"], second["conversation_id"]);
    let found = app.admin_json("/v1/customers?identity=email:e@x.io").await;
    assert_eq!(found["id"], first["customer_id"]);
}

#[tokio::test]
async fn an_admin_sets_a_customers_tier() {
    let app = spawn_app(test_settings(None, &[])).await;
    let r = app.ingest(&message("email", None, "t@x.io", "hi")).await;
    let path = format!(
        "/v1/customers/{}",
        r["customer_id"].as_str().unwrap_or_default()
    );
    let patched = app
        .client
        .patch(format!("{}{path}", app.address))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .json(&json!({ "tier": "VIP" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(patched.status(), 200);
    assert_eq!(app.admin_json(&path).await["tier"], "vip");
    let bad = app
        .client
        .patch(format!("{}{path}", app.address))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .json(&json!({ "tier": "v i p" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status(), 400);
}

/// Found by schemathesis: a provider's `sent_at` in year 1 was answered 500 on Redis
/// (its stored timeline entry kept times as nanoseconds, which end in 1677 and 2262).
#[tokio::test]
async fn a_sent_at_of_any_year_is_stored_and_read_back_as_sent() {
    on_both_stores(|app| async move {
        for (n, sent_at) in ["0001-01-02T03:04:05Z", "1600-01-01T00:00:00.123456789Z"]
            .into_iter()
            .enumerate()
        {
            let mut body = message("chat", None, &format!("visitor-old-{n}"), "hi");
            body["sent_at"] = json!(sent_at);
            let receipt = app.ingest(&body).await;
            let conv = receipt["conversation_id"].as_str().unwrap_or_default();
            let read = app.admin_json(&format!("/v1/conversations/{conv}")).await;
            let at: chrono::DateTime<chrono::Utc> = read["messages"][0]["at"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("{read}"));
            assert_eq!(
                at,
                sent_at
                    .parse::<chrono::DateTime<chrono::Utc>>()
                    .expect("time")
            );
        }
    })
    .await;
}
