//! Ingest benchmark: drives `POST /v1/messages` over HTTP against the service backed by
//! Redis, and in the same run measures two ceilings with the same client and
//! concurrency: `GET /healthz` on the same service (HTTP alone) and one bare Redis round
//! trip (`PING`), plus `GET /readyz` (HTTP and one Redis round trip). Reports each as requests/s with p50/p99 and the ingest rate as a ratio
//! of both, since absolute numbers on a shared machine mean little.
//!
//! cargo bench --bench ingest -- [--redis redis://127.0.0.1:6379] [--url http://host:port]
//!     [--customers 1000] [--concurrency 32] [--requests 20000] [--routing-cycles 3000]
//!     [--replicas-to-ack 1]   (the first ingest waits for a replica: run one)
//!     [--cluster host:port,host:port,...]   (routing groups on a Redis Cluster, below)
//!
//! Then the routing scenario: with 10 and with 10,000 online agents, cycles of a new
//! customer's first message (personal agent chosen, conversation assigned) and its
//! resolution; the two rates and their ratio show whether routing cost grows with agents.
//!
//! With `--cluster`, routing groups: the same cycles with 40 agents on one server in one
//! group, on the cluster in one group, and on the cluster in 4 groups (`default`, `sales`,
//! `es`, `vip`, whose hash tags sit on three different masters), each customer writing
//! to one group's inbox; the ratios show what a cluster costs and what groups buy back.
//!
//! Without `--url` the service runs in this process on a free port (`--url` points it at
//! a running one instead, whose adapter token is `$SWITCHBOARD_BENCH_TOKEN`, and whose
//! `/healthz` is at `--ops-url`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;
use switchboard::configuration::Settings;
use switchboard::startup::Application;

struct Args {
    redis: String,
    url: Option<String>,
    ops_url: Option<String>,
    customers: usize,
    concurrency: usize,
    requests: usize,
    routing_cycles: usize,
    /// `[redis] replicas_to_ack` of the measured ingest service (a replica must run).
    replicas_to_ack: u32,
    /// A Redis Cluster's nodes, for the routing-groups scenario.
    cluster: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        redis: "redis://127.0.0.1:6379".into(),
        url: None,
        ops_url: None,
        customers: 1000,
        concurrency: 32,
        requests: 20_000,
        routing_cycles: 3_000,
        replicas_to_ack: 0,
        cluster: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let value = || it.clone().next().cloned().unwrap_or_default();
        let v = value();
        match flag.as_str() {
            "--redis" => a.redis = v,
            "--url" => a.url = Some(v),
            "--ops-url" => a.ops_url = Some(v),
            "--customers" => a.customers = v.parse().unwrap_or(a.customers),
            "--concurrency" => a.concurrency = v.parse().unwrap_or(a.concurrency),
            "--requests" => a.requests = v.parse().unwrap_or(a.requests),
            "--routing-cycles" => a.routing_cycles = v.parse().unwrap_or(a.routing_cycles),
            "--replicas-to-ack" => a.replicas_to_ack = v.parse().unwrap_or(0),
            "--cluster" => a.cluster = Some(v),
            _ => continue, // `cargo bench` adds `--bench`; ignore what we don't know.
        }
        it.next();
    }
    a
}

/// Latencies of one phase and how long it took.
struct Run {
    name: &'static str,
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(i).copied().unwrap_or_default()
    }

    fn print(&self) {
        println!(
            "{:<10} {:>10.0} req/s   p50 {:>8.3} ms   p99 {:>8.3} ms   ({} requests)",
            self.name,
            self.rate(),
            self.percentile(0.50).as_secs_f64() * 1e3,
            self.percentile(0.99).as_secs_f64() * 1e3,
            self.latencies.len()
        );
    }
}

/// Runs `requests` calls of `op(i)` from `concurrency` workers; panics on a failed call.
async fn drive<F, Fut>(name: &'static str, requests: usize, concurrency: usize, op: F) -> Run
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let (op, next) = (op.clone(), next.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return latencies;
                }
                let t = Instant::now();
                if let Err(e) = op(i).await {
                    panic!("{name} request {i} failed: {e}");
                }
                latencies.push(t.elapsed());
            }
        })
    });
    let latencies = join_all(workers)
        .await
        .into_iter()
        .flat_map(|r| r.unwrap_or_default())
        .collect();
    Run {
        name,
        latencies,
        elapsed: start.elapsed(),
    }
}

fn sender(customer: usize) -> String {
    format!("bench-{customer}@example.com")
}

const ADMIN: &str = "bench-admin";

