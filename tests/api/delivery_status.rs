//! Did the customer get the reply (CONTRACT "Delivery status of replies")? A stand-in
//! adapter answers each reply with the provider's id of it (Meta's and Twilio's own
//! answer shapes); signed Meta statuses and Twilio status callbacks then arrive in
//! shuffled order and converge on the furthest status; a failure keeps its code and
//! reason and reaches the agent's event stream; the adapter's own route reports too.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App as ActixApp, HttpResponse, HttpServer};
use serde_json::{json, Value};

use switchboard::app::outbound::sign;

use crate::helpers::{
    agent_jwt, message, spawn_app, test_settings, RedisServer, TestApp, PUBLIC, TWILIO_TOKEN,
};
use crate::outbound::SECRET;
use crate::traces::event_replay;

const META_SECRET: &str = "delivery_app_secret";

/// A stand-in adapter: answers each reply as the provider's API would, naming its id of
/// the message (`wamid.<n>` for WhatsApp, `SM<n>` for SMS); records what it got.
fn adapter() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://127.0.0.1:{}/send",
        listener.local_addr().expect("addr").port()
    );
    let server = HttpServer::new(move || {
        let seen = seen.clone();
        ActixApp::new().route(
            "/send",
            web::post().to(move |body: web::Json<Value>| {
                let seen = seen.clone();
                async move {
                    let id = body["message_id"].as_str().unwrap_or_default().to_owned();
                    seen.lock().expect("lock").push(body.into_inner());
                    // Meta's Cloud API answer to a send, and Twilio's.
                    if id.is_empty() {
                        return HttpResponse::Ok().finish();
                    }
                    let answer = match body_channel(&seen, &id) {
                        Some(channel) if channel == "phone" => json!({ "sid": format!("SM{id}") }),
                        _ => json!({ "messaging_product": "whatsapp",
                            "messages": [{ "id": format!("wamid.{id}") }] }),
                    };
                    HttpResponse::Ok().json(answer)
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    (url, got)
}

/// The channel of the reply `id` the adapter got.
fn body_channel(seen: &Mutex<Vec<Value>>, id: &str) -> Option<String> {
    let seen = seen.lock().expect("lock");
    let body = seen.iter().rev().find(|b| b["message_id"] == id)?;
    body["channel"].as_str().map(str::to_owned)
}

async fn meta_status(app: &TestApp, wamid: &str, status: &str, error: Option<Value>) {
    let mut s = json!({ "id": wamid, "status": status, "timestamp": "1765100000",
        "recipient_id": "14155550166" });
    if let Some(e) = error {
        s["errors"] = json!([e]);
    }
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "WABA",
        "changes": [{ "field": "messages", "value": { "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },
        "statuses": [s] } }] }] })
    .to_string();
    let posted = app
        .client
        .post(format!("{}/v1/adapters/meta", app.address))
        .header("X-Hub-Signature-256", sign(META_SECRET, body.as_bytes()))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(posted.status(), 200);
}

/// The agent's reply, once the adapter took it (its `sent` recorded).
async fn reply(app: &TestApp, conv: &str, text: &str) -> String {
    let sent = app
        .client
        .post(format!("{}/v1/conversations/{conv}/messages", app.address))
        .bearer_auth(agent_jwt("ann"))
        .json(&json!({ "text": text }))
        .send()
        .await
        .expect("sent");
    assert_eq!(sent.status(), 201);
    let reply: Value = sent.json().await.expect("json");
    let id = reply["id"].as_str().expect("id").to_owned();
    wait_status(app, conv, &id, "sent").await;
    id
}

/// The reply's delivery, as its timeline entry shows it.
async fn delivery(app: &TestApp, conv: &str, id: &str) -> Value {
    let view = app.admin_json(&format!("/v1/conversations/{conv}")).await;
    view["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["id"] == id)
        .map(|m| m["delivery"].clone())
        .unwrap_or(Value::Null)
}

async fn wait_status(app: &TestApp, conv: &str, id: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = delivery(app, conv, id).await;
        if d["status"] == status {
            return;
        }
        assert!(Instant::now() < deadline, "{id} never {status}: {d}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn statuses_in_any_order_converge_and_a_failure_reaches_the_agent_with_its_reason() {
    let redis = RedisServer::start();
    let (url, got) = adapter();
    let env = [
        ("SWITCHBOARD_OUTBOUND_URL", url.as_str()),
        ("SWITCHBOARD_OUTBOUND_SECRET", SECRET),
        ("SWITCHBOARD_OUTBOUND__POLL_INTERVAL_MS", "50"),
        ("SWITCHBOARD_META_APP_SECRET", META_SECRET),
        ("SWITCHBOARD_TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("SWITCHBOARD_PUBLIC_URL", PUBLIC),
    ];
    let app = spawn_app(test_settings(Some(&redis.url()), &env)).await;
    app.agent_online("ann").await;
    let wa = app
        .ingest(&message("social", Some("whatsapp"), "14155550166", "hi"))
        .await;
    let conv = wa["conversation_id"].as_str().expect("id").to_owned();

    // Shuffled: read before sent and delivered; the furthest wins.
    let first = reply(&app, &conv, "first reply").await;
    let wamid = format!("wamid.{first}");
    for status in ["read", "sent", "delivered"] {
        meta_status(&app, &wamid, status, None).await;
    }
    assert_eq!(delivery(&app, &conv, &first).await["status"], "read");

    // A failure keeps Meta's code and reason, and is final.
    let second = reply(&app, &conv, "second reply").await;
    let undeliverable = json!({ "code": 131026, "title": "Message undeliverable",
        "message": "Message undeliverable", "error_data": { "details": "Unable to deliver message." } });
    meta_status(
        &app,
        &format!("wamid.{second}"),
        "failed",
        Some(undeliverable),
    )
    .await;
    meta_status(&app, &format!("wamid.{second}"), "delivered", None).await;
    let failed = delivery(&app, &conv, &second).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error_code"], "131026");
    assert_eq!(failed["error"], "Message undeliverable");
    let told = event_replay(&app, "ann").await;
    assert!(told.contains("event: message.delivery"), "{told}");

    // Twilio's signed status callbacks, shuffled, for an SMS reply.
    let sms = app
        .ingest(&message("phone", Some("sms"), "+14155550167", "hello"))
        .await;
    let sms_conv = sms["conversation_id"].as_str().expect("id").to_owned();
    let third = reply(&app, &sms_conv, "by text").await;
    for status in ["delivered", "sent", "queued"] {
        let sid = format!("SM{third}");
        let form = [("MessageSid", sid.as_str()), ("MessageStatus", status)];
        let path = "/v1/adapters/twilio/messaging/status";
        let posted = app
            .twilio_post(TWILIO_TOKEN, PUBLIC, path, &form, None)
            .await;
        assert_eq!(posted.status(), 200);
    }
    let forged = app
        .twilio_post(
            TWILIO_TOKEN,
            PUBLIC,
            "/v1/adapters/twilio/messaging/status",
            &[("MessageSid", "SMx"), ("MessageStatus", "failed")],
            Some("forged"),
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(
        delivery(&app, &sms_conv, &third).await["status"],
        "delivered"
    );

    // The adapter's own route, by the reply's id.
    let path = format!("/v1/deliveries/{third}/status");
    let read = app.adapter_post(&path, &json!({ "status": "read" })).await;
    assert_eq!(read.status(), 200);
    assert_eq!(delivery(&app, &sms_conv, &third).await["status"], "read");
    let unknown = app
        .adapter_post("/v1/deliveries/nope/status", &json!({ "status": "read" }))
        .await;
    assert_eq!(unknown.status(), 404);
    let bad = app.adapter_post(&path, &json!({ "status": "lost" })).await;
    assert_eq!(bad.status(), 400);

    let metrics = app.metrics().await;
    for line in [
        "switchboard_outbound_status_total{channel=\"social\",status=\"failed\"} 1",
        "switchboard_outbound_status_total{channel=\"social\",status=\"read\"} 1",
        "switchboard_outbound_status_total{channel=\"phone\",status=\"read\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing");
    }
    assert_eq!(got.lock().expect("lock").len(), 3, "each reply sent once");
}
