//! Channels both ways (CONTRACT "Channels both ways (v3)"): messaging windows, e-mail
//! replies that thread (read back by a real mail parser), blocked senders, and the
//! out-of-hours hint across a weekend and a holiday.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use switchboard::app::ingest::ingest_at;
use switchboard::domain::RawInbound;
use switchboard::startup::app_state;
use switchboard::store::format::NEWEST;

use crate::helpers::{
    message, on_both_stores, spawn_app, t0, test_settings, Harness, RedisServer, TestApp,
};
use crate::outbound::{receiver, SECRET};
use crate::traces::{contains, event_replay, redis_entries};

/// A WhatsApp message from `number` sent `hours_ago`, vouching for `mail`.
fn whatsapp(number: &str, mail: &str, hours_ago: i64, text: &str) -> Value {
    let mut m = message("social", Some("whatsapp"), number, text);
    m["identities"] = json!([{ "kind": "email", "value": mail }]);
    m["sent_at"] = json!(Utc::now() - chrono::Duration::hours(hours_ago));
    m
}

#[tokio::test]
async fn a_reply_past_the_whatsapp_window_is_refused_naming_the_customers_email() {
    on_both_stores(|app| async move { window_closes(app).await }).await;
}

async fn window_closes(app: TestApp) {
    let mail = format!("w-{}@example.com", uuid::Uuid::new_v4().simple());
    let receipt = app
        .ingest(&whatsapp("+14155550177", &mail, 25, "are you there?"))
        .await;
    let conv = receipt["conversation_id"].as_str().expect("id").to_owned();
    let path = format!("/v1/conversations/{conv}/messages");
    let late = app
        .admin_post(&path, &json!({ "text": "sorry for the wait" }))
        .await;
    assert_eq!(late.status(), 409);
    assert_eq!(late.headers()["content-type"], "application/problem+json");
    let problem: Value = late.json().await.expect("json");
    assert!(
        problem["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("channel-window-closed")),
        "{problem}"
    );
    let channels = problem["channels"].as_array().expect("channels");
    assert!(channels.contains(&json!("email")), "{problem}");
    assert!(!channels.contains(&json!("social:whatsapp")), "{problem}");
    assert!(problem["detail"]
        .as_str()
        .expect("detail")
        .contains("email"));
    let by_mail = app
        .admin_post(
            &path,
            &json!({ "text": "by mail then", "channel": "email" }),
        )
        .await;
    assert_eq!(by_mail.status(), 201, "another channel still reaches them");

    // The customer writes again: the window is open for 24 hours.
    app.ingest(&whatsapp("+14155550177", &mail, 0, "still here"))
        .await;
    let in_time = app
        .admin_post(&path, &json!({ "text": "here we are" }))
        .await;
    assert_eq!(in_time.status(), 201);
}

#[tokio::test]
async fn an_email_reply_threads_under_the_customers_last_mail() {
    let redis = RedisServer::start();
    let rx = receiver();
    let env = [
        ("SWITCHBOARD_OUTBOUND_URL", rx.url.as_str()),
        ("SWITCHBOARD_OUTBOUND_SECRET", SECRET),
        ("SWITCHBOARD_OUTBOUND__FIRST_BACKOFF_MS", "100"),
        ("SWITCHBOARD_OUTBOUND__POLL_INTERVAL_MS", "50"),
    ];
    let app = spawn_app(test_settings(Some(&redis.url()), &env)).await;
    let from = "thread@example.com";
    let mut first = message("email", None, from, "my order never came");
    first["external_id"] = json!("<first.123@mail.example.com>");
    first["subject"] = json!("Order 1234");
    let receipt = app.ingest(&first).await;
    let conv = receipt["conversation_id"].as_str().expect("id").to_owned();
    let path = format!("/v1/conversations/{conv}/messages");
    let reply = app.admin_post(&path, &json!({ "text": "looking" })).await;
    assert_eq!(reply.status(), 201);
    let mut second = message("email", None, from, "any news?");
    second["external_id"] = json!("second.456@mail.example.com");
    second["subject"] = json!("Re: Order 1234");
    app.ingest(&second).await;
    let reply = app.admin_post(&path, &json!({ "text": "shipped" })).await;
    assert_eq!(reply.status(), 201);

    let payload = wait_for_payload(&rx.accepted, "shipped").await;
    assert_eq!(payload["subject"], "Re: Order 1234", "one Re:");
    // A real mail parser reads the headers the adapter writes from the payload.
    let raw = format!(
        "From: support@example.com\r\nTo: {from}\r\nSubject: {}\r\nMessage-ID: {}\r\n\
         In-Reply-To: {}\r\nReferences: {}\r\n\r\n{}\r\n",
        payload["subject"].as_str().expect("subject"),
        payload["email_message_id"].as_str().expect("own id"),
        payload["in_reply_to"].as_str().expect("in_reply_to"),
        payload["references"].as_str().expect("references"),
        payload["text"].as_str().expect("text"),
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("a mail");
    let in_reply_to: Vec<String> = parsed
        .in_reply_to()
        .as_text_list()
        .expect("In-Reply-To")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(in_reply_to, ["second.456@mail.example.com"]);
    let references: Vec<String> = parsed
        .references()
        .as_text_list()
        .expect("References")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        references.first().map(String::as_str),
        Some("first.123@mail.example.com")
    );
    assert_eq!(
        references.last().map(String::as_str),
        Some("second.456@mail.example.com")
    );
    assert_eq!(
        references.len(),
        3,
        "the first mail, our reply, the second mail"
    );
}

async fn wait_for_payload(accepted: &std::sync::Mutex<Vec<Value>>, text: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = accepted
            .lock()
            .expect("lock")
            .iter()
            .find(|p| p["text"] == text)
            .cloned();
        if let Some(found) = found {
            return found;
        }
        assert!(Instant::now() < deadline, "no payload with {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_blocked_sender_leaves_nothing_behind_until_unblocked() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    // Another replica, which learns of the block from the deployment's list.
    let other = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    app.agent_online("ann").await;
    let number = "+14155550199";
    let blocked = app
        .admin_put("/v1/blocks/whatsapp:+1 (415) 555-0199", &json!({}))
        .await;
    assert_eq!(blocked.status(), 200);
    let blocked: Value = blocked.json().await.expect("json");
    assert_eq!(blocked["identities"], json!(["whatsapp:+14155550199"]));

    // The other replica's copy follows the list within a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut conn = redis.connection();
    for replica in [&app, &other] {
        let answer = replica
            .ingest(&message("social", Some("whatsapp"), number, "more spam"))
            .await;
        assert_eq!(answer, json!({ "blocked": true }));
    }
    let naming: Vec<String> = redis_entries(&mut conn, "*")
        .into_iter()
        .filter(|(key, value)| contains(key, "14155550199") || contains(value, "14155550199"))
        .map(|(key, _)| String::from_utf8_lossy(&key).into_owned())
        .collect();
    assert_eq!(
        naming,
        ["sb:blocks:{bl}"],
        "only the blocklist names the sender"
    );
    let told = event_replay(&app, "ann").await;
    assert!(
        !told.contains("conversation."),
        "no agent was given anything: {told}"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("switchboard_blocked_total{channel=\"social\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn unblocked_the_next_message_routes_and_bad_identities_are_400() {
    on_both_stores(|app| async move {
        app.agent_online("ann").await;
        let path = "/v1/blocks/whatsapp:14155550198";
        assert_eq!(app.admin_put(path, &json!({})).await.status(), 200);
        let spam = message("social", Some("whatsapp"), "14155550198", "spam");
        assert_eq!(app.ingest(&spam).await, json!({ "blocked": true }));
        assert_eq!(app.admin_delete(path).await.status(), 204);
        assert_eq!(
            app.admin_delete(path).await.status(),
            404,
            "not blocked any more"
        );
        let routed = app
            .ingest(&message("social", Some("whatsapp"), "14155550198", "hi"))
            .await;
        assert_eq!(routed["route"]["agent_id"], "ann", "{routed}");
        for bad in [
            "/v1/blocks/nokind",
            "/v1/blocks/pager:123",
            "/v1/blocks/email:not-an-address",
        ] {
            assert_eq!(app.admin_put(bad, &json!({})).await.status(), 400, "{bad}");
        }
    })
    .await;
}

/// An adapter's chat message, as `RawInbound`.
fn chat(from: &str, text: &str) -> RawInbound {
    let body: switchboard::http::messages::IngestRequest =
        serde_json::from_value(message("chat", None, from, text)).expect("request");
    body.into()
}

both_stores!(out_of_hours_the_receipt_carries_the_next_opening_once_per_closed_period);

/// Berlin, Monday to Friday 09:00–17:00, Monday 23 November 2026 a holiday: from Saturday
/// noon the next opening is Tuesday 09:00 Berlin (08:00 UTC).
async fn out_of_hours_the_receipt_carries_the_next_opening_once_per_closed_period(h: Harness) {
    h.store
        .finalize_format(NEWEST, t0())
        .await
        .expect("finalized");
    let calendar = std::env::temp_dir().join(format!("ooh-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &calendar,
        "[business_hours]\ntime_zone = \"Europe/Berlin\"\n\
         days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"]\n\
         open = \"09:00\"\nclose = \"17:00\"\nholidays = [\"2026-11-23\"]\n",
    )
    .expect("calendar file");
    let path = calendar.to_string_lossy().into_owned();
    let settings = test_settings(None, &[("SWITCHBOARD_CONFIG", path.as_str())]);
    let _ = std::fs::remove_file(&calendar);
    let app = app_state(&settings, h.store.clone()).expect("app");
    let at = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
    let saturday = at("2026-11-21T12:00:00Z");
    let first = ingest_at(&app, chat("visitor-ooh", "hello?"), saturday)
        .await
        .expect("stored");
    let hint = first.auto_reply.expect("out of hours");
    assert_eq!(hint.kind, "out_of_hours");
    assert_eq!(
        hint.next_open_at,
        at("2026-11-24T08:00:00Z"),
        "past the holiday"
    );
    let sunday = ingest_at(
        &app,
        chat("visitor-ooh", "anyone?"),
        at("2026-11-22T09:00:00Z"),
    )
    .await
    .expect("stored");
    assert_eq!(sunday.auto_reply, None, "once per closed period");
    let open = ingest_at(
        &app,
        chat("visitor-ooh", "ah, open"),
        at("2026-11-24T10:00:00Z"),
    )
    .await
    .expect("stored");
    assert_eq!(open.auto_reply, None, "open hours");
    let night = ingest_at(
        &app,
        chat("visitor-ooh", "one more"),
        at("2026-11-24T20:00:00Z"),
    )
    .await
    .expect("stored");
    let hint = night.auto_reply.expect("a new closed period");
    assert_eq!(hint.next_open_at, at("2026-11-25T08:00:00Z"));
}

const INBOXES: &str = r#"
[[inboxes]]
inbox = "twilio:+18005550100"
group = "sales"

[[inboxes]]
inbox = "twilio:+18005550200"
group = "support"

[[inboxes]]
inbox = "telegram:acme_es_bot"
language = "es"

[[inboxes]]
inbox = "email:billing@example.com"
skills = { billing = 1 }
"#;

/// Two Twilio numbers route to their groups' agents, a Telegram bot gives its language,
/// an e-mail inbox its skill.
#[tokio::test]
async fn inboxes_give_the_group_language_and_skills_of_where_a_message_arrived() {
    use crate::helpers::{PUBLIC, TWILIO_TOKEN};
    let redis = RedisServer::start();
    let file = std::env::temp_dir().join(format!("inboxes-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&file, INBOXES).expect("settings file");
    let path = file.to_string_lossy().into_owned();
    let env = [
        ("SWITCHBOARD_CONFIG", path.as_str()),
        ("SWITCHBOARD_TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("SWITCHBOARD_PUBLIC_URL", PUBLIC),
        ("SWITCHBOARD_TELEGRAM_SECRET_TOKEN", "tg-secret_1"),
    ];
    let app = spawn_app(test_settings(Some(&redis.url()), &env)).await;
    let _ = std::fs::remove_file(&file);
    for (agent, group) in [("sam", "sales"), ("sue", "support")] {
        let put = app
            .admin_put(
                &format!("/v1/agents/{agent}"),
                &json!({ "name": agent, "group": group }),
            )
            .await;
        assert!(put.status().is_success(), "{}", put.status());
        app.admin_put(
            &format!("/v1/agents/{agent}/presence"),
            &json!({ "presence": "online" }),
        )
        .await;
    }
    for (i, (to, agent)) in [("+18005550100", "sam"), ("+18005550200", "sue")]
        .into_iter()
        .enumerate()
    {
        let from = format!("+1415555012{i}");
        let sid = format!("SM{:032x}", uuid::Uuid::new_v4().as_u128());
        let form = [
            ("MessageSid", sid.as_str()),
            ("From", from.as_str()),
            ("To", to),
            ("Body", "hello"),
        ];
        let posted = app
            .twilio_post(
                TWILIO_TOKEN,
                PUBLIC,
                "/v1/adapters/twilio/messaging",
                &form,
                None,
            )
            .await;
        assert_eq!(posted.status(), 200);
        let conv = open_conversation(&app, &format!("phone:{from}")).await;
        assert_eq!(conv["agent_id"], agent, "a message to {to}: {conv}");
    }

    let update = json!({"update_id": 7, "message": {"message_id": 9,
        "from": {"id": 2222222, "is_bot": false, "first_name": "Ana"},
        "chat": {"id": 2222222, "type": "private"}, "date": 1441645532, "text": "hola"}});
    let posted = app
        .client
        .post(format!(
            "{}/v1/adapters/telegram?bot=acme_es_bot",
            app.address
        ))
        .header("X-Telegram-Bot-Api-Secret-Token", "tg-secret_1")
        .json(&update)
        .send()
        .await
        .expect("sent");
    assert_eq!(posted.status(), 200);
    let conv = open_conversation(&app, "telegram:2222222").await;
    assert!(
        conv["needs"]
            .as_array()
            .is_some_and(|n| n.contains(&json!("l:es"))),
        "{conv}"
    );

    let mail = "From: payer@example.org\r\nTo: Billing <Billing@Example.com>\r\nSubject: invoice\r\nMessage-ID: <inv-1@example.org>\r\n\r\nWrong amount.\r\n";
    let posted = app
        .client
        .post(format!("{}/v1/adapters/email", app.address))
        .bearer_auth(crate::helpers::ADAPTER_TOKEN)
        .header("Content-Type", "message/rfc822")
        .body(mail)
        .send()
        .await
        .expect("sent");
    assert_eq!(posted.status(), 202);
    let conv = open_conversation(&app, "email:payer@example.org").await;
    assert!(
        conv["needs"].as_array().is_some_and(|n| n
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.starts_with("s:billing")))),
        "{conv}"
    );
}

/// The open conversation of the customer holding `identity`.
async fn open_conversation(app: &TestApp, identity: &str) -> Value {
    let customer = app
        .admin_json(&format!("/v1/customers?identity={identity}"))
        .await;
    let conv = customer["open_conversation_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no open conversation: {customer}"));
    app.admin_json(&format!("/v1/conversations/{conv}")).await
}
