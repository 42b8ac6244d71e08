//! Calls and the IVR bypass, on `/v1/calls` and the Twilio Voice webhooks, against Redis.

use serde_json::{json, Value};

use crate::helpers::{
    message, spawn_app, test_settings, RedisServer, TestApp, ADAPTER_TOKEN, PUBLIC, TWILIO_TOKEN,
};

async fn app(redis: &RedisServer) -> TestApp {
    let twilio = [
        ("SWITCHBOARD_TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("SWITCHBOARD_PUBLIC_URL", PUBLIC),
    ];
    spawn_app(test_settings(Some(&redis.url()), &twilio)).await
}

async fn call(app: &TestApp, sid: &str, from: &str) -> Value {
    let r = app
        .client
        .post(format!("{}/v1/calls", app.address))
        .bearer_auth(ADAPTER_TOKEN)
        .json(&json!({ "external_id": sid, "from": from, "to": "+18005550000" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

async fn event(app: &TestApp, sid: &str, event: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/v1/calls/{sid}/events", app.address))
        .bearer_auth(ADAPTER_TOKEN)
        .json(&json!({ "event": event }))
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn a_known_caller_goes_straight_to_their_personal_agent_and_the_call_joins_the_conversation()
{
    let redis = RedisServer::start();
    let app = app(&redis).await;
    app.agent_online("a").await;
    let chat = app
        .ingest(&message("email", None, "jane@x.io", "about my order"))
        .await;
    // The customer's phone is known through an earlier SMS on the same conversation.
    let mut sms = message("phone", Some("sms"), "+1 415 555 0100", "it's me");
    sms["identities"] = json!([{ "kind": "email", "value": "jane@x.io" }]);
    app.ingest(&sms).await;
    app.agent_online("b").await;

    let answer = call(&app, "CA1", "(415) 555-0100").await;
    assert_eq!(
        (answer["decision"].as_str(), answer["agent_id"].as_str()),
        (Some("connect"), Some("a"))
    );
    assert_eq!(answer["customer_id"], chat["customer_id"]);
    assert_eq!(answer["conversation_id"], chat["conversation_id"]);
    assert_eq!(
        call(&app, "CA1", "(415) 555-0100").await,
        answer,
        "a retry answers the same"
    );
    let conv = app
        .admin_json(&format!(
            "/v1/conversations/{}",
            chat["conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    let last = conv["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (last["channel"].as_str(), last["network"].as_str()),
        (Some("phone"), Some("voice")),
        "the call is on the timeline"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"switchboard_ivr_bypass_total{reason="known_customer"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_unknown_caller_gets_the_menu_and_zero_reaches_a_human() {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    app.agent_online("a").await;
    let answer = call(&app, "CA2", "+14155550177").await;
    assert_eq!(
        (answer["decision"].as_str(), answer["reason"].as_str()),
        (Some("ivr"), Some("unknown_caller"))
    );
    assert_eq!(answer["conversation_id"], Value::Null);
    let human: Value = event(&app, "CA2", "agent_requested")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        (human["decision"].as_str(), human["agent_id"].as_str()),
        (Some("connect"), Some("a"))
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"switchboard_ivr_seconds_count{outcome="agent_requested"} 1"#),
        "{metrics}"
    );
    assert_eq!(event(&app, "CA-none", "hung_up").await.status(), 404);
}

#[tokio::test]
async fn a_busy_personal_agent_means_another_human_or_a_raised_wait_never_the_menu_and_hang_up_frees_the_line(
) {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    app.agent_online("a").await;
    // a serves (and so owns) both customers, one after the other.
    let earlier = app
        .ingest(&message("phone", Some("sms"), "+14155550122", "hi"))
        .await;
    let earlier = earlier["conversation_id"].as_str().unwrap_or_default();
    app.admin_post(&format!("/v1/conversations/{earlier}/resolve"), &json!({}))
        .await;
    app.ingest(&message("phone", Some("sms"), "+14155550111", "hi"))
        .await;
    let first = call(&app, "CA3", "+14155550111").await; // a's only phone unit is taken
    assert_eq!(first["agent_id"], "a");
    let second = call(&app, "CA4", "+14155550122").await;
    assert_eq!(
        second["decision"], "queue",
        "waits for their busy agent: {second}"
    );
    assert_eq!(second["reason"], "waiting_for_personal_agent");
    event(&app, "CA3", "answered").await;
    let ended: Value = event(&app, "CA3", "hung_up")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(ended["state"], "ended");
    let a = app.admin_json("/v1/agents/a").await;
    assert_eq!(
        a["load"]["phone"], 1,
        "the freed line went to the caller waiting for a"
    );
    let conv = app
        .admin_json(&format!(
            "/v1/conversations/{}",
            second["conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(conv["agent_id"], "a");
}

#[tokio::test]
async fn the_twilio_webhook_dials_known_callers_gives_others_the_menu_and_refuses_forgeries() {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    app.agent_online("a").await;
    app.ingest(&message("phone", Some("sms"), "+14155550100", "hi"))
        .await;

    let forged = app
        .twilio(
            "/v1/adapters/twilio/voice",
            &[
                ("CallSid", "CAX"),
                ("From", "+14155550100"),
                ("To", "+18005550000"),
            ],
            Some("bm90IGEgc2lnbmF0dXJl"),
        )
        .await;
    assert_eq!(forged.0, 403);
    assert_eq!(
        event(&app, "CAX", "hung_up").await.status(),
        404,
        "a forged request changed nothing"
    );
    let unsigned = app
        .client
        .post(format!("{}/v1/adapters/twilio/voice", app.address))
        .body("CallSid=CAY")
        .send()
        .await
        .expect("sent");
    assert_eq!(unsigned.status(), 403);

    let form = [
        ("CallSid", "CA10"),
        ("AccountSid", "AC1"),
        ("From", "+14155550100"),
        ("To", "+18005550000"),
        ("CallStatus", "ringing"),
        ("ToCity", ""),
    ];
    let (status, twiml) = app.twilio("/v1/adapters/twilio/voice", &form, None).await;
    assert_eq!(status, 200);
    assert!(twiml.contains("<Dial action=\"https://switchboard.example.com/v1/adapters/twilio/voice/dial?agent=a\" method=\"POST\"><Client>a</Client></Dial>"), "{twiml}");

    let (_, menu) = app
        .twilio(
            "/v1/adapters/twilio/voice",
            &[
                ("CallSid", "CA11"),
                ("From", "+14155550199"),
                ("To", "+18005550000"),
            ],
            None,
        )
        .await;
    assert!(menu.contains("<Gather input=\"dtmf speech\""), "{menu}");
    let (_, human) = app
        .twilio(
            "/v1/adapters/twilio/voice/menu",
            &[("CallSid", "CA11"), ("Digits", "0")],
            None,
        )
        .await;
    assert!(
        human.contains("<Client>a</Client>") || human.contains("<Enqueue"),
        "{human}"
    );

    let (status, _) = app
        .twilio(
            "/v1/adapters/twilio/voice/status",
            &[("CallSid", "CA10"), ("CallStatus", "completed")],
            None,
        )
        .await;
    assert_eq!(status, 200);
    let metrics = app.metrics().await;
    assert!(metrics.contains(r#"switchboard_ivr_bypass_total{reason="known_customer"} 1"#));
    assert!(metrics.contains(r#"switchboard_ivr_seconds_count{outcome="agent_requested"} 1"#));
}

#[tokio::test]
async fn calls_reach_an_agents_sip_address_and_an_unanswered_dial_falls_back() {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    let profile = json!({ "name": "A", "dial": "sip:a@pbx.example.com" });
    assert_eq!(app.admin_put("/v1/agents/a", &profile).await.status(), 201);
    app.admin_put("/v1/agents/a/presence", &json!({ "presence": "online" }))
        .await;
    let bad = app
        .admin_put(
            "/v1/agents/c",
            &json!({ "name": "C", "dial": "call me maybe" }),
        )
        .await;
    assert_eq!(bad.status(), 400);
    app.ingest(&message("phone", Some("sms"), "+14155550100", "hi"))
        .await;
    app.agent_online("b").await;

    let form = [
        ("CallSid", "CA20"),
        ("From", "+14155550100"),
        ("To", "+18005550000"),
    ];
    let (_, twiml) = app.twilio("/v1/adapters/twilio/voice", &form, None).await;
    assert!(
        twiml.contains("<Sip>sip:a@pbx.example.com</Sip>"),
        "{twiml}"
    );

    let (status, again) = app
        .twilio(
            "/v1/adapters/twilio/voice/dial?agent=a",
            &[("CallSid", "CA20"), ("DialCallStatus", "no-answer")],
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        again.contains("<Client>b</Client>"),
        "falls back to b: {again}"
    );
    let a = app.admin_json("/v1/agents/a").await;
    assert_eq!(
        (a["presence"].as_str(), a["load"]["phone"].as_u64()),
        (Some("away"), Some(0))
    );
}

#[tokio::test]
async fn withheld_sip_and_client_callers_are_customers_and_never_refused() {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    app.agent_online("a").await;
    for (sid, from) in [("CA30", "anonymous"), ("CA31", "+266696687")] {
        let (status, twiml) = app
            .twilio(
                "/v1/adapters/twilio/voice",
                &[("CallSid", sid), ("From", from), ("To", "+18005550000")],
                None,
            )
            .await;
        assert_eq!(status, 200, "{from}: {twiml}");
        assert!(
            twiml.contains("<Gather"),
            "a withheld caller hears the menu"
        );
    }
    // Two withheld callers who ask for a human are two strangers, each with a conversation.
    let first: Value = event(&app, "CA30", "agent_requested")
        .await
        .json()
        .await
        .expect("json");
    let second: Value = event(&app, "CA31", "agent_requested")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(first["decision"], "connect");
    assert!(first["conversation_id"].is_string(), "{first}");
    assert_ne!(first["customer_id"], second["customer_id"]);

    // A softphone client is a customer known by its client identity on the next call.
    let client = call(&app, "CA32", "client:alice").await;
    assert_eq!(client["decision"], "ivr");
    let served: Value = event(&app, "CA32", "agent_requested")
        .await
        .json()
        .await
        .expect("json");
    for sid in ["CA30", "CA31", "CA32"] {
        event(&app, sid, "hung_up").await; // frees a's one phone line
    }
    let again = call(&app, "CA33", "client:alice").await;
    assert_eq!(
        (again["decision"].as_str(), again["customer_id"].clone()),
        (Some("connect"), served["customer_id"].clone()),
        "{again}"
    );
    let found = app.admin_get("/v1/customers?identity=client:alice").await;
    assert_eq!(found.status(), 200);
    let sip = call(&app, "CA34", "sip:Bob@pbx.example.com").await;
    assert_eq!(sip["decision"], "ivr", "{sip}");
}

#[tokio::test]
async fn an_sms_from_a_short_code_or_an_alphanumeric_sender_is_stored() {
    let redis = RedisServer::start();
    let app = app(&redis).await;
    for (sid, from) in [("SM1", "72345"), ("SM2", "ACME")] {
        let form = [
            ("MessageSid", sid),
            ("From", from),
            ("To", "+18005550000"),
            ("Body", "Your code is 1234"),
            ("NumMedia", "0"),
        ];
        let (status, body) = app
            .twilio("/v1/adapters/twilio/messaging", &form, None)
            .await;
        assert_eq!(status, 200, "{from}: {body}");
    }
    let found = app.admin_json("/v1/customers?identity=sender:acme").await;
    assert_eq!(found["identities"][0]["kind"], "sender", "{found}");
    assert_eq!(
        app.admin_get("/v1/customers?identity=sender:72345")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_caller_who_hangs_up_while_the_agent_rings_ends_the_call_without_sending_the_agent_away()
{
    let redis = RedisServer::start();
    let app = app(&redis).await;
    app.agent_online("a").await;
    app.ingest(&message("phone", Some("sms"), "+14155550100", "hi"))
        .await;
    app.agent_online("b").await;
    let form = [
        ("CallSid", "CA40"),
        ("From", "+14155550100"),
        ("To", "+18005550000"),
    ];
    let (_, twiml) = app.twilio("/v1/adapters/twilio/voice", &form, None).await;
    assert!(twiml.contains("<Client>a</Client>"), "{twiml}");
    let (status, ended) = app
        .twilio(
            "/v1/adapters/twilio/voice/dial?agent=a",
            &[
                ("CallSid", "CA40"),
                ("DialCallStatus", "canceled"),
                ("CallStatus", "completed"),
            ],
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(ended.contains("<Hangup/>"), "{ended}");
    let a = app.admin_json("/v1/agents/a").await;
    assert_eq!(
        (a["presence"].as_str(), a["load"]["phone"].as_u64()),
        (Some("online"), Some(0)),
        "a stays online and the line is free"
    );
    let b = app.admin_json("/v1/agents/b").await;
    assert_eq!(b["load"]["phone"], 0, "the ended call went to nobody");
}
