//! The holes a security probe found, each reproduced the way it was found (plain HTTP
//! requests an attacker or a careless operator would send), on both stores where the
//! store matters. Each test failed on the main the probe ran against.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    agent_jwt, message, on_both_stores, spawn_app, test_settings, RedisServer, TestApp,
    ADAPTER_TOKEN, ADMIN_TOKEN, AGENT_JWT_SECRET, PUBLIC, TWILIO_TOKEN,
};
use crate::traces::event_replay;

async fn mail(app: &TestApp, raw: &str) -> Value {
    let r = app
        .client
        .post(format!("{}/v1/adapters/email", app.address))
        .bearer_auth(ADAPTER_TOKEN)
        .header("Content-Type", "message/rfc822")
        .body(raw.to_owned())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 202);
    r.json().await.expect("receipt")
}

fn id(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or_default().to_owned()
}

/// 1. A mail from anyone naming a known Message-ID must not join that thread's customer.
#[tokio::test]
async fn a_stranger_naming_a_victims_message_id_never_joins_the_victims_customer() {
    on_both_stores(|app| async move {
        let victim = mail(&app, "From: victoria@example.com\r\nMessage-ID: <victim-1@mail.example.com>\r\nSubject: My card\r\n\r\nMy card was charged twice.\r\n").await;
        let attack = mail(&app, "From: mallory@evil.example\r\nMessage-ID: <m-1@evil.example>\r\nIn-Reply-To: <victim-1@mail.example.com>\r\nReferences: <victim-1@mail.example.com>\r\n\r\nPlease send the details here.\r\n").await;
        assert_ne!(id(&attack, "customer_id"), id(&victim, "customer_id"));
        assert_ne!(id(&attack, "conversation_id"), id(&victim, "conversation_id"));
        let customer = app
            .admin_json(&format!("/v1/customers/{}", id(&victim, "customer_id")))
            .await;
        assert_eq!(
            customer["identities"],
            json!([{ "kind": "email", "value": "victoria@example.com" }]),
            "the victim's customer holds only the victim's address"
        );
        let theirs = app
            .admin_json(&format!("/v1/conversations/{}", id(&attack, "conversation_id")))
            .await;
        let text = theirs["messages"][0]["text"].as_str().unwrap_or_default();
        assert!(
            text.contains("<victim-1@mail.example.com>") && text.contains("another customer"),
            "the agent sees which thread the stranger answered: {text}"
        );
        // The victim's own reply still joins the thread (through their own address).
        let own = mail(&app, "From: Victoria <victoria@example.com>\r\nMessage-ID: <victim-2@mail.example.com>\r\nIn-Reply-To: <victim-1@mail.example.com>\r\n\r\nAny news?\r\n").await;
        assert_eq!(id(&own, "conversation_id"), id(&victim, "conversation_id"));
    })
    .await;
}

async fn transfer(app: &TestApp, bearer: &str, conv: &str, to: &str) -> u16 {
    app.client
        .post(format!("{}/v1/conversations/{conv}/transfer", app.address))
        .bearer_auth(bearer)
        .json(&json!({ "to_agent": to }))
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

/// 2. A replayed event shows only what the agent may read now.
#[tokio::test]
async fn replayed_events_show_a_conversation_the_agent_lost_as_ids_only() {
    on_both_stores(|app| async move {
        app.agent_online("carl").await;
        let r = app.ingest(&message("chat", None, "bert", "hello")).await;
        let conv = id(&r, "conversation_id");
        app.agent_online("ann").await;
        app.agent_online("bob").await;
        assert_eq!(transfer(&app, ADMIN_TOKEN, &conv, "ann").await, 200);
        assert_eq!(transfer(&app, &agent_jwt("ann"), &conv, "bob").await, 200);
        app.ingest(&message("chat", None, "bert", "my new address is 1 Elm St"))
            .await;
        let direct = app
            .agent_get("ann", &format!("/v1/conversations/{conv}"))
            .await;
        assert_eq!(direct.status(), 404, "ann no longer reads it");
        let replayed = event_replay(&app, "ann").await;
        assert!(replayed.contains(&conv), "the events are there: {replayed}");
        assert!(
            !replayed.contains("Elm St") && !replayed.contains("\"customer\""),
            "but only as ids: {replayed}"
        );
        // Bob holds it now: his stream shows it whole.
        assert!(event_replay(&app, "bob").await.contains("Elm St"));
    })
    .await;
}

async fn post_as(app: &TestApp, bearer: &str, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.address))
        .bearer_auth(bearer)
        .json(body)
        .send()
        .await
        .expect("sent")
}

