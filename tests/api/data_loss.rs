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
