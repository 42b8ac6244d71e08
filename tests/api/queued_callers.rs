//! A caller waiting in Twilio's queue is connected to the agent routing later assigns:
//! a local stand-in for Twilio's REST API checks the request as Twilio would (path,
//! HTTP Basic `AccountSid:AuthToken`, a form with `Twiml`) and counts what it gets,
//! with two replicas sharing one Redis.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::{message, spawn_app, test_settings, RedisServer, TestApp};

const TOKEN: &str = "twilio-secret";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const PUBLIC: &str = "https://switchboard.example.com";

/// Call ids as Twilio makes them: `CA` and 32 hex digits.
fn sid(n: u8) -> String {
    format!("CA{:032x}", n)
}

/// What the stand-in accepted: (call id, TwiML), and requests it refused.
#[derive(Default)]
struct Seen {
    redirects: Vec<(String, String)>,
    refused: Vec<String>,
}

fn twilio_api() -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let server = HttpServer::new(move || {
        let s = s.clone();
        App::new().route(
            "/2010-04-01/Accounts/{account}/Calls/{call}.json",
            web::post().to(
                move |req: HttpRequest, path: web::Path<(String, String)>, body: web::Bytes| {
                    let s = s.clone();
                    async move {
                        let (account, call) = path.into_inner();
                        let basic = format!(
                            "Basic {}",
                            base64::engine::general_purpose::STANDARD
                                .encode(format!("{ACCOUNT}:{TOKEN}"))
                        );
                        let auth = req
                            .headers()
                            .get("Authorization")
                            .and_then(|v| v.to_str().ok());
                        let form_type = req
                            .headers()
                            .get("Content-Type")
                            .and_then(|v| v.to_str().ok())
                            == Some("application/x-www-form-urlencoded");
                        let form: Vec<(String, String)> =
                            form_urlencoded::parse(&body).into_owned().collect();
                        let twiml = form
                            .iter()
                            .find(|(k, _)| k == "Twiml")
                            .map(|(_, v)| v.clone());
                        let mut seen = s.lock().expect("lock");
                        match (
                            account == ACCOUNT && auth == Some(basic.as_str()) && form_type,
                            twiml,
                        ) {
                            (true, Some(twiml)) => {
                                seen.redirects.push((call.clone(), twiml));
                                HttpResponse::Ok()
                                    .json(json!({ "sid": call, "status": "in-progress" }))
                            }
                            _ => {
                                seen.refused.push(call);
                                HttpResponse::Unauthorized().json(json!({ "code": 20003 }))
                            }
                        }
                    }
                },
            ),
        )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    (url, seen)
}

async fn replica(redis: &RedisServer, api: &str) -> TestApp {
    let env = [
        ("SWITCHBOARD_TWILIO_AUTH_TOKEN", TOKEN),
        ("SWITCHBOARD_TWILIO_ACCOUNT_SID", ACCOUNT),
        ("SWITCHBOARD_TWILIO_API_URL", api),
        ("SWITCHBOARD_PUBLIC_URL", PUBLIC),
        ("SWITCHBOARD_OUTBOUND__POLL_INTERVAL_MS", "20"),
    ];
    spawn_app(test_settings(Some(&redis.url()), &env)).await
}

/// Posts a Twilio Voice webhook, signed as Twilio does.
async fn twilio(app: &TestApp, path: &str, form: &[(&str, &str)]) -> String {
    let r = app.twilio_post(TOKEN, PUBLIC, path, form, None).await;
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.expect("text")
}

async fn ring(app: &TestApp, call: &str, from: &str) -> String {
    let form = [
        ("CallSid", call),
        ("AccountSid", ACCOUNT),
        ("From", from),
        ("To", "+18005550000"),
    ];
    twilio(app, "/v1/adapters/twilio/voice", &form).await
}

async fn hang_up(app: &TestApp, call: &str, queued: bool) {
    let mut form = vec![("CallSid", call), ("CallStatus", "completed")];
    if queued {
        form.push(("QueueResult", "hangup"));
    }
    twilio(app, "/v1/adapters/twilio/voice/status", &form).await;
}

/// Agent `a` serves three customers by SMS first, so they are a's and known callers.
async fn customers_of_a(app: &TestApp) {
    app.agent_online("a").await;
    for n in 1..=3 {
        let from = format!("+1415555010{n}");
        let r = app
            .ingest(&message("phone", Some("sms"), &from, "hi"))
            .await;
        let conv = r["conversation_id"].as_str().unwrap_or_default().to_owned();
        app.admin_post(&format!("/v1/conversations/{conv}/resolve"), &json!({}))
            .await;
    }
}

async fn phone_load(app: &TestApp) -> Value {
    app.admin_json("/v1/agents/a").await["load"]["phone"].clone()
}

#[tokio::test]
async fn a_queued_caller_is_redirected_to_the_agent_routing_assigns_exactly_once() {
    let redis = RedisServer::start();
    let (api, seen) = twilio_api();
    let (one, two) = (replica(&redis, &api).await, replica(&redis, &api).await);
    customers_of_a(&one).await;
    let talking = ring(&one, &sid(1), "+14155550101").await;
    assert!(talking.contains("<Client>a</Client>"), "{talking}");
    let waiting = ring(&two, &sid(2), "+14155550102").await;
    assert!(
        waiting.contains("<Enqueue"),
        "a's only line is busy: {waiting}"
    );

    // The first caller hangs up on the other replica: a's line frees, routing gives it
    // to the waiting caller, and Twilio is asked to connect that call to a.
    hang_up(&one, &sid(1), false).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(phone_load(&two).await, 1);
    let seen = seen.lock().expect("lock");
    assert!(seen.refused.is_empty(), "refused: {:?}", seen.refused);
    assert_eq!(
        seen.redirects.len(),
        1,
        "exactly once: {:?}",
        seen.redirects
    );
    let (call, twiml) = &seen.redirects[0];
    assert_eq!(call, &sid(2));
    assert!(
        twiml.starts_with(&format!(
            "<Response><Dial action=\"{PUBLIC}/v1/adapters/twilio/voice/dial?agent=a\""
        )),
        "{twiml}"
    );
    assert!(
        twiml.contains("<Client>a</Client></Dial></Response>"),
        "{twiml}"
    );
}

#[tokio::test]
async fn a_caller_who_hangs_up_in_the_queue_is_never_connected_but_called_back() {
    let redis = RedisServer::start();
    let (api, seen) = twilio_api();
    let (one, two) = (replica(&redis, &api).await, replica(&redis, &api).await);
    customers_of_a(&one).await;
    ring(&one, &sid(1), "+14155550101").await;
    let waiting = ring(&two, &sid(3), "+14155550103").await;
    assert!(waiting.contains("<Enqueue"), "{waiting}");
    hang_up(&two, &sid(3), true).await;
    let snapshot = one.admin_json("/v1/agents/a").await;
    assert_eq!(
        snapshot["load"]["phone"], 1,
        "still talking to the first caller"
    );

    // The line frees: nobody is on the line any more, so no call is redirected; the
    // conversation still waits in the queue (no conversation is left behind), and the
    // freed agent takes it to call the customer back.
    hang_up(&one, &sid(1), false).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        phone_load(&one).await,
        1,
        "the unit freed once, for the call-back"
    );
    let call = one.admin_json(&format!("/v1/calls/{}", sid(3))).await;
    let conv = call["conversation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let view = one.admin_json(&format!("/v1/conversations/{conv}")).await;
    assert_eq!(view["agent_id"], "a", "{view}");
    let seen = seen.lock().expect("lock");
    assert!(seen.redirects.is_empty(), "{:?}", seen.redirects);
    assert!(seen.refused.is_empty(), "{:?}", seen.refused);
}
