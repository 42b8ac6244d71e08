//! The HTTP service on a real Redis Cluster (3 masters + 3 replicas): the contract's
//! flows end to end, where every script and pipeline must keep its keys in one slot.

use serde_json::{json, Value};

use crate::helpers::{cluster_nodes, message, spawn_app, test_settings, TestApp, ADAPTER_TOKEN};

async fn app() -> TestApp {
    spawn_app(test_settings(Some(cluster_nodes()), &[])).await
}

#[tokio::test]
async fn on_a_cluster_one_person_on_three_channels_is_one_conversation_with_their_agent() {
    let app = app().await;
    app.agent_online("a").await;
    let first = app
        .ingest(&message("phone", Some("sms"), "+1 415 555 0100", "hi"))
        .await;
    assert_eq!(first["route"]["reason"], "new_personal_agent", "{first}");
    let mut email = message("email", None, "Jane@Example.com", "order?");
    email["identities"] = json!([{ "kind": "phone", "value": "(415) 555-0100" }]);
    let second = app.ingest(&email).await;
    let third = app
        .ingest(&message(
            "social",
            Some("whatsapp"),
            "14155550100",
            "still there?",
        ))
        .await;
    for r in [&second, &third] {
        assert_eq!(r["conversation_id"], first["conversation_id"]);
        assert_eq!(r["route"]["agent_id"], "a");
    }
    let retry = app.post_message(&email).await;
    let retry: Value = retry.json().await.expect("json");
    assert_eq!(retry["duplicate"], true);
    let conv = app
        .admin_json(&format!(
            "/v1/conversations/{}",
            first["conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(conv["messages"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn on_a_cluster_a_queue_drains_when_capacity_frees_and_gauges_are_read() {
    let app = app().await;
    app.admin_put(
        "/v1/agents/a",
        &json!({ "name": "A", "capacity": { "chat": 1 } }),
    )
    .await;
    app.admin_put("/v1/agents/a/presence", &json!({ "presence": "online" }))
        .await;
    let held = app.ingest(&message("chat", None, "v-1", "hi")).await;
    let waiting = app.ingest(&message("chat", None, "v-2", "hi")).await;
    assert_eq!(waiting["route"]["decision"], "queued", "{waiting}");
    let conv = held["conversation_id"].as_str().unwrap_or_default();
    let resolved = app
        .admin_post(&format!("/v1/conversations/{conv}/resolve"), &json!({}))
        .await;
    assert_eq!(resolved.status(), 200);
    let next = waiting["conversation_id"].as_str().unwrap_or_default();
    let view = app.admin_json(&format!("/v1/conversations/{next}")).await;
    assert_eq!(
        view["agent_id"], "a",
        "the freed unit took the waiting chat"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("switchboard_queue_depth{queue=\"chat\"} 0"),
        "{metrics}"
    );
    let calls = app
        .client
        .post(format!("{}/v1/calls", app.address))
        .bearer_auth(ADAPTER_TOKEN)
        .json(&json!({ "external_id": "CA-c1", "from": "anonymous", "to": "+18005550000" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(calls.status(), 200, "call records and rate limits work too");
}

#[tokio::test]
async fn after_a_promoted_replica_with_an_empty_script_cache_requests_still_succeed() {
    let app = app().await;
    app.agent_online("a").await;
    app.ingest(&message("chat", None, "v-noscript", "before"))
        .await;
    // A replica promoted by a failover has no scripts cached: every node forgets them.
    for node in cluster_nodes().split(',') {
        let client = redis::Client::open(node).expect("node url");
        let mut conn = client.get_connection().expect("node");
        redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query::<()>(&mut conn)
            .expect("script flush");
    }
    let after = app
        .ingest(&message("chat", None, "v-noscript", "after"))
        .await;
    assert_eq!(after["route"]["agent_id"], "a", "{after}");
    let agent = app.admin_json("/v1/agents/a").await;
    assert_eq!(agent["load"]["chat"], 1, "routing scripts reloaded too");
}