/// Starts the service in this process on free ports, its keys under a fresh prefix.
/// With `count_limits` every adapter request is counted against a rate limit too high to
/// refuse anything (what the limiter costs); otherwise limits are off.
async fn start_service(
    redis: &str,
    token: &str,
    tag: &str,
    count_limits: bool,
    replicas_to_ack: u32,
) -> (String, String) {
    let replicas = replicas_to_ack.to_string();
    let prefix = format!("bench{}{tag}", std::process::id());
    let adapter_limit = if count_limits { "1000000000" } else { "0" };
    let env = [
        ("SWITCHBOARD_RATE_LIMIT__ADAPTER_PER_SEC", adapter_limit),
        ("SWITCHBOARD_RATE_LIMIT__ADMIN_PER_SEC", "0"),
        ("SWITCHBOARD_REDIS__REPLICAS_TO_ACK", replicas.as_str()),
        ("SWITCHBOARD_REDIS_URL", redis),
        ("SWITCHBOARD_REDIS__KEY_PREFIX", prefix.as_str()),
        ("SWITCHBOARD_LISTEN", "127.0.0.1:0"),
        ("SWITCHBOARD_OPS_LISTEN", "127.0.0.1:0"),
        ("SWITCHBOARD_ADAPTER_TOKENS", token),
        ("SWITCHBOARD_ADMIN_TOKEN", ADMIN),
    ];
    let settings = Settings::load_from(
        env.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .expect("settings");
    let app = Application::build(&settings).await.expect("app");
    let urls = (
        format!("http://127.0.0.1:{}", app.port()),
        format!("http://127.0.0.1:{}", app.ops_port()),
    );
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    urls
}

/// The routing groups of the groups scenario: their hash tags sit on three masters of a
/// three-master cluster made by `scripts/redis-cluster.sh`.
const GROUPS: [&str; 4] = ["default", "sales", "es", "vip"];

/// Creates `n` online agents taking up to `email` e-mails each.
async fn online_agents(
    client: &reqwest::Client,
    api: &str,
    n: usize,
    email: u32,
    concurrency: usize,
) {
    online_agents_in(client, api, n, email, concurrency, 1, false).await
}

/// The languages of the routing scenario with requirements.
const LANGUAGES: [&str; 20] = [
    "en", "es", "de", "fr", "it", "pt", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi", "zh", "ja",
    "ko", "vi", "th", "sv",
];

/// Creates `n` online agents, agent `i` in group `GROUPS[i % groups]`; with `skilled`,
/// agent `i` speaks two of the 20 languages (`i` and `i + 10`) and has billing 3 and
/// refunds `1 + i % 5`.
async fn online_agents_in(
    client: &reqwest::Client,
    api: &str,
    n: usize,
    email: u32,
    concurrency: usize,
    groups: usize,
    skilled: bool,
) {
    let (c, url) = (client.clone(), api.to_owned());
    drive("agents", n, concurrency, move |i| {
        let (c, url) = (c.clone(), url.clone());
        async move {
            let agent = format!("{url}/v1/agents/agent-{i}");
            let group = GROUPS[i % groups.max(1)];
            let mut body = json!({ "name": format!("Agent {i}"), "capacity": { "email": email }, "group": group });
            if skilled {
                body["languages"] = json!([LANGUAGES[i % 20], LANGUAGES[(i + 10) % 20]]);
                body["skills"] = json!({ "billing": 3, "refunds": 1 + i % 5 });
            }
            let r = c
                .put(&agent)
                .bearer_auth(ADMIN)
                .json(&body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !r.status().is_success() {
                return Err(r.status().to_string());
            }
            let r = c
                .put(format!("{agent}/presence"))
                .bearer_auth(ADMIN)
                .json(&json!({ "presence": "online" }))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            r.status()
                .is_success()
                .then_some(())
                .ok_or_else(|| r.status().to_string())
        }
    })
    .await;
}

/// Routing cycles. One cycle is a new customer's first message (a personal agent is
/// chosen and the conversation assigned), then its resolution (capacity back, queue
/// drained); customer `i` writes to the inbox of group `GROUPS[i % groups]` and, with
/// `skilled`, in language `i % 20`, needing billing 2.
#[allow(clippy::too_many_arguments)]
async fn routing_cycles_in(
    client: &reqwest::Client,
    api: &str,
    token: &str,
    cycles: usize,
    concurrency: usize,
    tag: &'static str,
    groups: usize,
    skilled: bool,
) -> Run {
    let (c, url, t) = (client.clone(), api.to_owned(), token.to_owned());
    drive(tag, cycles, concurrency, move |i| {
        let (c, url, t) = (c.clone(), url.clone(), t.clone());
        async move {
            let group = GROUPS[i % groups.max(1)];
            let mut body = json!({ "channel": "email", "external_id": format!("r-{tag}-{i}"), "from": format!("route-{i}@example.com"), "text": "route me", "group": group });
            if skilled {
                body["language"] = json!(LANGUAGES[i % 20]);
                body["skills"] = json!({ "billing": 2 });
            }
            let r = c.post(format!("{url}/v1/messages")).bearer_auth(&t).json(&body).send().await.map_err(|e| e.to_string())?;
            let receipt: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
            if receipt["route"]["decision"] != "assigned" {
                return Err(format!("not assigned: {receipt}"));
            }
            let conv = receipt["conversation_id"].as_str().unwrap_or_default();
            let r = c
                .post(format!("{url}/v1/conversations/{conv}/resolve"))
                .bearer_auth(ADMIN)
                .json(&json!({}))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            r.status().is_success().then_some(()).ok_or_else(|| r.status().to_string())
        }
    })
    .await
}

/// `requests` GETs of `url`, each of which must answer 2xx.
async fn get_ok_run(
    name: &'static str,
    client: &reqwest::Client,
    url: String,
    requests: usize,
    concurrency: usize,
) -> Run {
    let c = client.clone();
    drive(name, requests, concurrency, move |_| {
        let (c, url) = (c.clone(), url.clone());
        async move {
            let r = c.get(&url).send().await.map_err(|e| e.to_string())?;
            r.status()
                .is_success()
                .then_some(())
                .ok_or_else(|| r.status().to_string())
        }
    })
    .await
}

#[tokio::main]
async fn main() {
    let a = args();
    let token = std::env::var("SWITCHBOARD_BENCH_TOKEN").unwrap_or_else(|_| "bench-token".into());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .build()
        .expect("client");
    let (api, ops) = match &a.url {
        Some(url) => (
            url.clone(),
            a.ops_url.clone().unwrap_or_else(|| url.clone()),
        ),
        None => {
            let (api, ops) = start_service(&a.redis, &token, "i", true, a.replicas_to_ack).await;
            // Enough agents for every customer's conversation to be assigned: the measured
            // path is the common case, a known customer writing into an assigned conversation.
            online_agents(
                &client,
                &api,
                a.customers.div_ceil(100).max(1),
                100,
                a.concurrency,
            )
            .await;
            (api, ops)
        }
    };
    println!(
        "ingest benchmark: {} requests, concurrency {}, {} customers, redis {}",
        a.requests, a.concurrency, a.customers, a.redis
    );

    let (c, url, t) = (client.clone(), api.clone(), token.clone());
    drive("warm-up", a.customers, a.concurrency, move |i| {
        ingest(c.clone(), url.clone(), t.clone(), i, format!("warm-{i}"))
    })
    .await;

    let health = get_ok_run(
        "healthz",
        &client,
        format!("{ops}/healthz"),
        a.requests,
        a.concurrency,
    )
    .await;
    // HTTP plus exactly one Redis round trip (the store's PING): the ceiling for any
    // endpoint of this service that touches Redis at all.
    let ready = get_ok_run(
        "readyz",
        &client,
        format!("{ops}/readyz"),
        a.requests,
        a.concurrency,
    )
    .await;

    let redis = redis::Client::open(a.redis.as_str()).expect("redis url");
    let conn = redis::aio::ConnectionManager::new(redis)
        .await
        .expect("redis connection");
    let ping = drive("redis-ping", a.requests, a.concurrency, move |_| {
        let mut conn = conn.clone();
        async move {
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    })
    .await;

    let customers = a.customers.max(1);
    let (c, url, t) = (client.clone(), api.clone(), token.clone());
    let run_id = std::process::id();
    let ingest_run = drive("ingest", a.requests, a.concurrency, move |i| {
        ingest(
            c.clone(),
            url.clone(),
            t.clone(),
            i % customers,
            format!("m-{run_id}-{i}"),
        )
    })
    .await;

    // The same ingest on a service with rate limits off: what counting costs.
    let unlimited = match &a.url {
        Some(_) => None,
        None => {
            let (api, _) = start_service(&a.redis, &token, "n", false, 0).await;
            online_agents(
                &client,
                &api,
                customers.div_ceil(100).max(1),
                100,
                a.concurrency,
            )
            .await;
            let (c, t) = (client.clone(), token.clone());
            let run = drive("ingest-no-limits", a.requests, a.concurrency, move |i| {
                ingest(
                    c.clone(),
                    api.clone(),
                    t.clone(),
                    i % customers,
                    format!("n-{run_id}-{i}"),
                )
            })
            .await;
            Some(run)
        }
    };

    println!();
    for run in [&health, &ready, &ping, &ingest_run]
        .into_iter()
        .chain(&unlimited)
    {
        run.print();
    }
    if let Some(unlimited) = &unlimited {
        println!(
            "ingest (limits counted) / ingest (limits off) = {:.2}",
            ingest_run.rate() / unlimited.rate()
        );
    }
    println!();
    println!(
        "ingest / healthz     = {:.2}",
        ingest_run.rate() / health.rate()
    );
    println!(
        "ingest / readyz      = {:.2}",
        ingest_run.rate() / ready.rate()
    );
    println!(
        "ingest / redis-ping  = {:.2}",
        ingest_run.rate() / ping.rate()
    );

    if a.url.is_some() || a.routing_cycles == 0 {
        return;
    }
    println!();
    println!(
        "routing benchmark: {} cycles (first message + resolve) per size, concurrency {}",
        a.routing_cycles, a.concurrency
    );
    let mut runs = Vec::new();
    let sizes = [
        (10, "route-10", false),
        (10_000, "route-10k", false),
        (10, "route-10-lang", true),
        (10_000, "route-10k-lang", true),
    ];
    for (agents, tag, skilled) in sizes {
        let (api, _) = start_service(&a.redis, &token, tag, false, 0).await;
        online_agents_in(&client, &api, agents, 100, a.concurrency, 1, skilled).await;
        runs.push(
            routing_cycles_in(
                &client,
                &api,
                &token,
                a.routing_cycles,
                a.concurrency,
                tag,
                1,
                skilled,
            )
            .await,
        );
    }
    for run in &runs {
        run.print();
    }
    println!(
        "routing 10k agents / 10 agents = {:.2}",
        runs[1].rate() / runs[0].rate()
    );
    println!(
        "routing with 20 languages and skills: 10k agents / 10 agents = {:.2}; with them / without, 10k agents = {:.2}",
        runs[3].rate() / runs[2].rate(),
        runs[3].rate() / runs[1].rate()
    );
    if let Some(cluster) = &a.cluster {
        routing_groups(&a, cluster, &client, &token).await;
    }
}

/// Known customers' messages into assigned conversations on one service: warm-up (one
/// message per customer) then `requests` measured.
async fn known_ingest(
    a: &Args,
    redis: &str,
    client: &reqwest::Client,
    token: &str,
    tag: &'static str,
) -> Run {
    let (api, _) = start_service(redis, token, tag, false, 0).await;
    let customers = a.customers.max(1);
    online_agents(client, &api, customers.div_ceil(100), 100, a.concurrency).await;
    let (c, url, t) = (client.clone(), api.clone(), token.to_owned());
    drive("warm-up", customers, a.concurrency, move |i| {
        ingest(c.clone(), url.clone(), t.clone(), i, format!("w-{tag}-{i}"))
    })
    .await;
    let (c, url, t) = (client.clone(), api, token.to_owned());
    drive(tag, a.requests, a.concurrency, move |i| {
        ingest(
            c.clone(),
            url.clone(),
            t.clone(),
            i % customers,
            format!("k-{tag}-{i}"),
        )
    })
    .await
}

/// What a cluster costs per message, and routing cycles on one server in one group, on
/// the cluster in one group and in four.
async fn routing_groups(a: &Args, cluster: &str, client: &reqwest::Client, token: &str) {
    println!();
    println!("ingest of known customers: one server vs the cluster");
    let server = known_ingest(a, &a.redis, client, token, "ingest-server").await;
    let on_cluster = known_ingest(a, cluster, client, token, "ingest-cluster").await;
    server.print();
    on_cluster.print();
    println!(
        "ingest: cluster / one server    = {:.2}",
        on_cluster.rate() / server.rate()
    );
    println!();
    println!("routing groups: {} cycles, 40 agents", a.routing_cycles);
    let mut runs = Vec::new();
    for (redis, groups, tag) in [
        (a.redis.as_str(), 1, "server-1-group"),
        (cluster, 1, "cluster-1-group"),
        (cluster, 4, "cluster-4-groups"),
    ] {
        let (api, _) = start_service(redis, token, tag, false, 0).await;
        online_agents_in(client, &api, 40, 100, a.concurrency, groups, false).await;
        let run = routing_cycles_in(
            client,
            &api,
            token,
            a.routing_cycles,
            a.concurrency,
            tag,
            groups,
            false,
        );
        runs.push(run.await);
    }
    for run in &runs {
        run.print();
    }
    println!(
        "cluster (1 group) / one server = {:.2}",
        runs[1].rate() / runs[0].rate()
    );
    println!(
        "cluster: 4 groups / 1 group    = {:.2}",
        runs[2].rate() / runs[1].rate()
    );
}

async fn ingest(
    client: reqwest::Client,
    api: String,
    token: String,
    customer: usize,
    external_id: String,
) -> Result<(), String> {
    let body = json!({ "channel": "email", "external_id": external_id, "from": sender(customer), "text": "benchmark message" });
    let r = client
        .post(format!("{api}/v1/messages"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    r.status()
        .is_success()
        .then_some(())
        .ok_or_else(|| r.status().to_string())
}
