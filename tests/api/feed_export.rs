//! The event feed's consumers survive `kill -9` (#32), with the real binary and a real
//! Redis: a consumer of the pull API whose replica is killed mid-stream resumes from its
//! cursor on another replica with nothing missing; the webhook sink's replica killed
//! mid-stream leaves its page in the durable outbox and its cursor in Redis, so another
//! replica delivers everything, signed, duplicates (if any) under the same id.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{message, ApiClient, RedisServer};
use crate::outbound::{receiver, SECRET};
use crate::shutdown::Binary;

/// Every event the pull API holds now, from the start, in pages of `limit`.
async fn all_events(api: &ApiClient, limit: usize) -> Vec<Value> {
    let mut cursor: Option<String> = None;
    let mut all = Vec::new();
    loop {
        let (page, next) = page_after(api, cursor.as_deref(), limit).await;
        if page.is_empty() {
            return all;
        }
        all.extend(page);
        cursor = Some(next);
    }
}

async fn page_after(api: &ApiClient, after: Option<&str>, limit: usize) -> (Vec<Value>, String) {
    let query = match after {
        Some(c) => format!("/v1/events?limit={limit}&after={c}"),
        None => format!("/v1/events?limit={limit}"),
    };
    let page = api.admin_json(&query).await;
    let events = page["events"].as_array().cloned().unwrap_or_default();
    (events, page["next"].as_str().unwrap_or_default().to_owned())
}

/// Customers writing, agents coming and going: a few events of each side.
async fn traffic(api: &ApiClient, round: usize) {
    api.agent_online(&format!("agent{round}")).await;
    for c in 0..4 {
        let body = message("chat", None, &format!("visitor-{round}-{c}"), "hello");
        api.ingest(&body).await;
    }
}

/// Waits until `done` holds (the relay's grace is 5 s; the outbox's lease 30 s).
async fn eventually<F, Fut>(what: &str, secs: u64, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done().await {
        assert!(Instant::now() < deadline, "{what} within {secs} s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn opened(events: &[Value]) -> usize {
    events
        .iter()
        .filter(|e| e["type"] == "switchboard.conversation.opened")
        .count()
}

fn ids(events: &[Value]) -> HashSet<String> {
    events
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect()
}

/// Duplicates, if any, are the same event.
fn duplicates_are_identical(events: &[Value]) {
    let mut seen: HashMap<&str, &Value> = HashMap::new();
    for e in events {
        let id = e["id"].as_str().expect("id");
        if let Some(first) = seen.insert(id, e) {
            assert_eq!(first, e, "a duplicate of {id} differs");
        }
    }
}

#[tokio::test]
async fn a_pull_consumer_resumes_from_its_cursor_when_its_replica_is_killed() {
    let redis = RedisServer::start();
    let a = Binary::start(&redis.url());
    let b = Binary::start(&redis.url());
    a.wait_ready().await;
    b.wait_ready().await;
    let (api_a, api_b) = (a.client(), b.client());
    let finalized = api_a
        .admin_post("/v1/storage-format/finalize", &json!({}))
        .await;
    assert_eq!(finalized.status(), 200);

    // The consumer reads from A in small pages while customers write.
    let mut read: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    for round in 0..3 {
        traffic(&api_a, round).await;
        let (page, next) = page_after(&api_a, cursor.as_deref(), 3).await;
        if !page.is_empty() {
            read.extend(page);
            cursor = Some(next);
        }
    }
    assert!(!read.is_empty(), "A served some events");
    drop(a); // kill -9, mid-stream: A's requests and sweeps stop where they are
    for round in 3..6 {
        traffic(&api_b, round).await;
    }

    // The consumer goes on from its cursor on B until it has everything B holds.
    eventually("every customer's opening relayed", 30, || {
        let api_b = &api_b;
        async move { opened(&all_events(api_b, 50).await) == 24 }
    })
    .await;
    loop {
        let (page, next) = page_after(&api_b, cursor.as_deref(), 3).await;
        if page.is_empty() {
            break;
        }
        read.extend(page);
        cursor = Some(next);
    }
    let everything = all_events(&api_b, 50).await;
    let (all_ids, read_ids) = (ids(&everything), ids(&read));
    let missing: Vec<&String> = all_ids.difference(&read_ids).collect();
    assert!(missing.is_empty(), "missing after the kill: {missing:?}");
    duplicates_are_identical(&read);
    let kinds: HashSet<&str> = read.iter().filter_map(|e| e["type"].as_str()).collect();
    for kind in [
        "switchboard.agent.presence_changed",
        "switchboard.conversation.assigned",
        "switchboard.conversation.opened",
    ] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
}

#[tokio::test]
async fn the_webhook_delivers_every_event_signed_though_its_replica_is_killed() {
    let redis = RedisServer::start();
    let rx = receiver();
    let env = [
        ("SWITCHBOARD_EXPORT__WEBHOOK_URL", rx.url.as_str()),
        ("SWITCHBOARD_EXPORT__WEBHOOK_SECRET", SECRET),
        ("SWITCHBOARD_OUTBOUND__FIRST_BACKOFF_MS", "100"),
    ];
    let a = Binary::start_with(&redis.url(), &env);
    a.wait_ready().await;
    let api_a = a.client();
    let finalized = api_a
        .admin_post("/v1/storage-format/finalize", &json!({}))
        .await;
    assert_eq!(finalized.status(), 200);
    for round in 0..3 {
        traffic(&api_a, round).await;
    }
    // Killed while the relay's grace still holds the customers' events back and the
    // first delivery was refused (the receiver answers the first one 500).
    tokio::time::sleep(Duration::from_millis(700)).await;
    drop(a);
    let b = Binary::start_with(&redis.url(), &env);
    b.wait_ready().await;
    let api_b = b.client();
    for round in 3..5 {
        traffic(&api_b, round).await;
    }

    let received = || {
        rx.accepted
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|page| page.as_array().cloned().unwrap_or_default())
            .collect::<Vec<Value>>()
    };
    eventually("the webhook caught up with the feed", 75, || {
        let (api_b, got) = (&api_b, ids(&received()));
        async move {
            let all = all_events(api_b, 100).await;
            opened(&all) == 20 && ids(&all).is_subset(&got)
        }
    })
    .await;
    let got = received();
    duplicates_are_identical(&got);
    assert_eq!(rx.bad_signatures(), 0, "every request signed");
    let metrics = api_b.metrics().await;
    assert!(
        metrics.contains("switchboard_export_pages_delivered_total"),
        "{metrics}"
    );
}
