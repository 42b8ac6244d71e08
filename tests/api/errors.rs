//! Bad input gets a clear problem+json answer with the right status, and stores nothing.

use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

use crate::helpers::{message, spawn_app, test_settings, RedisServer, ADAPTER_TOKEN, ADMIN_TOKEN};

struct Case {
    why: &'static str,
    token: Option<&'static str>,
    content_type: &'static str,
    body: Vec<u8>,
    status: u16,
}

fn json_case(why: &'static str, body: Value, status: u16) -> Case {
    Case {
        why,
        token: Some(ADAPTER_TOKEN),
        content_type: "application/json",
        body: body.to_string().into_bytes(),
        status,
    }
}

fn assert_problem(body: &Value, status: u16, why: &str) {
    assert_eq!(body["status"], status, "{why}: {body}");
    for field in ["type", "title", "detail"] {
        assert!(
            body[field].as_str().is_some_and(|s| !s.is_empty()),
            "{why}: `{field}` in {body}"
        );
    }
}

#[tokio::test]
async fn bad_ingest_requests_get_problems_and_store_nothing() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(
        Some(&redis.url()),
        &[("SWITCHBOARD_INGEST__MAX_BODY_BYTES", "4096")],
    ))
    .await;
    // What a running replica keeps whatever it is sent: its storage-format announcement.
    let baseline = redis.dbsize();
    let good = message("email", None, "a@example.com", "hi");
    let without = |field: &str| {
        let mut body = good.clone();
        body.as_object_mut().map(|o| o.remove(field));
        body
    };
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let mut oversized = good.clone();
    oversized["text"] = json!("x".repeat(5000));
    let cases = vec![
        Case {
            why: "malformed JSON",
            token: Some(ADAPTER_TOKEN),
            content_type: "application/json",
            body: b"{\"channel\": ".to_vec(),
            status: 400,
        },
        json_case("missing external_id", without("external_id"), 400),
        json_case("missing channel", without("channel"), 400),
        json_case("missing from", without("from"), 400),
        json_case("unknown channel", with("channel", json!("fax")), 400),
        json_case(
            "network of another channel",
            with("network", json!("sms")),
            400,
        ),
        json_case(
            "unparseable sender",
            with("from", json!("not an address")),
            400,
        ),
        json_case("empty external id", with("external_id", json!("")), 400),
        json_case("bad sent_at", with("sent_at", json!("yesterday")), 400),
        json_case(
            "unknown identity kind",
            with("identities", json!([{ "kind": "fax", "value": "1" }])),
            400,
        ),
        json_case(
            "invalid vouched phone",
            with("identities", json!([{ "kind": "phone", "value": "12" }])),
            400,
        ),
        json_case(
            "social without network",
            json!({ "channel": "social", "external_id": "x", "from": "123" }),
            400,
        ),
        json_case("body over the limit", oversized, 413),
        Case {
            why: "missing token",
            token: None,
            content_type: "application/json",
            body: good.to_string().into_bytes(),
            status: 401,
        },
        Case {
            why: "unknown token",
            token: Some("nope"),
            content_type: "application/json",
            body: good.to_string().into_bytes(),
            status: 401,
        },
        Case {
            why: "admin token is not an adapter",
            token: Some(ADMIN_TOKEN),
            content_type: "application/json",
            body: good.to_string().into_bytes(),
            status: 403,
        },
        Case {
            why: "not JSON",
            token: Some(ADAPTER_TOKEN),
            content_type: "text/plain",
            body: good.to_string().into_bytes(),
            status: 415,
        },
    ];
    for case in cases {
        let mut request = app
            .client
            .post(format!("{}/v1/messages", app.address))
            .header(CONTENT_TYPE, case.content_type)
            .body(case.body);
        if let Some(token) = case.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), case.status, "{}", case.why);
        let ct = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(ct, "application/problem+json", "{}", case.why);
        if case.status == 401 {
            assert!(
                response.headers().contains_key("www-authenticate"),
                "{}",
                case.why
            );
        }
        let body: Value = response.json().await.expect("problem json");
        assert_problem(&body, case.status, case.why);
        assert_eq!(redis.dbsize(), baseline, "{} stored something", case.why);
    }
}

#[tokio::test]
async fn bad_reads_get_problems() {
    let app = spawn_app(test_settings(None, &[])).await;
    let receipt = app.ingest(&message("chat", None, "v-1", "hi")).await;
    let conv = receipt["conversation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let cases: Vec<(&str, String, Option<&str>, u16)> = vec![
        (
            "unknown conversation",
            "/v1/conversations/0193a1b2c3d4e5f60718293a4b5c6d7e-1".into(),
            Some(ADMIN_TOKEN),
            404,
        ),
        (
            "garbage conversation id",
            "/v1/conversations/abc".into(),
            Some(ADMIN_TOKEN),
            404,
        ),
        (
            "unknown customer",
            "/v1/customers/0193a1b2c3d4e5f60718293a4b5c6d7e".into(),
            Some(ADMIN_TOKEN),
            404,
        ),
        (
            "identity nobody holds",
            "/v1/customers?identity=email:ghost@x.io".into(),
            Some(ADMIN_TOKEN),
            404,
        ),
        (
            "identity without kind",
            "/v1/customers?identity=ghost".into(),
            Some(ADMIN_TOKEN),
            400,
        ),
        (
            "no identity parameter",
            "/v1/customers".into(),
            Some(ADMIN_TOKEN),
            400,
        ),
        (
            "adapter token on an admin read",
            format!("/v1/conversations/{conv}"),
            Some(ADAPTER_TOKEN),
            403,
        ),
        (
            "no token on an admin read",
            format!("/v1/conversations/{conv}"),
            None,
            401,
        ),
        (
            "unknown route",
            "/v2/nothing".into(),
            Some(ADMIN_TOKEN),
            404,
        ),
        (
            "GET on the ingest route",
            "/v1/messages".into(),
            Some(ADAPTER_TOKEN),
            405,
        ),
    ];
    for (why, path, token, status) in cases {
        let mut request = app.client.get(format!("{}{path}", app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), status, "{why}");
        let body: Value = response.json().await.expect("problem json");
        assert_problem(&body, status, why);
    }
    let bad_csat = app
        .admin_post(
            &format!("/v1/conversations/{conv}/resolve"),
            &json!({ "csat": 6 }),
        )
        .await;
    assert_eq!(bad_csat.status(), 400);
}

