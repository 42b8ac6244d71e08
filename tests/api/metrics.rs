//! Metrics driven by real traffic and scraped from `/metrics`: contract metrics from the
//! start, deployment-wide gauges equal on every replica, waits, first responses and SLA
//! breaches observed when they happen.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{message, spawn_app, test_settings, RedisServer};

const CONTRACT: [(&str, &str); 10] = [
    ("switchboard_wait_seconds", "histogram"),
    ("switchboard_first_response_seconds", "histogram"),
    ("switchboard_ivr_seconds", "histogram"),
    ("switchboard_queue_depth", "gauge"),
    ("switchboard_oldest_wait_seconds", "gauge"),
    ("switchboard_agents", "gauge"),
    ("switchboard_messages_total", "counter"),
    ("switchboard_routing_decisions_total", "counter"),
    ("switchboard_ivr_bypass_total", "counter"),
    ("switchboard_sla_breaches_total", "counter"),
];

/// The value of one sample, e.g. `switchboard_queue_depth{queue="chat"}`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn every_contract_metric_is_exported_from_the_start() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let text = app.metrics().await;
    for (name, kind) in CONTRACT {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}")),
            "{name} {kind} missing:\n{text}"
        );
    }
    assert_eq!(
        sample(&text, r#"switchboard_sla_breaches_total{channel="phone"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, r#"switchboard_queue_depth{queue="supervisor"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, r#"switchboard_agents{status="online"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "switchboard_placement_mismatches_total"),
        Some(0.0),
        "the Lua/Rust placement cross-check is exported"
    );
}

