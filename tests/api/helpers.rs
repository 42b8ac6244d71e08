//! Test harness: a real `redis-server` per test on a free loopback port (stopped on
//! drop), and `spawn_app()` serving the whole application on port 0.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;

use serde_json::{json, Value};
use switchboard::configuration::Settings;
use switchboard::domain::{IdentityNormaliser, InboundMessage, Limits};
use switchboard::http::messages::IngestRequest;
use switchboard::startup::Application;
use switchboard::store::archive::Archive;
use switchboard::store::{MemoryStore, RedisStore, Store, StorePolicy};
use tokio::sync::oneshot;
use uuid::Uuid;

#[path = "../support/redis_server.rs"]
mod redis_server;
pub use redis_server::{free_port, RedisServer};
#[path = "../support/postgres_server.rs"]
mod postgres_server;
pub use postgres_server::PostgresServer;
#[path = "../support/idp.rs"]
mod idp;
pub use idp::ApiIdp;
#[path = "../support/signature.rs"]
mod signature;
pub use signature::sha256_signature;

pub const ADAPTER_TOKEN: &str = "test-adapter-token";
pub const ADMIN_TOKEN: &str = "test-admin-token";
/// Twilio's auth token and the public URL the Twilio tests sign their requests with.
pub const TWILIO_TOKEN: &str = "twilio-secret";
pub const PUBLIC: &str = "https://switchboard.example.com";
pub const AGENT_JWT_SECRET: &str = "test-agent-secret-of-32-bytes-ok";

/// An agent's bearer token, valid for an hour.
pub fn agent_jwt(agent: &str) -> String {
    let claims = json!({ "sub": agent, "exp": chrono::Utc::now().timestamp() + 3600 });
    let key = jsonwebtoken::EncodingKey::from_secret(AGENT_JWT_SECRET.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).expect("jwt")
}