#[tokio::test]
async fn an_unreachable_store_answers_503_with_retry_after() {
    let mut redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    app.ingest(&message("chat", None, "v-1", "before")).await;
    redis.stop();
    let response = app
        .post_message(&message("chat", None, "v-1", "after"))
        .await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: Value = response.json().await.expect("problem json");
    assert_problem(&body, 503, "store down");
    let ready = app
        .client
        .get(format!("{}/readyz", app.ops_address))
        .send()
        .await
        .expect("sent");
    assert_eq!(ready.status(), 503);
}

#[tokio::test]
async fn a_wrong_method_answers_405_with_the_methods_the_route_takes() {
    let app = spawn_app(test_settings(None, &[])).await;
    for (method, path, allow) in [
        (reqwest::Method::GET, "/v1/messages", "POST"),
        (reqwest::Method::POST, "/v1/agents/a-1", "GET, PUT, DELETE"),
        (
            reqwest::Method::POST,
            "/v1/customers/x",
            "GET, DELETE, PATCH",
        ),
    ] {
        let r = app
            .client
            .request(method, format!("{}{path}", app.address))
            .bearer_auth(ADMIN_TOKEN);
        let response = r.send().await.expect("sent");
        assert_eq!(response.status(), 405, "{path}");
        assert_eq!(
            response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok()),
            Some(allow),
            "{path}"
        );
    }
}

#[tokio::test]
async fn an_unreadable_rating_is_refused_and_leaves_the_conversation_open() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    let receipt = app.ingest(&message("chat", None, "v-1", "hi")).await;
    let conv = receipt["conversation_id"].as_str().unwrap_or_default();
    let path = format!("{}/v1/conversations/{conv}/resolve", app.address);
    let cases: [(&str, &str, &str, u16); 5] = [
        ("out of range", "application/json", r#"{"csat":300}"#, 400),
        ("a fraction", "application/json", r#"{"csat":4.5}"#, 400),
        ("a string", "application/json", r#"{"csat":"5"}"#, 400),
        ("malformed JSON", "application/json", r#"{"csat":"#, 400),
        ("not JSON", "text/plain", "csat=5", 415),
    ];
    for (why, content_type, body, status) in cases {
        let response = app
            .client
            .post(&path)
            .bearer_auth(ADMIN_TOKEN)
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), status, "{why}");
        let view = app.admin_json(&format!("/v1/conversations/{conv}")).await;
        assert_eq!(view["state"], "open", "{why}: not resolved");
    }
    let empty = app
        .client
        .post(&path)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(empty.status(), 200, "an empty body resolves");
}

/// What Python's `json.dumps` sends (`4.0`, `null`) is what the client meant.
#[tokio::test]
async fn a_whole_number_written_with_a_point_and_a_null_body_are_read_as_meant() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    for (from, body, csat) in [
        ("v-1", "{\"csat\":4.0}", json!(4)),
        ("v-2", "null", Value::Null),
    ] {
        let receipt = app.ingest(&message("chat", None, from, "hi")).await;
        let conv = receipt["conversation_id"].as_str().unwrap_or_default();
        let response = app
            .client
            .post(format!("{}/v1/conversations/{conv}/resolve", app.address))
            .bearer_auth(ADMIN_TOKEN)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200, "{body}");
        let resolved: Value = response.json().await.expect("json");
        assert_eq!(resolved["csat"], csat, "{body}");
    }
    let agent = app
        .admin_put(
            "/v1/agents/ann",
            &json!({"name": "Ann", "capacity": {"chat": 1}, "skills": {"billing": 3.0}}),
        )
        .await;
    assert!(agent.status().is_success(), "{:?}", agent.text().await);
    let view = app.admin_json("/v1/agents/ann").await;
    assert_eq!(view["skills"], json!({"billing": 3}));
}

#[tokio::test]
async fn the_bearer_scheme_may_be_written_in_any_case() {
    let app = spawn_app(test_settings(None, &[])).await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let response = app
            .client
            .post(format!("{}/v1/messages", app.address))
            .header("Authorization", format!("{scheme} {ADAPTER_TOKEN}"))
            .json(&message("chat", None, "v-9", "hi"))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 202, "{scheme}");
    }
}

#[tokio::test]
async fn listing_agents_on_a_fresh_redis_answers_an_empty_list() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    assert_eq!(app.admin_json("/v1/agents").await, json!([]));
    app.admin_put("/v1/agents/a", &json!({ "name": "A" })).await;
    let removed = app
        .client
        .delete(format!("{}/v1/agents/a", app.address))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("sent");
    assert!(removed.status().is_success());
    assert_eq!(
        app.admin_json("/v1/agents").await,
        json!([]),
        "after the last is removed"
    );
}
