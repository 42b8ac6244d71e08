//! The agent API over HTTP against a real Redis: profiles, presence with agent JWTs,
//! who reaches which conversation, and routing through several replicas.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{message, spawn_app, test_settings, RedisServer, TestApp, ADAPTER_TOKEN};

async fn agent_online(app: &TestApp, agent: &str, chat: u32) {
    let r = app
        .admin_put(
            &format!("/v1/agents/{agent}"),
            &json!({ "name": agent, "capacity": { "chat": chat } }),
        )
        .await;
    assert!(
        r.status() == 201 || r.status() == 200,
        "put agent: {}",
        r.status()
    );
    let r = app
        .agent_put(
            agent,
            &format!("/v1/agents/{agent}/presence"),
            &json!({ "presence": "online" }),
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn agents_are_created_updated_and_read() {
    let app = spawn_app(test_settings(None, &[])).await;
    let created = app
        .admin_put(
            "/v1/agents/a-7",
            &json!({ "name": "Ann", "teams": ["billing"], "capacity": { "chat": 4 },
                     "skills": {"refunds": 3}, "languages": ["en", "de-AT"] }),
        )
        .await;
    assert_eq!(created.status(), 201);
    let view: Value = created.json().await.expect("json");
    assert_eq!(view["presence"], "offline");
    assert_eq!(view["skills"], json!({"refunds": 3}));
    assert_eq!(view["languages"], json!(["en", "de"]), "primary subtags");
    assert_eq!(
        view["capacity"],
        json!({ "phone": 1, "email": 5, "chat": 4, "social": 3 })
    );
    let updated = app
        .admin_put("/v1/agents/a-7", &json!({ "name": "Ann B." }))
        .await;
    assert_eq!(updated.status(), 200);
    let me = app.agent_get("a-7", "/v1/agents/a-7").await;
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<Value>().await.expect("json")["name"], "Ann B.");
    let list = app.admin_json("/v1/agents").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    // Agents stored before levels existed named their skills in a list: level 1 each.
    let legacy = app
        .admin_put(
            "/v1/agents/a-9",
            &json!({ "name": "Old", "skills": ["refunds"] }),
        )
        .await;
    assert_eq!(
        legacy.json::<Value>().await.expect("json")["skills"],
        json!({"refunds": 1})
    );
    for (why, body) in [
        ("no name", json!({ "teams": [] })),
        ("unknown field", json!({ "name": "x", "skill": 1 })),
        (
            "capacity too large",
            json!({ "name": "x", "capacity": { "chat": 1000 } }),
        ),
        (
            "skill level 0",
            json!({ "name": "x", "skills": { "billing": 0 } }),
        ),
        (
            "skill level 6",
            json!({ "name": "x", "skills": { "billing": 6 } }),
        ),
        (
            "not a language",
            json!({ "name": "x", "languages": ["Spanish"] }),
        ),
    ] {
        let r = app.admin_put("/v1/agents/a-8", &body).await;
        assert_eq!(r.status(), 400, "{why}");
    }
    assert_eq!(
        app.admin_put("/v1/agents/bad%20id", &json!({ "name": "x" }))
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn an_agent_acts_only_as_itself() {
    let app = spawn_app(test_settings(None, &[])).await;
    for agent in ["a", "b"] {
        app.admin_put(&format!("/v1/agents/{agent}"), &json!({ "name": agent }))
            .await;
    }
    let r = app
        .agent_put(
            "a",
            "/v1/agents/b/presence",
            &json!({ "presence": "online" }),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.agent_get("a", "/v1/agents/b").await.status(), 403);
    assert_eq!(
        app.agent_get("a", "/v1/agents").await.status(),
        403,
        "listing is for admins"
    );
    let forged = app
        .client
        .get(format!("{}/v1/agents/a", app.address))
        .bearer_auth("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.bad")
        .send()
        .await
        .expect("sent");
    assert_eq!(forged.status(), 401);
    let r = app
        .agent_put("a", "/v1/agents/a/presence", &json!({ "presence": "busy" }))
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn one_agent_cannot_read_another_agents_conversation() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    agent_online(&app, "a", 3).await;
    let receipt = app.ingest(&message("chat", None, "v-1", "hello")).await;
    assert_eq!(receipt["route"]["agent_id"], "a");
    agent_online(&app, "b", 3).await;
    let path = format!(
        "/v1/conversations/{}",
        receipt["conversation_id"].as_str().unwrap_or_default()
    );
    assert_eq!(app.agent_get("a", &path).await.status(), 200);
    assert_eq!(app.agent_get("b", &path).await.status(), 404);
    let by_b = app
        .client
        .post(format!("{}{path}/resolve", app.address))
        .bearer_auth(crate::helpers::agent_jwt("b"))
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_eq!(by_b.status(), 404, "b cannot resolve a's conversation");
}

#[tokio::test]
async fn a_burst_through_two_replicas_fills_the_free_slots_and_resolving_drains_the_queue() {
    let redis = RedisServer::start();
    let one = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let two = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    agent_online(&one, "a", 2).await;
    agent_online(&two, "b", 2).await;
    // Twelve new customers at once, through both replicas: each gets a personal agent;
    // four are assigned, the rest wait for their (full) agent.
    let sends = (0..12).map(|i| {
        let app = if i % 2 == 0 { &one } else { &two };
        let body = message("chat", None, &format!("burst-{i}"), "hi");
        async move {
            let r = app
                .client
                .post(format!("{}/v1/messages", app.address))
                .bearer_auth(ADAPTER_TOKEN)
                .json(&body)
                .send()
                .await
                .expect("sent");
            assert_eq!(r.status(), 202);
            r.json::<Value>().await.expect("json")
        }
    });
    let receipts = join_all(sends).await;
    let assigned = receipts
        .iter()
        .filter(|r| r["route"]["decision"] == "assigned")
        .count();
    assert_eq!(assigned, 4, "2 agents x 2 chat slots: {receipts:?}");
    let a = one.admin_json("/v1/agents/a").await;
    let b = two.admin_json("/v1/agents/b").await;
    assert_eq!(
        (a["load"]["chat"].as_u64(), b["load"]["chat"].as_u64()),
        (Some(2), Some(2))
    );

    // The waiting customers wait for their own agent; resolving one of a's conversations
    // gives the freed unit to the customer who has waited longest for a, within a second.
    let held_by_a: Vec<&Value> = receipts
        .iter()
        .filter(|r| r["route"]["agent_id"] == "a")
        .collect();
    let conv = held_by_a[0]["conversation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let resolved = one
        .admin_post(&format!("/v1/conversations/{conv}/resolve"), &json!({}))
        .await;
    assert_eq!(resolved.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let a = two.admin_json("/v1/agents/a").await;
        if a["load"]["chat"] == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed slot was not taken within a second: {a}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_agent_replies_and_transfers_with_a_note() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    agent_online(&app, "a", 3).await;
    let mut body = message(
        "social",
        Some("whatsapp"),
        "14155550100",
        "where is my parcel?",
    );
    body["identities"] = json!([]);
    let receipt = app.ingest(&body).await;
    let conv = receipt["conversation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let post = |agent: &'static str, path: String, body: Value| {
        let client = app.client.clone();
        let url = format!("{}{path}", app.address);
        async move {
            client
                .post(url)
                .bearer_auth(crate::helpers::agent_jwt(agent))
                .json(&body)
                .send()
                .await
                .expect("sent")
        }
    };
    let reply = post(
        "a",
        format!("/v1/conversations/{conv}/messages"),
        json!({ "text": "On its way!" }),
    )
    .await;
    assert_eq!(reply.status(), 201);
    let stored: Value = reply.json().await.expect("json");
    assert_eq!(
        (
            stored["direction"].as_str(),
            stored["channel"].as_str(),
            stored["network"].as_str()
        ),
        (Some("out"), Some("social"), Some("whatsapp")),
        "the customer's last channel"
    );
    assert_eq!(stored["from"], "a");

    let bad = post(
        "a",
        format!("/v1/conversations/{conv}/transfer"),
        json!({ "to_agent": "b", "to_queue": "social" }),
    )
    .await;
    assert_eq!(bad.status(), 400);
    let busy = post(
        "a",
        format!("/v1/conversations/{conv}/transfer"),
        json!({ "to_agent": "b" }),
    )
    .await;
    assert_eq!(busy.status(), 409, "b is not even an agent");
    agent_online(&app, "b", 3).await;
    let moved = post(
        "a",
        format!("/v1/conversations/{conv}/transfer"),
        json!({ "to_agent": "b", "note": "VIP, be quick" }),
    )
    .await;
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.expect("json");
    assert_eq!(
        (
            moved["route"]["agent_id"].as_str(),
            moved["transfers"].as_u64()
        ),
        (Some("b"), Some(1))
    );
    assert_eq!(
        post(
            "a",
            format!("/v1/conversations/{conv}/messages"),
            json!({ "text": "still me?" })
        )
        .await
        .status(),
        404,
        "a no longer holds it"
    );

    let seen: Value = app
        .agent_get("b", &format!("/v1/conversations/{conv}"))
        .await
        .json()
        .await
        .expect("json");
    let timeline: Vec<(&str, &str)> = seen["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["text"].as_str().unwrap_or(""),
                m["kind"].as_str().unwrap_or("message"),
            )
        })
        .collect();
    assert_eq!(
        timeline,
        [
            ("where is my parcel?", "message"),
            ("On its way!", "message"),
            ("VIP, be quick", "note")
        ],
        "b sees the whole timeline and the note"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"switchboard_messages_total{channel="social",direction="out"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"switchboard_first_response_seconds_count{channel="social"} 1"#));
}