/// Settings for a test app: ephemeral ports, known tokens, and `extra` on top.
pub fn test_settings(redis_url: Option<&str>, extra: &[(&str, &str)]) -> Settings {
    let mut env: HashMap<String, String> = [
        ("SWITCHBOARD_LISTEN", "127.0.0.1:0"),
        ("SWITCHBOARD_OPS_LISTEN", "127.0.0.1:0"),
        ("SWITCHBOARD_ADAPTER_TOKENS", ADAPTER_TOKEN),
        ("SWITCHBOARD_ADMIN_TOKEN", ADMIN_TOKEN),
        ("SWITCHBOARD_AGENT_JWT_SECRET", AGENT_JWT_SECRET),
        ("SWITCHBOARD_ROUTING__TIMER_INTERVAL_MS", "50"),
        ("SWITCHBOARD_HTTP__WORKERS", "2"),
        ("SWITCHBOARD_HTTP__SHUTDOWN_TIMEOUT_SECS", "5"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(url) = redis_url {
        env.insert("SWITCHBOARD_REDIS_URL".into(), url.into());
        // The cluster is shared by every test of the process: each app gets its own keys.
        let prefix = match url.contains(',') {
            true => format!("t{}", Uuid::new_v4().simple()),
            false => "sb".into(),
        };
        env.insert("SWITCHBOARD_REDIS__KEY_PREFIX".into(), prefix);
    }
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    Settings::load_from(env).expect("test settings")
}

/// A running application and a client for it.
/// Requests to a running service, with the tests' credentials: shared by the in-process
/// `TestApp` and the real binary (`shutdown::Binary::client`).
pub struct ApiClient {
    pub address: String,
    pub ops_address: String,
    pub client: reqwest::Client,
}

/// The service in this process, on free ports; its requests are `ApiClient`'s.
pub struct TestApp {
    api: ApiClient,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl std::ops::Deref for TestApp {
    type Target = ApiClient;

    fn deref(&self) -> &ApiClient {
        &self.api
    }
}

/// An app on a fresh deployment: its operator finalized the storage format at install
/// (the embedded store does so itself), so it writes the newest format.
pub async fn spawn_app(settings: Settings) -> TestApp {
    let app = spawn_app_unfinalized(settings).await;
    let finalized = app
        .admin_post("/v1/storage-format/finalize", &json!({}))
        .await;
    assert_eq!(finalized.status(), 200, "storage format finalized");
    app
}

/// An app that writes what the deployment's stored format says (the previous one on a
/// Redis nobody finalized).
pub async fn spawn_app_unfinalized(settings: Settings) -> TestApp {
    let app = Application::build(&settings).await.expect("app builds");
    start(app)
}

fn start(app: Application) -> TestApp {
    let address = format!("http://127.0.0.1:{}", app.port());
    let ops_address = format!("http://127.0.0.1:{}", app.ops_port());
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    TestApp {
        api: ApiClient::new(address, ops_address),
        shutdown: Some(tx),
        task: Some(task),
    }
}

impl ApiClient {
    pub fn new(address: String, ops_address: String) -> Self {
        Self {
            address,
            ops_address,
            client: reqwest::Client::new(),
        }
    }

    pub async fn post_message(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/messages", self.address))
            .bearer_auth(ADAPTER_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Posts a form to a Twilio webhook `path`, signed as Twilio does with `token` over
    /// `public` + `path` (or carrying `forged` as the signature).
    pub async fn twilio_post(
        &self,
        token: &str,
        public: &str,
        path: &str,
        form: &[(&str, &str)],
        forged: Option<&str>,
    ) -> reqwest::Response {
        let params: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let sig = forged.map(str::to_owned).unwrap_or_else(|| {
            switchboard::adapters::twilio::signature::sign(
                token,
                &format!("{public}{path}"),
                &params,
            )
        });
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.client
            .post(format!("{}{path}", self.address))
            .header("X-Twilio-Signature", sig)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("sent")
    }

    /// Posts a form to a Twilio webhook `path`, signed with `TWILIO_TOKEN` over `PUBLIC`
    /// (or carrying `forged`); answers the status and the body (TwiML).
    pub async fn twilio(
        &self,
        path: &str,
        form: &[(&str, &str)],
        forged: Option<&str>,
    ) -> (u16, String) {
        let r = self
            .twilio_post(TWILIO_TOKEN, PUBLIC, path, form, forged)
            .await;
        (r.status().as_u16(), r.text().await.expect("text"))
    }

    /// Posts JSON with the adapter token (the site's widget, a survey, ...).
    pub async fn adapter_post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .bearer_auth(ADAPTER_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Posts a message that must be accepted, and answers its receipt.
    pub async fn ingest(&self, body: &Value) -> Value {
        let response = self.post_message(body).await;
        assert_eq!(
            response.status(),
            202,
            "ingest refused: {:?}",
            response.text().await
        );
        response.json().await.expect("receipt json")
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn admin_json(&self, path: &str) -> Value {
        let response = self.admin_get(path).await;
        assert_eq!(
            response.status(),
            200,
            "GET {path}: {:?}",
            response.text().await
        );
        response.json().await.expect("json")
    }

    pub async fn admin_put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(format!("{}{path}", self.address))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn agent_get(&self, agent: &str, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .bearer_auth(agent_jwt(agent))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn agent_put(&self, agent: &str, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(format!("{}{path}", self.address))
            .bearer_auth(agent_jwt(agent))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// The ops port's Prometheus text.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.ops_address))
            .send()
            .await
            .expect("sent")
            .text()
            .await
            .expect("text")
    }

    /// Creates agent `id` (default capacities) and sets it online.
    pub async fn agent_online(&self, id: &str) {
        self.admin_put(&format!("/v1/agents/{id}"), &json!({ "name": id }))
            .await;
        self.admin_put(
            &format!("/v1/agents/{id}/presence"),
            &json!({ "presence": "online" }),
        )
        .await;
    }

    pub async fn admin_delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(format!("{}{path}", self.address))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.address))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }
}

impl TestApp {
    /// Stops the app the way SIGTERM does and waits until it has drained.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("app task").expect("app stopped cleanly");
        }
    }
}

/// A unique external id, so tests never collide.
pub fn ext() -> String {
    Uuid::new_v4().to_string()
}

/// An inbound message body as an adapter sends it.
pub fn message(channel: &str, network: Option<&str>, from: &str, text: &str) -> Value {
    json!({ "channel": channel, "network": network, "external_id": ext(), "from": from, "text": text })
}

/// Store-level helpers for the conformance suite.
pub fn normaliser() -> IdentityNormaliser {
    IdentityNormaliser::new("US").expect("region")
}

pub fn inbound(body: Value) -> InboundMessage {
    let dto: IngestRequest = serde_json::from_value(body).expect("dto");
    InboundMessage::parse(dto.into(), &normaliser(), &Limits::default()).expect("valid message")
}

pub fn memory_store(policy: StorePolicy) -> Arc<dyn Store> {
    Arc::new(MemoryStore::new(policy))
}

/// A Redis store on its own server (returned so it lives as long as the store).
pub fn redis_store(policy: StorePolicy) -> (Arc<dyn Store>, RedisServer) {
    let server = RedisServer::start();
    let prefix = format!("t{}", Uuid::new_v4().simple());
    let store = RedisStore::connect(&server.url(), &prefix, policy).expect("redis store");
    (Arc::new(store), server)
}

/// A real local Redis Cluster (3 masters + 3 replicas, `scripts/redis-cluster.sh`),
/// started once and shared by every test of this process, each keeping its keys under
/// its own prefix; it stops itself when the test process ends. Answers its nodes as
/// `SWITCHBOARD_REDIS_URL` takes them.
pub fn cluster_nodes() -> &'static str {
    static NODES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NODES.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("switchboard-cluster-{}", std::process::id()));
        start_cluster(&dir)
    })
}