#[tokio::test]
async fn two_replicas_report_the_same_queue_depth_and_oldest_wait() {
    let redis = RedisServer::start();
    let one = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let two = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    for i in 0..3 {
        one.ingest(&message("chat", None, &format!("w-{i}"), "anyone?"))
            .await;
    }
    two.ingest(&message("email", None, "w@x.io", "hello")).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (a, b) = (one.metrics().await, two.metrics().await);
    for queue in ["chat", "email", "phone"] {
        let series = format!(r#"switchboard_queue_depth{{queue="{queue}"}}"#);
        assert_eq!(sample(&a, &series), sample(&b, &series), "{series}");
    }
    assert_eq!(
        sample(&a, r#"switchboard_queue_depth{queue="chat"}"#),
        Some(3.0)
    );
    let oldest = |t: &str| {
        sample(t, r#"switchboard_oldest_wait_seconds{queue="chat"}"#).expect("oldest wait")
    };
    assert!(
        oldest(&a) >= 1.0 && (oldest(&a) - oldest(&b)).abs() < 1.0,
        "{} vs {}",
        oldest(&a),
        oldest(&b)
    );
}

#[tokio::test]
async fn a_queued_conversations_wait_and_first_response_are_observed_and_slow_ones_breach() {
    let redis = RedisServer::start();
    let settings = test_settings(
        Some(&redis.url()),
        &[("SWITCHBOARD_METRICS__SLA_TARGET_SECS__CHAT", "0")],
    );
    let app = spawn_app(settings).await;
    app.admin_put("/v1/agents/a", &json!({ "name": "A" })).await;
    let r = app.ingest(&message("chat", None, "slow", "hello?")).await;
    assert_eq!(r["route"]["decision"], "queued");
    tokio::time::sleep(Duration::from_millis(50)).await;
    app.admin_put("/v1/agents/a/presence", &json!({ "presence": "online" }))
        .await;
    let conv = r["conversation_id"].as_str().unwrap_or_default().to_owned();
    let reply = app
        .admin_post(
            &format!("/v1/conversations/{conv}/messages"),
            &json!({ "text": "here!" }),
        )
        .await;
    assert_eq!(reply.status(), 201);
    let text = app.metrics().await;
    let waits = sample(
        &text,
        r#"switchboard_wait_seconds_count{channel="chat",outcome="new_personal_agent",queue="chat"}"#,
    );
    assert_eq!(waits, Some(1.0), "{text}");
    let waited = sample(
        &text,
        r#"switchboard_wait_seconds_sum{channel="chat",outcome="new_personal_agent",queue="chat"}"#,
    )
    .unwrap_or(0.0);
    assert!(waited >= 0.05, "waited {waited}");
    assert_eq!(
        sample(&text, r#"switchboard_sla_breaches_total{channel="chat"}"#),
        Some(1.0),
        "target 0 s"
    );
    assert_eq!(
        sample(
            &text,
            r#"switchboard_first_response_seconds_count{channel="chat"}"#
        ),
        Some(1.0)
    );
    let route = r#"switchboard_http_requests_total{method="POST",route="/v1/conversations/{id}/messages",status="201"}"#;
    assert_eq!(sample(&text, route), Some(1.0), "labelled by route pattern");
    assert!(text.contains(r#"switchboard_store_operation_seconds_count{op="ingest"}"#));
}

#[tokio::test]
async fn the_deployment_gauges_vanish_while_the_store_is_unreachable() {
    let mut redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    assert!(app.metrics().await.contains("switchboard_queue_depth{"));
    redis.stop();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let text = app.metrics().await;
    assert!(
        !text.contains("switchboard_queue_depth{"),
        "absent, so `absent()` alerts fire"
    );
    assert!(
        text.contains(r#"switchboard_store_errors_total{kind="unavailable",op="snapshot"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn work_taken_by_raising_an_agents_capacity_counts_as_waits_on_both_stores() {
    let redis = RedisServer::start();
    for url in [None, Some(redis.url())] {
        let app = spawn_app(test_settings(url.as_deref(), &[])).await;
        let one_chat = json!({ "name": "A", "capacity": { "chat": 1 } });
        app.admin_put("/v1/agents/a", &one_chat).await;
        app.admin_put("/v1/agents/a/presence", &json!({ "presence": "online" }))
            .await;
        app.ingest(&message("chat", None, "first", "hi")).await;
        let second = app.ingest(&message("chat", None, "second", "hi")).await;
        assert_eq!(second["route"]["decision"], "queued", "{url:?}");
        let before = app.metrics().await;
        let count = |text: &str| {
            text.lines()
                .filter(|l| l.starts_with("switchboard_wait_seconds_count{channel=\"chat\""))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>()
        };
        let two_chats = json!({ "name": "A", "capacity": { "chat": 2 } });
        app.admin_put("/v1/agents/a", &two_chats).await;
        let conv = second["conversation_id"].as_str().unwrap_or_default();
        let view = app.admin_json(&format!("/v1/conversations/{conv}")).await;
        assert_eq!(
            view["agent_id"], "a",
            "{url:?}: the new unit took the waiting chat"
        );
        let after = app.metrics().await;
        assert_eq!(
            count(&after) - count(&before),
            1.0,
            "{url:?}: its wait observed"
        );
    }
}

#[tokio::test]
async fn requirement_outcomes_and_waits_by_language_are_counted_on_both_stores() {
    let redis = RedisServer::start();
    for url in [None, Some(redis.url())] {
        let app = spawn_app(test_settings(url.as_deref(), &[])).await;
        let speaker = json!({ "name": "S", "languages": ["es"] });
        app.admin_put("/v1/agents/s", &speaker).await;
        app.admin_put("/v1/agents/s/presence", &json!({ "presence": "online" }))
            .await;
        let mut hola = message("chat", None, "maria", "hola");
        hola["language"] = json!("es");
        app.ingest(&hola).await;
        // Nobody speaks Japanese: it waits, and counts as nothing until someone takes it.
        let mut japanese = message("chat", None, "kenji", "konnichiwa");
        japanese["language"] = json!("ja");
        let queued = app.ingest(&japanese).await;
        assert_eq!(queued["route"]["decision"], "queued", "{url:?} {queued}");
        let text = app.metrics().await;
        let met = r#"switchboard_requirement_decisions_total{outcome="met"}"#;
        assert_eq!(sample(&text, met), Some(1.0), "{url:?}:\n{text}");
        let es = r#"switchboard_language_wait_seconds_count{language="es"}"#;
        assert_eq!(sample(&text, es), Some(1.0), "{url:?}");
        let unmet = r#"switchboard_requirement_decisions_total{outcome="unmet"}"#;
        assert_eq!(sample(&text, unmet), Some(0.0), "{url:?}: still waiting");
    }
}
