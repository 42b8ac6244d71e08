//! Redis losing data under running replicas (a failover that missed writes, a restart
//! without persistence): no process may keep believing in customers Redis forgot.

use serde_json::Value;

use crate::helpers::{message, spawn_app, test_settings, RedisServer};

fn flushall(redis: &RedisServer) {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut conn = client.get_connection().expect("connection");
    redis::cmd("FLUSHALL")
        .query::<()>(&mut conn)
        .expect("flushall");
}

#[tokio::test]
async fn after_redis_loses_its_data_two_replicas_agree_on_one_customer_per_identity() {
    let redis = RedisServer::start();
    let one = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let two = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let senders = ["+14155550100", "+14155550101", "+14155550102"];
    // Both replicas learn every sender (their identity caches fill).
    for from in senders {
        for app in [&one, &two] {
            app.ingest(&message("phone", Some("sms"), from, "before"))
                .await;
        }
    }
    flushall(&redis);
    let mut receipts = Vec::new();
    for from in senders {
        for app in [&one, &two] {
            let r: Value = app
                .ingest(&message("phone", Some("sms"), from, "after"))
                .await;
            receipts.push((from, r["customer_id"].clone()));
        }
    }
    for (from, customer) in receipts {
        for app in [&one, &two] {
            let found = app
                .admin_get(&format!("/v1/customers?identity=phone:{from}"))
                .await;
            assert_eq!(found.status(), 200, "{from} is known again");
            let found: Value = found.json().await.expect("json");
            assert_eq!(
                found["id"], customer,
                "{from}: one customer on both replicas"
            );
        }
    }
}

fn delete_identity_keys(redis: &RedisServer) {
    let client = redis::Client::open(redis.url()).expect("client");
    let mut conn = client.get_connection().expect("connection");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("sb:id:*")
        .query(&mut conn)
        .expect("keys");
    assert!(!keys.is_empty(), "identity keys to lose");
    redis::cmd("DEL")
        .arg(&keys)
        .query::<()>(&mut conn)
        .expect("del");
}

/// A failover that lost one slot's writes (the identity key) but kept another's (the
/// customer): a replica that never met the sender starts a stranger meanwhile, and the
/// replica that remembers the customer writes the key back to them and merges the
/// stranger in once its cache entry is due.
#[tokio::test]
async fn an_identity_key_lost_while_its_customer_survived_goes_back_to_that_customer() {
    let redis = RedisServer::start();
    let short = [("SWITCHBOARD_REDIS__IDENTITY_CACHE_TTL_MS", "300")];
    let one = spawn_app(test_settings(Some(&redis.url()), &short)).await;
    let two = spawn_app(test_settings(Some(&redis.url()), &short)).await;
    let from = "+4915123456789";
    let sms = |text: &str| message("phone", Some("sms"), from, text);
    let original = one.ingest(&sms("before the failover")).await["customer_id"].clone();
    delete_identity_keys(&redis);
    let stranger = two.ingest(&sms("while the key was lost")).await["customer_id"].clone();
    assert_ne!(stranger, original, "the lost key let a stranger start");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let after = one.ingest(&sms("after")).await;
    assert_eq!(after["customer_id"], original, "the remembered customer");
    for app in [&one, &two] {
        let found = app
            .admin_json(&format!("/v1/customers?identity=phone:{from}"))
            .await;
        assert_eq!(
            found["id"], original,
            "the identity is the original's again"
        );
    }
    let conv = one
        .admin_json(&format!(
            "/v1/conversations/{}",
            after["conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    let mut texts: Vec<&str> = conv["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["text"].as_str())
        .collect();
    texts.sort_unstable();
    assert_eq!(
        texts,
        ["after", "before the failover", "while the key was lost"],
        "the stranger's message joined the customer's conversation"
    );
}