/// 3. Complaints and follow-ups by staff: only from agents who exist and may reach the
/// customer, and written as staff, never as the customer.
#[tokio::test]
async fn staff_write_complaints_as_staff_and_only_for_customers_they_serve() {
    on_both_stores(|app| async move {
        app.agent_online("ann").await;
        app.agent_online("eve").await;
        let r = app.ingest(&message("chat", None, "bert", "hi")).await;
        let customer = id(&r, "customer_id");
        let holder = id(&r["route"], "agent_id");
        let stranger = if holder == "ann" { "eve" } else { "ann" };
        let path = format!("/v1/customers/{customer}/complaints");
        let body = json!({ "text": "rude", "channel": "chat" });

        let ghost = post_as(&app, &agent_jwt("nobody-created-me"), &path, &body).await;
        assert_eq!(ghost.status(), 401, "a token must name an existing agent");
        let other = post_as(&app, &agent_jwt(stranger), &path, &body).await;
        assert_eq!(
            other.status(),
            404,
            "an agent who does not serve the customer"
        );
        let follow_up = app
            .agent_put(
                stranger,
                &format!("/v1/customers/{customer}/follow-up"),
                &json!({ "due_at": "2027-01-15T10:00:00Z" }),
            )
            .await;
        assert_eq!(follow_up.status(), 404);

        let own = post_as(&app, &agent_jwt(&holder), &path, &body).await;
        assert_eq!(own.status(), 201);
        let conv = app
            .admin_json(&format!("/v1/conversations/{}", id(&r, "conversation_id")))
            .await;
        let entry = conv["messages"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["text"] == "[complaint] rude"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            entry["direction"], "out",
            "staff's entry, not the customer's"
        );
        assert_eq!(entry["kind"], "note");
        assert_eq!(entry["from"], holder.as_str());
        assert_eq!(conv["queue"], "supervisor");
    })
    .await;
}

