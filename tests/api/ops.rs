//! The ops port and the API description.

use serde_json::Value;

use crate::helpers::{message, spawn_app, test_settings, RedisServer};

#[tokio::test]
async fn health_readiness_and_metrics_answer_on_the_ops_port() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    for path in ["/healthz", "/readyz"] {
        let r = app
            .client
            .get(format!("{}{path}", app.ops_address))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 200, "{path}");
    }
    app.ingest(&message("email", None, "m@x.io", "count me"))
        .await;
    let text = app.metrics().await;
    assert!(
        text.contains(r#"switchboard_messages_total{channel="email",direction="in"} 1"#),
        "{text}"
    );
    assert!(text.contains(
        r#"switchboard_routing_decisions_total{decision="queued",reason="no_agent_available"} 1"#
    ));
    for name in [
        "switchboard_messages_total",
        "switchboard_routing_decisions_total",
        "switchboard_agents",
    ] {
        assert!(text.contains(name), "{name}");
    }
    let api_metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(api_metrics.status(), 404, "metrics are not on the API port");
}

#[tokio::test]
async fn every_request_gets_a_request_id() {
    let app = spawn_app(test_settings(None, &[])).await;
    let r = app.post_message(&message("chat", None, "v", "x")).await;
    let id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(id.len(), 36, "a UUID: {id}");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = spawn_app(test_settings(None, &[])).await;
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let expected = [
        ("/v1/messages", "post"),
        ("/v1/conversations/{id}", "get"),
        ("/v1/conversations/{id}/resolve", "post"),
        ("/v1/customers", "get"),
        ("/v1/customers/{id}", "get"),
        ("/openapi.json", "get"),
        ("/v1/agents", "get"),
        ("/v1/agents/{id}", "get"),
        ("/v1/agents/{id}", "put"),
        ("/v1/agents/{id}", "delete"),
        ("/v1/customers/{id}", "patch"),
        ("/v1/calls", "post"),
        ("/v1/calls/{external_id}/events", "post"),
        ("/v1/adapters/twilio/voice", "post"),
        ("/v1/adapters/twilio/voice/menu", "post"),
        ("/v1/adapters/twilio/voice/dial", "post"),
        ("/v1/adapters/twilio/voice/status", "post"),
        ("/v1/adapters/twilio/messaging", "post"),
        ("/v1/adapters/meta", "get"),
        ("/v1/adapters/meta", "post"),
        ("/v1/adapters/telegram", "post"),
        ("/v1/adapters/email", "post"),
        ("/v1/deliveries/{message_id}", "get"),
        ("/v1/agents/{id}/presence", "put"),
        ("/v1/conversations/{id}/messages", "post"),
        ("/v1/conversations/{id}/transfer", "post"),
        ("/v1/conversations/{id}/requirements", "put"),
        ("/v1/conversations/{id}/rating", "post"),
        ("/v1/conversations/{id}/deadlines", "get"),
        ("/v1/customers/{id}/complaints", "post"),
        ("/v1/queues/{queue}", "get"),
        ("/v1/customers/{id}/manager", "get"),
        ("/v1/customers/{id}/follow-up", "put"),
        ("/v1/customers/{id}/follow-up", "delete"),
        ("/v1/agents/{id}/events", "get"),
        ("/v1/agents/{id}/conversations", "get"),
        ("/v1/floor", "get"),
        ("/v1/calls/{external_id}", "get"),
        ("/v1/storage-format", "get"),
        ("/v1/storage-format/finalize", "post"),
        ("/v1/customers/{id}/export", "get"),
        ("/v1/audit", "get"),
        ("/v1/customers/{id}", "delete"),
        ("/v1/erasures/{id}", "get"),
        ("/v1/blocks/{identity}", "put"),
        ("/v1/blocks/{identity}", "delete"),
        ("/v1/deliveries/{message_id}/status", "post"),
        ("/v1/adapters/twilio/messaging/status", "post"),
        ("/v1/agents/{id}/revoke", "post"),
        ("/v1/me", "get"),
        ("/v1/events", "get"),
        (
            "/v1/conversations/{id}/messages/{message_id}/redact",
            "post",
        ),
    ];
    for (path, method) in expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    let paths = doc["paths"]
        .as_object()
        .map(|p| p.len())
        .unwrap_or_default();
    assert_eq!(paths, 45, "a route was added without being tested here");
    // The document describes the API port: the ops routes live on the ops port only.
    for ops in ["/healthz", "/readyz", "/metrics"] {
        assert!(doc["paths"][ops].is_null(), "{ops} is not on the API port");
        let r = app
            .client
            .get(format!("{}{ops}", app.address))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 404, "{ops} on the API port");
    }
    // Every answer a route can give is listed: credentials and body types included.
    let ingest = &doc["paths"]["/v1/messages"]["post"]["responses"];
    for status in ["202", "400", "401", "403", "413", "415", "429", "503"] {
        assert!(
            ingest[status].is_object(),
            "POST /v1/messages lacks {status}"
        );
    }
    for schema in [
        "IngestRequest",
        "Receipt",
        "ConversationView",
        "CustomerView",
        "Problem",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }
}
