//! Agents' replies reach the adapter's outbound URL signed, and are retried until they do.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::helpers::{message, spawn_app, test_settings, RedisServer};

pub const SECRET: &str = "outbound-secret";

/// A local adapter: refuses the first delivery with 500, then accepts; records what it
/// accepted and whether every signature it saw was valid.
pub struct Receiver {
    pub url: String,
    calls: Arc<AtomicUsize>,
    pub accepted: Arc<Mutex<Vec<Value>>>,
    bad_signatures: Arc<AtomicUsize>,
}

impl Receiver {
    /// Requests whose signature did not check out.
    pub fn bad_signatures(&self) -> usize {
        self.bad_signatures.load(Ordering::SeqCst)
    }
}

pub fn receiver() -> Receiver {
    let calls = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let bad = Arc::new(AtomicUsize::new(0));
    let (c, a, b) = (calls.clone(), accepted.clone(), bad.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://127.0.0.1:{}/send",
        listener.local_addr().expect("addr").port()
    );
    let server = HttpServer::new(move || {
        let (c, a, b) = (c.clone(), a.clone(), b.clone());
        App::new().route(
            "/send",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let (c, a, b) = (c.clone(), a.clone(), b.clone());
                async move {
                    let sig = req
                        .headers()
                        .get("X-Switchboard-Signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if sig != switchboard::app::outbound::sign(SECRET, &body) {
                        b.fetch_add(1, Ordering::SeqCst);
                        return HttpResponse::Unauthorized().finish();
                    }
                    if c.fetch_add(1, Ordering::SeqCst) == 0 {
                        return HttpResponse::InternalServerError().finish();
                    }
                    a.lock()
                        .expect("lock")
                        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                    HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    Receiver {
        url,
        calls,
        accepted,
        bad_signatures: bad,
    }
}

#[tokio::test]
async fn a_reply_reaches_the_outbound_url_signed_and_is_retried_until_it_does() {
    let redis = RedisServer::start();
    let rx = receiver();
    let env = [
        ("SWITCHBOARD_OUTBOUND_URL", rx.url.as_str()),
        ("SWITCHBOARD_OUTBOUND_SECRET", SECRET),
        ("SWITCHBOARD_OUTBOUND__FIRST_BACKOFF_MS", "100"),
        ("SWITCHBOARD_OUTBOUND__POLL_INTERVAL_MS", "50"),
    ];
    let app = spawn_app(test_settings(Some(&redis.url()), &env)).await;
    let receipt = app
        .ingest(&message(
            "social",
            Some("whatsapp"),
            "14155550100",
            "hello?",
        ))
        .await;
    let conv = receipt["conversation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let reply = app
        .admin_post(
            &format!("/v1/conversations/{conv}/messages"),
            &json!({ "text": "Hi Jane!" }),
        )
        .await;
    assert_eq!(reply.status(), 201);
    let reply: Value = reply.json().await.expect("json");
    assert_eq!(reply["delivery"], "pending");
    let id = reply["id"].as_str().unwrap_or_default().to_owned();

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = app.admin_json(&format!("/v1/deliveries/{id}")).await;
        if state["state"] == "delivered" {
            assert_eq!(state["attempts"], 2, "one failure, then success: {state}");
            break;
        }
        assert!(Instant::now() < deadline, "not delivered: {state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rx.calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        rx.bad_signatures.load(Ordering::SeqCst),
        0,
        "every delivery was signed"
    );
    let got = rx.accepted.lock().expect("lock").clone();
    assert_eq!(got.len(), 1);
    let d = &got[0];
    assert_eq!(
        (d["conversation_id"].as_str(), d["message_id"].as_str()),
        (Some(conv.as_str()), Some(id.as_str()))
    );
    assert_eq!(
        (
            d["channel"].as_str(),
            d["network"].as_str(),
            d["recipient"].as_str()
        ),
        (Some("social"), Some("whatsapp"), Some("+14155550100"))
    );
    assert_eq!(d["text"], "Hi Jane!");
    assert_eq!(app.admin_get("/v1/deliveries/nope").await.status(), 404);
}
