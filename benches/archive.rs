//! Archive benchmark (#28): how many resolved conversations of 20 messages a replica's
//! archive sweep moves per second from Redis to PostgreSQL, and known customers' ingest
//! rate while it runs as a ratio to the same ingest without it, from one run (windows of
//! archiving on and off alternate while ingest runs throughout); and a customer's Redis
//! memory before and after the move.
//!
//! scripts/bench-archive.sh   (starts its own Redis and PostgreSQL, then:)
//! cargo bench --bench archive -- --redis URL --archive postgres://… [--customers 8000]
//!     [--messages 20] [--known 1000] [--concurrency 32] [--window-ms 1000]
//!     [--during 0]   (ingest's concurrency; 0: archiving alone, to see what it costs)
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
    /// Ingest's concurrency while archiving (0: archiving alone, to see what it costs).
    during: Option<usize>,
    /// How long each window of archiving on, then off, lasts.
    window_ms: u64,
}

fn args() -> Args {
    let mut a = Args {
        redis: "redis://127.0.0.1:6379".into(),
        archive: String::new(),
        customers: 8000,
        messages: 20,
        known: 1000,
        concurrency: 32,
        during: None,
        window_ms: 1000,
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
            "--during" => a.during = value().parse().ok(),
            "--window-ms" => a.window_ms = value().parse().unwrap_or(a.window_ms),
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

/// Known customers' ingest at `concurrency` until `requests` are done (the warm-up).
async fn ingest_load(app: &Arc<App>, known: usize, concurrency: usize, requests: usize) {
    let done = Arc::new(AtomicUsize::new(0));
    let workers = (0..concurrency).map(|w| {
        let (app, done) = (app.clone(), done.clone());
        async move {
            let mut i = w;
            while done.fetch_add(1, Ordering::Relaxed) < requests {
                let from = format!("known-{}", i % known);
                ingest::ingest(&app, raw(&from, i)).await.expect("ingest");
                i += concurrency;
            }
        }
    });
    join_all(workers).await;
}

/// Known customers' ingest at `concurrency`, counting into `done`, until the phase stops.
async fn ingest_until(
    app: Arc<App>,
    known: usize,
    concurrency: usize,
    done: Arc<AtomicUsize>,
    phase: Arc<Phase>,
) {
    let workers = (0..concurrency).map(|w| {
        let (app, done, phase) = (app.clone(), done.clone(), phase.clone());
        async move {
            let mut i = w;
            while !phase.stop.load(Ordering::Relaxed) {
                let from = format!("known-{}", i % known);
                ingest::ingest(&app, raw(&from, i)).await.expect("ingest");
                done.fetch_add(1, Ordering::Relaxed);
                i += concurrency;
            }
        }
    });
    join_all(workers).await;
}

/// The alternation of windows with archiving on and off, shared by the tasks: both kinds
/// of window see the same drift of a shared machine, which a phase before and a phase
/// after did not (ingest alone moved by a quarter between them).
#[derive(Default)]
struct Phase {
    /// Archiving may start rounds.
    on: AtomicBool,
    /// The archiver saw `on` cleared and finished its round.
    paused: AtomicBool,
    /// Every customer moved.
    finished: AtomicBool,
    /// Ingest ends.
    stop: AtomicBool,
}

/// The service's sweep while the phase is on: a round per tick, the next tick delayed
/// while a round runs late, a fresh ticker (first tick at once) at each resume. Answers
/// the conversations moved.
async fn archive_when_on(
    app: Arc<App>,
    phase: Arc<Phase>,
    customers: usize,
    tick: Duration,
) -> usize {
    let mut moved = 0;
    while moved < customers {
        if !phase.on.load(Ordering::Relaxed) {
            phase.paused.store(true, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(1)).await;
            continue;
        }
        phase.paused.store(false, Ordering::Relaxed);
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while moved < customers {
            ticker.tick().await;
            if !phase.on.load(Ordering::Relaxed) {
                break;
            }
            moved += archiving::sweep(&app, Utc::now()).await.expect("sweep");
        }
    }
    phase.finished.store(true, Ordering::Relaxed);
    phase.paused.store(true, Ordering::Relaxed);
    moved
}

/// One window: whether archiving ran, how long it lasted and the messages ingested.
struct Window {
    archiving: bool,
    secs: f64,
    messages: usize,
}

/// Alternates windows of archiving on (until its last round after the window ends) and
/// off (`width`), until every customer moved; then stops ingest.
async fn alternate(phase: &Phase, done: &AtomicUsize, width: Duration) -> Vec<Window> {
    let mut windows = Vec::new();
    let count = || done.load(Ordering::Relaxed);
    let pause = || tokio::time::sleep(Duration::from_millis(1));
    while !phase.finished.load(Ordering::Relaxed) {
        phase.paused.store(false, Ordering::Relaxed);
        phase.on.store(true, Ordering::Relaxed);
        let (t, n) = (Instant::now(), count());
        while t.elapsed() < width && !phase.finished.load(Ordering::Relaxed) {
            pause().await;
        }
        phase.on.store(false, Ordering::Relaxed);
        while !phase.paused.load(Ordering::Relaxed) {
            pause().await;
        }
        windows.push(Window {
            archiving: true,
            secs: t.elapsed().as_secs_f64(),
            messages: count() - n,
        });
        let (t, n) = (Instant::now(), count());
        tokio::time::sleep(width).await;
        windows.push(Window {
            archiving: false,
            secs: t.elapsed().as_secs_f64(),
            messages: count() - n,
        });
    }
    phase.stop.store(true, Ordering::Relaxed);
    windows
}

/// Prints the archiving rate, ingest's rate with archiving on and off, their ratio over
/// the whole phase, and the spread of the ratio over neighbouring pairs of windows.
fn report(windows: &[Window], moved: usize, messages: usize) {
    let total = |archiving: bool| {
        windows
            .iter()
            .filter(|w| w.archiving == archiving)
            .fold((0, 0.0), |(n, s), w| (n + w.messages, s + w.secs))
    };
    let ((on_n, on_s), (off_n, off_s)) = (total(true), total(false));
    let (on_rate, off_rate) = (on_n as f64 / on_s, off_n as f64 / off_s);
    println!(
        "archived {moved} conversations of {messages} messages in {on_s:.2} s of archiving = {:.0} conversations/s ({:.0} messages/s)",
        moved as f64 / on_s,
        (moved * messages) as f64 / on_s
    );
    if off_n == 0 {
        return; // archiving alone
    }
    println!("ingest alone (archiving off): {off_n} in {off_s:.2} s = {off_rate:.0} msg/s");
    println!(
        "ingest while archiving: {on_n} in {on_s:.2} s = {on_rate:.0} msg/s = {:.2} of ingest alone",
        on_rate / off_rate
    );
    let rate = |w: &Window| w.messages as f64 / w.secs;
    let mut pairs: Vec<f64> = windows
        .chunks(2)
        .filter(|p| p.len() == 2 && p[0].secs > 0.5 * p[1].secs)
        .map(|p| rate(&p[0]) / rate(&p[1]))
        .collect();
    pairs.sort_by(f64::total_cmp);
    if let (Some(low), Some(high)) = (pairs.first(), pairs.last()) {
        println!(
            "the same ratio over {} pairs of neighbouring windows: {low:.2} to {high:.2}, median {:.2}",
            pairs.len(),
            pairs[pairs.len() / 2]
        );
    }
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
    ingest_load(&app, a.known, a.concurrency, a.known).await;
    let before = customer_bytes(&a.redis, &sample).await;

    let cpu = || {
        (
            cpu_seconds("self"),
            cpu_seconds("redis-server"),
            cpu_seconds("postgres"),
        )
    };
    let cpu_before = cpu();
    let tick = Duration::from_millis(settings.routing.timer_interval_ms);
    let phase = Arc::new(Phase::default());
    let archiver = tokio::spawn(archive_when_on(
        app.clone(),
        phase.clone(),
        a.customers,
        tick,
    ));
    let done = Arc::new(AtomicUsize::new(0));
    let ingest = tokio::spawn(ingest_until(
        app.clone(),
        a.known,
        a.during.unwrap_or(a.concurrency),
        done.clone(),
        phase.clone(),
    ));
    let windows = alternate(&phase, &done, Duration::from_millis(a.window_ms)).await;
    ingest.await.expect("ingest");
    let moved = archiver.await.expect("archiver");
    let cpu_after = cpu();
    report(&windows, moved, a.messages);
    println!(
        "CPU seconds over that phase (archiving half the time, ingest throughout): this process {:.2}, Redis {:.2}, PostgreSQL {:.2}",
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