/// Starts a Redis Cluster with its files in `dir` (`scripts/redis-cluster.sh`), stopping
/// itself when this test process ends; answers its nodes.
pub fn start_cluster(dir: &std::path::Path) -> String {
    let out = Command::new(CLUSTER_SCRIPT)
        .arg("start")
        .arg(dir)
        .arg(std::process::id().to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {CLUSTER_SCRIPT}: {e}"));
    assert!(
        out.status.success(),
        "the Redis Cluster did not start: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub const CLUSTER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/redis-cluster.sh");

/// A store under test: the embedded one, Redis on its own server, or the Redis Cluster.
pub struct Harness {
    pub store: Arc<dyn Store>,
    _server: Option<RedisServer>,
}

impl Harness {
    pub fn memory() -> Self {
        Self::memory_with(StorePolicy::default())
    }

    pub fn memory_with(policy: StorePolicy) -> Self {
        Self {
            store: memory_store(policy),
            _server: None,
        }
    }

    pub fn redis() -> Self {
        Self::redis_with(StorePolicy::default())
    }

    pub fn cluster() -> Self {
        let prefix = format!("t{}", Uuid::new_v4().simple());
        let store = RedisStore::connect(cluster_nodes(), &prefix, StorePolicy::default())
            .expect("cluster store");
        Self {
            store: Arc::new(store),
            _server: None,
        }
    }

    /// A store of `kind` (`memory`, `redis`, `cluster`) that reads archived
    /// conversations through the archive at `archive_url`.
    pub fn archived(kind: &str, archive_url: &str) -> Self {
        let archive = Some(Archive::connect(archive_url).expect("archive pool"));
        let policy = StorePolicy::default();
        let prefix = format!("t{}", Uuid::new_v4().simple());
        let (store, server): (Arc<dyn Store>, _) = match kind {
            "memory" => (
                Arc::new(MemoryStore::new(policy).with_archive(archive)),
                None,
            ),
            "redis" => {
                let server = RedisServer::start();
                let store = RedisStore::connect(&server.url(), &prefix, policy).expect("redis");
                (Arc::new(store.with_archive(archive)), Some(server))
            }
            _ => {
                let store = RedisStore::connect(cluster_nodes(), &prefix, policy).expect("cluster");
                (Arc::new(store.with_archive(archive)), None)
            }
        };
        Self {
            store,
            _server: server,
        }
    }

    /// The Redis server's URL, when the store has a server of its own.
    pub fn redis_url(&self) -> Option<String> {
        self._server.as_ref().map(RedisServer::url)
    }

    pub fn redis_with(policy: StorePolicy) -> Self {
        let (store, server) = redis_store(policy);
        Self {
            store,
            _server: Some(server),
        }
    }
}

/// Runs each `async fn name(h: Harness)` against every store: `memory::name`,
/// `redis::name` (one server) and `cluster::name` (a Redis Cluster).
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test] async fn $name() { super::$name(crate::helpers::Harness::memory()).await } )*
        }
        mod redis {
            $( #[tokio::test] async fn $name() { super::$name(crate::helpers::Harness::redis()).await } )*
        }
        mod cluster {
            $( #[tokio::test] async fn $name() { super::$name(crate::helpers::Harness::cluster()).await } )*
        }
    };
}

/// Runs each `async fn name(kind: &str)` with a store of every kind: `memory::name`,
/// `redis::name` (one server), `cluster::name` (the 3+3 Redis Cluster).
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test] async fn $name() { super::$name("memory").await } )*
        }
        mod redis {
            $( #[tokio::test] async fn $name() { super::$name("redis").await } )*
        }
        mod cluster {
            $( #[tokio::test] async fn $name() { super::$name("cluster").await } )*
        }
    };
}

/// Runs `check` against an app on the embedded store and on a real Redis.
pub async fn on_both_stores<F, Fut>(check: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let redis = RedisServer::start();
    for url in [None, Some(redis.url())] {
        check(spawn_app(test_settings(url.as_deref(), &[])).await).await;
    }
}

/// xorshift64*: a tiny deterministic generator, so a failing seed (or a simulated day)
/// can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// The tests' fixed start of the clock: Sunday 22 November 2026, 10:00 UTC.
pub fn t0() -> chrono::DateTime<chrono::Utc> {
    "2026-11-22T10:00:00Z".parse().expect("time")
}

/// An agent id written in a test.
pub fn agent_id(s: &str) -> switchboard::domain::AgentId {
    s.parse().expect("agent id")
}

/// Agent `agent` (default capacities) working in routing group `group`.
pub fn group_profile(agent: &str, group: &str) -> switchboard::domain::AgentProfile {
    use switchboard::domain::{AgentProfile, Capacity};
    AgentProfile::new(
        agent_id(agent),
        agent.to_owned(),
        vec![],
        Capacity::default(),
    )
    .expect("profile")
    .in_group(group.parse().expect("group"))
}
