//! Archive benchmark (#28): how many resolved conversations of 20 messages a replica's
//! archive sweep moves per second from Redis to PostgreSQL, and known customers' ingest
//! rate while it runs as a ratio to the same ingest without it, from one run; and a
//! customer's Redis memory before and after the move.
//!
//! scripts/bench-archive.sh   (starts its own Redis and PostgreSQL, then:)
//! cargo bench --bench archive -- --redis URL --archive postgres://… [--customers 3000]
//!     [--messages 20] [--known 1000] [--concurrency 32] [--requests 20000]
//!     [--during 0]   (ingest's concurrency while archiving; 0: archiving alone)
//!
//! The conversations are loaded as if written and resolved ten days ago (their
//! idempotency records expired, as with the defaults' 7-day TTL and 30 days to the
//! archive), through the ingest use case on the service's own store; the sweep is the
//! service's (`app::archiving::sweep`), on a ticker of the service's sweep interval.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::join_all;
use serde_json::json;
use switchboard::app::{archiving, ingest, App};
use switchboard::configuration::Settings;
use switchboard::domain::{ConversationId, RawInbound};
use switchboard::http::messages::IngestRequest;
use switchboard::startup::app_state;
use switchboard::store::archive::Archive;
use switchboard::store::format::NEWEST;
use switchboard::store::{RedisStore, Store, UpgradeStore};

struct Args {
    redis: String,
    archive: String,
    customers: usize,
    messages: usize,
    known: usize,
    concurrency: usize,
    requests: usize,
    /// Ingest's concurrency while archiving (0: archiving alone, to see what it costs).
    during: Option<usize>,
}

fn args() -> Args {
    let mut a = Args {
        redis: "redis://127.0.0.1:6379".into(),
        archive: String::new(),
        customers: 3000,
        messages: 20,
        known: 1000,
        concurrency: 32,
        requests: 20_000,
        during: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_default();
        match flag.as_str() {
            "--redis" => a.redis = value(),
            "--archive" => a.archive = value(),
            "--customers" => a.customers = value().parse().unwrap_or(a.customers),
            "--messages" => a.messages = value().parse().unwrap_or(a.messages),
            "--known" => a.known = value().parse().unwrap_or(a.known),
            "--concurrency" => a.concurrency = value().parse().unwrap_or(a.concurrency),
            "--requests" => a.requests = value().parse().unwrap_or(a.requests),
            "--during" => a.during = value().parse().ok(),
            _ => {} // cargo bench passes `--bench`
        }
    }
    assert!(!a.archive.is_empty(), "--archive postgres://… is required");
    a
}

fn raw(from: &str, i: usize) -> RawInbound {
    let body = json!({ "channel": "chat", "external_id": format!("{from}-{i}-{}", uuid::Uuid::now_v7()),
        "from": from, "text": format!("{i:04} {}", "x".repeat(95)) });
    let dto: IngestRequest = serde_json::from_value(body).expect("dto");
    RawInbound::from(dto)
}

/// Customers who wrote `messages` each ten days ago and were resolved an hour later;
/// answers the first one's id.
async fn load(app: &Arc<App>, customers: usize, messages: usize, concurrency: usize) -> String {
    let first = Arc::new(std::sync::OnceLock::new());
    let then = Utc::now() - chrono::Duration::days(10);
    let next = Arc::new(AtomicUsize::new(0));
    let workers = (0..concurrency).map(|_| {
        let (app, next, first) = (app.clone(), next.clone(), first.clone());
        async move {
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= customers {
                    return;
                }
                let from = format!("archived-{c}");
                let mut id: Option<ConversationId> = None;
                for i in 0..messages {
                    let at = then + chrono::Duration::seconds(i as i64);
                    let receipt = ingest::ingest_at(&app, raw(&from, i), at)
                        .await
                        .expect("ingest");
                    id = Some(receipt.conversation_id);
                }
                let id = id.expect("conversation");
                if c == 0 {
                    let _ = first.set(id.customer().to_string());
                }
                app.store
                    .resolve(&id, then + chrono::Duration::hours(1))
                    .await
                    .expect("resolve");
            }
        }
    });
    join_all(workers).await;
    first.get().cloned().expect("a customer")
}

/// Known customers' ingest at `concurrency` until `requests` are done or `stop` is set:
/// answers requests done and the seconds taken.
async fn ingest_load(
    app: &Arc<App>,
    known: usize,
    concurrency: usize,
    requests: usize,
    stop: Arc<AtomicBool>,
) -> (usize, f64) {
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers = (0..concurrency).map(|w| {
        let (app, done, stop) = (app.clone(), done.clone(), stop.clone());
        async move {
            let mut i = w;
            while !stop.load(Ordering::Relaxed) && done.fetch_add(1, Ordering::Relaxed) < requests {
                let from = format!("known-{}", i % known);
                ingest::ingest(&app, raw(&from, i)).await.expect("ingest");
                i += concurrency;
            }
        }
    });
    join_all(workers).await;
    let n = done.load(Ordering::Relaxed).min(requests);
    (n, started.elapsed().as_secs_f64())
}

/// Redis bytes of every key of one customer's slot (`MEMORY USAGE`; identity keys, the
/// same before and after, are left out).
async fn customer_bytes(redis: &str, customer: &str) -> u64 {
    let client = redis::Client::open(redis).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("bench:*{{{customer}}}*"))
        .query_async(&mut conn)
        .await
        .expect("keys");
    let mut total = 0;
    for key in keys {
        let bytes: Option<u64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(&key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut conn)
            .await
            .expect("memory usage");
        total += bytes.unwrap_or(0);
    }
    total
}

