//! The parts a desk test runs: the real `switchboard` binary on the embedded store, a
//! stand-in for the adapters' outbound URL that records what it is sent, and a headless
//! Debian Chromium driven through chromedriver (WebDriver).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

// Shared with tests/api, which uses all of it.
#[allow(dead_code)]
#[path = "../support/redis_server.rs"]
mod redis_server;
pub use redis_server::{free_port, RedisServer};

pub const ADMIN: &str = "desk-admin";
pub const ADAPTER: &str = "desk-adapter";
pub const SECRET: &str = "desk-secret-for-tests-32-bytes-ok";
/// What signs outbound deliveries (`X-Switchboard-Signature`).
const OUTBOUND_SECRET: &str = "desk-outbound-secret";

/// A child process killed when the test ends, however it ends.
pub struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[path = "../support/signature.rs"]
mod signature;

// Shared with tests/api, which uses the API provider too.
#[allow(dead_code)]
#[path = "../support/idp.rs"]
mod idp;
pub use idp::NodeIdp;

/// What the outbound stand-in received: one JSON body per delivery.
#[derive(Clone, Default)]
pub struct Outbox(Arc<Mutex<Vec<Value>>>);

impl Outbox {
    pub fn received(&self) -> Vec<Value> {
        self.0.lock().expect("outbox").clone()
    }
}

/// Starts the outbound stand-in: it keeps and answers 200 to a `POST /send` whose
/// signature is right, and refuses (401) anything else.
pub fn outbound_receiver() -> (String, Outbox) {
    let outbox = Outbox::default();
    let kept = outbox.clone();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/send", listener.local_addr().expect("addr"));
    let server = HttpServer::new(move || {
        let kept = kept.clone();
        App::new().route(
            "/send",
            web::post().to(move |req: actix_web::HttpRequest, body: web::Bytes| {
                let kept = kept.clone();
                async move {
                    let signed = req
                        .headers()
                        .get("X-Switchboard-Signature")
                        .and_then(|v| v.to_str().ok());
                    let json = serde_json::from_slice::<Value>(&body);
                    match json {
                        Ok(json)
                            if signed
                                == Some(
                                    signature::sha256_signature(OUTBOUND_SECRET, &body).as_str(),
                                ) =>
                        {
                            kept.0.lock().expect("outbox").push(json);
                            HttpResponse::Ok().finish()
                        }
                        _ => HttpResponse::Unauthorized().finish(),
                    }
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    (url, outbox)
}

/// The service, as README's run command starts it (the embedded store, or `redis`), plus
/// an agent secret and an outbound URL.
pub struct Service {
    pub base: String,
    pub http: reqwest::Client,
    _process: Running,
}

impl Service {
    pub async fn start(outbound_url: &str, redis: Option<&str>) -> Self {
        Self::start_on(free_port(), outbound_url, redis, &[]).await
    }

    /// `start` on API port `api` (a provider must know the desk's address first), with
    /// `env` on top.
    pub async fn start_on(
        api: u16,
        outbound_url: &str,
        redis: Option<&str>,
        env: &[(&str, &str)],
    ) -> Self {
        let ops = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.envs(env.iter().copied());
        match redis {
            Some(url) => cmd.env("SWITCHBOARD_REDIS_URL", url),
            None => cmd.env_remove("SWITCHBOARD_REDIS_URL"),
        };
        let child = cmd
            .env("SWITCHBOARD_LISTEN", format!("127.0.0.1:{api}"))
            .env("SWITCHBOARD_OPS_LISTEN", format!("127.0.0.1:{ops}"))
            .env("SWITCHBOARD_ADMIN_TOKEN", ADMIN)
            .env("SWITCHBOARD_ADAPTER_TOKENS", ADAPTER)
            .env("SWITCHBOARD_AGENT_JWT_SECRET", SECRET)
            .env("SWITCHBOARD_OUTBOUND_URL", outbound_url)
            .env("SWITCHBOARD_OUTBOUND_SECRET", OUTBOUND_SECRET)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start switchboard");
        let service = Self {
            base: format!("http://127.0.0.1:{api}"),
            http: reqwest::Client::new(),
            _process: Running(child),
        };
        let ready = format!("http://127.0.0.1:{ops}/readyz");
        eventually("the service is ready", || async {
            let answer = service.http.get(&ready).send().await.ok()?;
            answer.status().is_success().then_some(())
        })
        .await;
        // A fresh deployment: its operator finalized the storage format at install.
        service
            .call(
                "POST",
                "/v1/storage-format/finalize",
                ADMIN,
                serde_json::json!({}),
            )
            .await;
        service
    }

    /// A token from the real `agent-token` subcommand, as an admin would hand it out.
    pub fn token(&self, agent: &str, role: Option<&str>) -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.args(["agent-token", agent, "--ttl", "1h"])
            .env("SWITCHBOARD_AGENT_JWT_SECRET", SECRET);
        if let Some(role) = role {
            cmd.args(["--role", role]);
        }
        let out = cmd.output().expect("agent-token");
        assert!(out.status.success(), "agent-token failed: {out:?}");
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    pub async fn call(&self, method: &str, path: &str, token: &str, body: Value) -> Value {
        let method = method.parse().expect("method");
        let answer = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    pub async fn put_agent(&self, id: &str, name: &str) {
        self.call(
            "PUT",
            &format!("/v1/agents/{id}"),
            ADMIN,
            json!({ "name": name }),
        )
        .await;
    }

    /// A customer's inbound message, as an adapter sends it.
    pub async fn customer_writes(&self, message: Value) -> Value {
        self.call("POST", "/v1/messages", ADAPTER, message).await
    }
}

/// chromedriver on a free port, and sessions of headless Chromium through it.
pub struct Browser {
    url: String,
    _driver: Running,
}

impl Browser {
    pub async fn start() -> Self {
        let port = free_port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver (scripts/test.sh installs Debian's chromium-driver)");
        let browser = Self {
            url: format!("http://127.0.0.1:{port}"),
            _driver: Running(driver),
        };
        let status = format!("{}/status", browser.url);
        eventually("chromedriver answers", || async {
            reqwest::get(&status).await.ok().map(|_| ())
        })
        .await;
        browser
    }

    /// A new browser (its own profile: its own sessionStorage and audio policy).
    pub async fn session(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,900"],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// Polls `probe` until it answers, for up to 20 seconds (the page polls presence every 5).
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Text of the first element matching `css`, or `None` when there is none yet.
pub async fn text_of(page: &Client, css: &str) -> Option<String> {
    page.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

/// Signs in on `/desk` (or the wall) with a token typed into the form.
pub async fn sign_in(page: &Client, url: &str, token: &str) {
    page.goto(url).await.expect("goto");
    let field = page
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#token"))
        .await
        .expect("the sign-in form");
    field.send_keys(token).await.expect("type the token");
    page.find(Locator::Css("#signin-form button[type=submit]"))
        .await
        .expect("sign-in button")
        .click()
        .await
        .expect("click");
    eventually("the desk shows after sign-in", || async {
        let app = page.find(Locator::Css("#app")).await.ok()?;
        app.is_displayed().await.ok()?.then_some(())
    })
    .await;
}

/// Saves a screenshot under `$SWITCHBOARD_SCREENSHOTS` when it is set (README's pictures).
pub async fn screenshot(page: &Client, name: &str) {
    if let Ok(dir) = std::env::var("SWITCHBOARD_SCREENSHOTS") {
        let png = page.screenshot().await.expect("screenshot");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(format!("{dir}/{name}.png"), png).expect("write screenshot");
    }
}