/// 4. Invented methods add no metric series; a flood without credentials has its own
/// budget and never starves authenticated callers.
#[tokio::test]
async fn invented_methods_add_no_series_and_anonymous_floods_do_not_starve_anyone() {
    let redis = RedisServer::start();
    let limit = [("SWITCHBOARD_RATE_LIMIT__UNAUTHENTICATED_PER_SEC", "5")];
    let app = spawn_app(test_settings(Some(&redis.url()), &limit)).await;
    for name in ["PROBEA1", "PROBEA2", &"P".repeat(60_000)] {
        let method = reqwest::Method::from_bytes(name.as_bytes()).expect("method");
        let _ = app
            .client
            .request(method, format!("{}/v1/agents", app.address))
            .send()
            .await;
    }
    let metrics = app.metrics().await;
    assert!(!metrics.contains("PROBEA"), "no series per invented method");
    assert!(metrics.contains(r#"method="other""#), "{metrics}");
    assert!(metrics.len() < 200_000, "{} bytes", metrics.len());

    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = app
            .client
            .get(format!("{}/v1/agents", app.address))
            .bearer_auth("guess")
            .send()
            .await
            .expect("sent");
        statuses.push(r.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(app.admin_get("/v1/agents").await.status(), 200);
}

/// 5. A call's end frees the call's phone unit only: a chat held by an agent stays on
/// their desk, and a complaint stays in the supervisor queue.
#[tokio::test]
async fn hanging_up_a_call_that_joined_a_chat_leaves_the_chat_with_its_holder() {
    on_both_stores(|app| async move {
        app.agent_online("ann").await;
        let mut chat = message("chat", None, "bert", "hi");
        chat["identities"] = json!([{ "kind": "phone", "value": "+14155550123" }]);
        let r = app.ingest(&chat).await;
        let conv = id(&r, "conversation_id");
        let call = post_as(
            &app,
            ADAPTER_TOKEN,
            "/v1/calls",
            &json!({ "external_id": "CA-hang", "from": "+14155550123", "to": "+18005550000" }),
        )
        .await;
        assert_eq!(call.status(), 200);
        let hung = post_as(
            &app,
            ADAPTER_TOKEN,
            "/v1/calls/CA-hang/events",
            &json!({ "event": "hung_up" }),
        )
        .await;
        assert!(hung.status().is_success());
        let view = app.admin_json(&format!("/v1/conversations/{conv}")).await;
        assert_eq!(view["agent_id"], "ann", "still held: {view}");
        let desk = app.admin_json("/v1/agents/ann/conversations").await;
        assert!(
            desk.to_string().contains(&conv),
            "still on ann's desk: {desk}"
        );

        // A complaint in the supervisor queue stays there when the call ends.
        let path = format!("/v1/customers/{}/complaints", id(&r, "customer_id"));
        let raised = post_as(
            &app,
            ADAPTER_TOKEN,
            &path,
            &json!({ "text": "slow", "channel": "chat" }),
        )
        .await;
        assert_eq!(raised.status(), 201);
        post_as(
            &app,
            ADAPTER_TOKEN,
            "/v1/calls",
            &json!({ "external_id": "CA-hang-2", "from": "+14155550123", "to": "+18005550000" }),
        )
        .await;
        post_as(
            &app,
            ADAPTER_TOKEN,
            "/v1/calls/CA-hang-2/events",
            &json!({ "event": "hung_up" }),
        )
        .await;
        let view = app.admin_json(&format!("/v1/conversations/{conv}")).await;
        assert_eq!(view["queue"], "supervisor", "{view}");
    })
    .await;
}

/// A conversation the call itself was routed on stays with its holder when the call
/// ends, as after-call work: the phone unit is free, the desk still shows it, and the
/// customer's next message reaches the same agent (nobody becomes their new personal
/// agent).
#[tokio::test]
async fn a_call_routed_conversation_stays_with_its_agent_after_the_call_ends() {
    on_both_stores(|app| async move {
        app.agent_online("ann").await;
        let call = post_as(
            &app,
            ADAPTER_TOKEN,
            "/v1/calls",
            &json!({ "external_id": "CA-wrap", "from": "+14155550177", "to": "+18005550000" }),
        )
        .await;
        assert_eq!(call.status(), 200);
        // A caller we do not know meets the menu and asks for a person.
        let human = json!({ "event": "agent_requested" });
        post_as(&app, ADAPTER_TOKEN, "/v1/calls/CA-wrap/events", &human).await;
        let call = app.admin_json("/v1/calls/CA-wrap").await;
        assert_eq!(call["agent_id"], "ann", "{call}");
        let conv = id(&call, "conversation_id");
        let ended = json!({ "event": "hung_up" });
        post_as(&app, ADAPTER_TOKEN, "/v1/calls/CA-wrap/events", &ended).await;
        let ann = app.admin_json("/v1/agents/ann").await;
        let counts = |a: &Value| (a["load"]["phone"].as_u64(), a["after_call"].as_u64());
        assert_eq!(counts(&ann), (Some(0), Some(1)), "{ann}");
        let view = app.admin_json(&format!("/v1/conversations/{conv}")).await;
        assert_eq!(view["agent_id"], "ann", "{view}");
        let sms = message("phone", Some("sms"), "+14155550177", "one more thing");
        let sms = app.ingest(&sms).await;
        assert_eq!(sms["route"]["agent_id"], "ann", "{sms}");
        assert_eq!(sms["route"]["reason"], "already_assigned", "{sms}");
        // Resolving ends the after-call work.
        let path = format!("/v1/conversations/{conv}/resolve");
        assert_eq!(app.admin_post(&path, &json!({})).await.status(), 200);
        let ann = app.admin_json("/v1/agents/ann").await;
        assert_eq!(counts(&ann), (Some(0), Some(0)), "{ann}");
    })
    .await;
}

async fn presence(app: &TestApp, agent: &str) -> Value {
    app.admin_json(&format!("/v1/agents/{agent}")).await["presence"].clone()
}

/// 6. A replayed `/dial` callback (Twilio's signatures carry no timestamp) acts once.
#[tokio::test]
async fn a_replayed_dial_callback_changes_nothing_after_its_first_time() {
    let redis = RedisServer::start();
    let twilio_env = [
        ("SWITCHBOARD_TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("SWITCHBOARD_PUBLIC_URL", PUBLIC),
    ];
    let app = spawn_app(test_settings(Some(&redis.url()), &twilio_env)).await;
    app.agent_online("ann").await;
    app.ingest(&message("phone", Some("sms"), "+14155550100", "hi"))
        .await;
    app.agent_online("bob").await;
    let call = [
        ("CallSid", "CA30"),
        ("From", "+14155550100"),
        ("To", "+18005550000"),
    ];
    let (_, twiml) = app.twilio("/v1/adapters/twilio/voice", &call, None).await;
    assert!(twiml.contains("<Client>ann</Client>"), "{twiml}");
    let no_answer = [("CallSid", "CA30"), ("DialCallStatus", "no-answer")];
    let dialled_ann = "/v1/adapters/twilio/voice/dial?agent=ann";
    let (_, next) = app.twilio(dialled_ann, &no_answer, None).await;
    assert!(next.contains("<Client>bob</Client>"), "{next}");
    assert_eq!(presence(&app, "ann").await, "away");

    // The same callback again, and the old form without the agent in its URL.
    for path in [dialled_ann, "/v1/adapters/twilio/voice/dial"] {
        let (status, _) = app.twilio(path, &no_answer, None).await;
        assert_eq!(status, 200);
        assert_eq!(presence(&app, "bob").await, "online", "replay via {path}");
    }
    let call_now = app.admin_json("/v1/calls/CA30").await;
    assert_eq!(call_now["agent_id"], "bob");

    let ended = [("CallSid", "CA30"), ("CallStatus", "completed")];
    app.twilio("/v1/adapters/twilio/voice/status", &ended, None)
        .await;
    let late = "/v1/adapters/twilio/voice/dial?agent=bob";
    let (_, answer) = app.twilio(late, &no_answer, None).await;
    assert!(answer.contains("<Hangup/>"), "{answer}");
    assert_eq!(
        presence(&app, "bob").await,
        "online",
        "ignored once the call ended"
    );
}

/// 7. Forged webhooks do not spend the provider's budget.
#[tokio::test]
async fn forged_webhooks_never_make_the_real_provider_wait() {
    let redis = RedisServer::start();
    let env = [
        ("SWITCHBOARD_TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("SWITCHBOARD_PUBLIC_URL", PUBLIC),
        ("SWITCHBOARD_RATE_LIMIT__PROVIDER_PER_SEC", "5"),
    ];
    let app = spawn_app(test_settings(Some(&redis.url()), &env)).await;
    let form = [
        ("CallSid", "CA40"),
        ("From", "+14155550100"),
        ("To", "+18005550000"),
    ];
    for _ in 0..5 {
        let (status, _) = app
            .twilio("/v1/adapters/twilio/voice", &form, Some("forged"))
            .await;
        assert_eq!(status, 403);
    }
    let (status, _) = app.twilio("/v1/adapters/twilio/voice", &form, None).await;
    assert_eq!(status, 200, "the signed request is served");
}

/// 8. A body trickling in a byte at a time is cut off by the body deadline.
#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_is_cut_off_with_408() {
    let env = [("SWITCHBOARD_HTTP__BODY_TIMEOUT_SECS", "1")];
    let app = spawn_app(test_settings(None, &env)).await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = "POST /v1/adapters/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("head");
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    // One byte every half second; the server must answer long before the body is done.
    for _ in 0..20 {
        if stream.write_all(b"{").await.is_err() {
            break;
        }
        let mut buf = [0u8; 1024];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await
        {
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

fn jwt(claims: Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(AGENT_JWT_SECRET.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).expect("jwt")
}

/// 9. Tokens for ever, tokens for later, tokens of nobody.
#[tokio::test]
async fn agent_tokens_that_live_for_ever_start_later_or_name_nobody_are_refused() {
    let app = spawn_app(test_settings(None, &[])).await;
    app.agent_online("ann").await;
    let now = chrono::Utc::now().timestamp();
    let cases = [
        (
            json!({ "sub": "ann", "exp": 253_402_300_799_i64 }),
            401,
            "exp in 9999",
        ),
        (
            json!({ "sub": "ann", "exp": now + 3600, "nbf": now + 3 }),
            401,
            "nbf 3 s ahead",
        ),
        (
            json!({ "sub": "nobody", "exp": now + 3600 }),
            401,
            "no such agent",
        ),
        (
            json!({ "sub": "ann", "exp": now + 3600 }),
            200,
            "a proper token",
        ),
    ];
    for (claims, status, why) in cases {
        let r = app
            .client
            .get(format!("{}/v1/agents/ann/conversations", app.address))
            .bearer_auth(jwt(claims))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), status, "{why}");
    }
}

/// 10. No number, address or text in a problem detail (which the request's log line
/// records too).
#[tokio::test]
async fn problem_details_never_quote_a_number_or_an_address() {
    on_both_stores(|app| async move {
        let missing = app
            .admin_get("/v1/customers?identity=phone:+14155550999")
            .await;
        assert_eq!(missing.status(), 404);
        let detail = missing.text().await.unwrap_or_default();
        assert!(!detail.contains("4155550999"), "{detail}");
        let bad = app
            .post_message(&message("phone", Some("sms"), "+1 415 555 09", "hi"))
            .await;
        assert_eq!(bad.status(), 400);
        let detail = bad.text().await.unwrap_or_default();
        assert!(!detail.contains("415 555 09"), "{detail}");
        let bad = app
            .post_message(&message("email", None, "victoria at example.com", "hi"))
            .await;
        let detail = bad.text().await.unwrap_or_default();
        assert!(!detail.contains("victoria"), "{detail}");
    })
    .await;
}

/// 11. A cap on streams per agent, one-line subjects, safe headers, Meta's challenge.
#[tokio::test]
async fn streams_are_capped_subjects_stay_on_one_line_and_answers_are_not_cached() {
    let env = [
        ("SWITCHBOARD_SSE__MAX_STREAMS_PER_AGENT", "2"),
        // A closed stream is noticed when its next heartbeat cannot be written.
        ("SWITCHBOARD_SSE__HEARTBEAT_SECS", "1"),
        ("SWITCHBOARD_META_VERIFY_TOKEN", "verify-me"),
    ];
    let app = spawn_app(test_settings(None, &env)).await;
    app.agent_online("ann").await;
    let open = || app.agent_get("ann", "/v1/agents/ann/events");
    let (one, two) = (open().await, open().await);
    assert_eq!((one.status().as_u16(), two.status().as_u16()), (200, 200));
    let third = open().await;
    assert_eq!(third.status(), 429);
    drop(one);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(open().await.status(), 200, "room again once one closes");

    let r = mail(&app, "From: a@b.example\r\nMessage-ID: <crlf@b.example>\r\nSubject: =?UTF-8?B?T3JkZXIgMQ0KQmNjOiB2aWN0aW1AZXhhbXBsZS5jb20=?=\r\n\r\nhi\r\n").await;
    let view = app
        .admin_get(&format!("/v1/conversations/{}", id(&r, "conversation_id")))
        .await;
    assert_eq!(view.headers()["cache-control"], "no-store");
    assert_eq!(view.headers()["x-content-type-options"], "nosniff");
    let view: Value = view.json().await.expect("json");
    let subject = view["messages"][0]["subject"].as_str().unwrap_or_default();
    assert!(
        subject.starts_with("Order 1") && !subject.contains('\n') && !subject.contains('\r'),
        "{subject:?}"
    );

    let handshake = |challenge: &str| {
        app.client
            .get(format!("{}/v1/adapters/meta", app.address))
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.verify_token", "verify-me"),
                ("hub.challenge", challenge),
            ])
            .send()
    };
    assert_eq!(handshake("1158201444").await.expect("sent").status(), 200);
    let script = handshake("<script>alert(1)</script>").await.expect("sent");
    assert_eq!(
        script.status(),
        403,
        "only Meta's integer challenge is echoed"
    );
}

/// After a transfer to another routing group, the call's end still frees only the phone
/// unit: the customer's next message reaches the agent who holds the conversation, and
/// their personal agent stays who it was (it changes only when that agent is removed).
#[tokio::test]
async fn a_hang_up_after_a_cross_group_transfer_changes_nobodys_personal_agent() {
    on_both_stores(|app| async move {
        app.agent_online("ann").await;
        let bob = json!({ "name": "bob", "group": "sales" });
        assert!(app
            .admin_put("/v1/agents/bob", &bob)
            .await
            .status()
            .is_success());
        let online = json!({ "presence": "online" });
        app.admin_put("/v1/agents/bob/presence", &online).await;
        let call = json!({ "external_id": "CA-x", "from": "+14155550188", "to": "+18005550000" });
        post_as(&app, ADAPTER_TOKEN, "/v1/calls", &call).await;
        let human = json!({ "event": "agent_requested" });
        post_as(&app, ADAPTER_TOKEN, "/v1/calls/CA-x/events", &human).await;
        let call = app.admin_json("/v1/calls/CA-x").await;
        assert_eq!(call["agent_id"], "ann", "{call}");
        let conv = id(&call, "conversation_id");
        assert_eq!(transfer(&app, ADMIN_TOKEN, &conv, "bob").await, 200);
        let ended = json!({ "event": "hung_up" });
        post_as(&app, ADAPTER_TOKEN, "/v1/calls/CA-x/events", &ended).await;
        let sms = message(
            "phone",
            Some("sms"),
            "+14155550188",
            "thanks, one more thing",
        );
        let sms = app.ingest(&sms).await;
        assert_eq!(sms["route"]["agent_id"], "bob", "{sms}");
        assert_eq!(sms["route"]["reason"], "already_assigned", "{sms}");
        let customer = app
            .admin_json(&format!("/v1/customers/{}", id(&sms, "customer_id")))
            .await;
        assert_eq!(customer["personal_agent_id"], "ann", "{customer}");
    })
    .await;
}