/// CPU seconds used so far by every process whose command is `name` (`/proc`), or by
/// this one (`self`).
fn cpu_seconds(name: &str) -> f64 {
    let ticks = 100.0; // USER_HZ on Linux
    let stat = |path: std::path::PathBuf| -> Option<(String, f64)> {
        let text = std::fs::read_to_string(path).ok()?;
        let (head, rest) = text.rsplit_once(')')?;
        let comm = head.split_once('(')?.1.to_owned();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let used = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some((comm, used / ticks))
    };
    if name == "self" {
        return stat("/proc/self/stat".into()).map_or(0.0, |(_, s)| s);
    }
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| stat(e.ok()?.path().join("stat")))
                .filter(|(comm, _)| comm == name)
                .map(|(_, s)| s)
                .sum()
        })
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    let a = args();
    let env = [
        ("SWITCHBOARD_REDIS_URL", a.redis.as_str()),
        ("SWITCHBOARD_ARCHIVE__URL", a.archive.as_str()),
        ("SWITCHBOARD_RETENTION__ARCHIVE_AFTER_SECS", "86400"),
        ("SWITCHBOARD_INGEST__REOPEN_WINDOW_SECS", "3600"),
        (
            "SWITCHBOARD_ADMIN_TOKEN",
            "bench-admin-token-0123456789abcdef",
        ),
    ];
    let settings = Settings::load_from(
        env.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .expect("settings");
    let archive = Archive::connect(&a.archive).expect("archive");
    archive.migrate().await.expect("migrated");
    let store = RedisStore::connect(&a.redis, "bench", settings.store_policy())
        .expect("redis")
        .with_archive(Some(archive));
    store
        .finalize_format(NEWEST, Utc::now())
        .await
        .expect("finalized");
    let store: Arc<dyn Store> = Arc::new(store);
    let app = app_state(&settings, store).expect("app");

    let t = Instant::now();
    let sample = load(&app, a.customers, a.messages, a.concurrency).await;
    println!(
        "loaded {} customers x {} messages, resolved, in {:.1} s",
        a.customers,
        a.messages,
        t.elapsed().as_secs_f64()
    );
    let (_, _) = ingest_load(&app, a.known, a.concurrency, a.known, Arc::default()).await;
    let before = customer_bytes(&a.redis, &sample).await;

    let (alone, alone_secs) =
        ingest_load(&app, a.known, a.concurrency, a.requests, Arc::default()).await;
    let alone_rate = alone as f64 / alone_secs;
    println!("ingest alone: {alone} in {alone_secs:.2} s = {alone_rate:.0} msg/s");

    let cpu = || {
        (
            cpu_seconds("self"),
            cpu_seconds("redis-server"),
            cpu_seconds("postgres"),
        )
    };
    let cpu_before = cpu();
    let stop = Arc::new(AtomicBool::new(false));
    let archiver = {
        let (app, stop, customers) = (app.clone(), stop.clone(), a.customers);
        let tick = Duration::from_millis(settings.routing.timer_interval_ms);
        tokio::spawn(async move {
            let started = Instant::now();
            let mut moved = 0;
            // As the service's sweep runs it: a round per tick, the next tick delayed
            // while a round runs late.
            let mut tick = tokio::time::interval(tick);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while moved < customers {
                tick.tick().await;
                moved += archiving::sweep(&app, Utc::now()).await.expect("sweep");
            }
            stop.store(true, Ordering::Relaxed);
            (moved, started.elapsed().as_secs_f64())
        })
    };
    let (during, during_secs) = ingest_load(
        &app,
        a.known,
        a.during.unwrap_or(a.concurrency),
        usize::MAX,
        stop.clone(),
    )
    .await;
    let (moved, archive_secs) = archiver.await.expect("archiver");
    let cpu_after = cpu();
    // Ingest alone again, after: the machine's drift between the two shows, and the
    // ratio is to their mean.
    let (again, again_secs) =
        ingest_load(&app, a.known, a.concurrency, a.requests, Arc::default()).await;
    let again_rate = again as f64 / again_secs;
    println!("ingest alone, after: {again} in {again_secs:.2} s = {again_rate:.0} msg/s");
    let alone_rate = (alone_rate + again_rate) / 2.0;
    let during_rate = during as f64 / during_secs;
    println!(
        "archived {moved} conversations of {} messages in {archive_secs:.2} s = {:.0} conversations/s ({:.0} messages/s)",
        a.messages,
        moved as f64 / archive_secs,
        (moved * a.messages) as f64 / archive_secs
    );
    println!(
        "ingest while archiving: {during} in {during_secs:.2} s = {during_rate:.0} msg/s = {:.2} of ingest alone (the mean of before and after)",
        during_rate / alone_rate
    );
    println!(
        "CPU seconds during that phase (archiving and ingest): this process {:.2}, Redis {:.2}, PostgreSQL {:.2}",
        cpu_after.0 - cpu_before.0,
        cpu_after.1 - cpu_before.1,
        cpu_after.2 - cpu_before.2
    );
    let after = customer_bytes(&a.redis, &sample).await;
    println!(
        "Redis bytes of a customer's slot, {} messages: {before} before, {after} after ({:.2})",
        a.messages,
        after as f64 / before as f64
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
}
