//! A failover drill on a real Redis Cluster of its own: two service replicas, eight
//! adapters sending and agents' conversations being resolved, while the master holding
//! routing is failed over by hand and another master is killed outright. Every ingest
//! answer must be 202 or 503 with `Retry-After`, and afterwards routing must be whole:
//! nobody over capacity, loads equal to what is held, nothing held twice.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{message, spawn_app, start_cluster, test_settings, TestApp, CLUSTER_SCRIPT};

/// A cluster for this test alone: it is failed over and a node is killed.
fn own_cluster() -> (String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "switchboard-drill-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    (start_cluster(&dir), dir)
}

fn cli(port: &str, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", port])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `(master port, its replica's port)` for the node serving `slot`, and every master.
fn topology(any_port: &str, slot: u16) -> (String, String, Vec<String>) {
    let nodes = cli(any_port, &["cluster", "nodes"]);
    let mut owner = None;
    let mut masters = Vec::new();
    let mut replicas: HashMap<String, String> = HashMap::new();
    for line in nodes.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let port = f[1].split(['@', ':']).nth(1).unwrap_or("").to_owned();
        if f[2].contains("master") && !f[2].contains("fail") {
            masters.push(port.clone());
            for range in &f[8..] {
                let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                if let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) {
                    if (lo..=hi).contains(&slot) {
                        owner = Some((f[0].to_owned(), port.clone()));
                    }
                }
            }
        } else if f[2].contains("slave") && !f[2].contains("fail") {
            replicas.insert(f[3].to_owned(), port);
        }
    }
    let (id, port) = owner.expect("an owner of the slot");
    let replica = replicas.get(&id).cloned().expect("a replica of the owner");
    (port, replica, masters)
}

async fn until_healthy(port: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cli(port, &["cluster", "info"]).contains("cluster_state:ok") {
        assert!(Instant::now() < deadline, "the cluster never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_failover_and_a_killed_master_never_lose_an_answer_or_break_routing() {
    drill(0).await;
}

/// With `replicas_to_ack = 1` every acknowledged message outlives the killed master.
#[tokio::test]
async fn with_replicas_to_ack_a_killed_master_loses_no_acknowledged_message() {
    drill(1).await;
}

/// A read that the cluster may still answer 503 while the killed master's slots fail
/// over (about two `cluster-node-timeout`s): retried until it answers; `None` for 404.
async fn read_after_failover(app: &TestApp, path: &str) -> Option<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = app.admin_get(path).await;
        match r.status().as_u16() {
            200 => return Some(r.json().await.expect("json")),
            404 => return None,
            503 if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("GET {path}: {other}"),
        }
    }
}

async fn drill(replicas_to_ack: u32) {
    let (nodes, dir) = own_cluster();
    let any = nodes
        .split(',')
        .next()
        .and_then(|n| n.rsplit(':').next())
        .unwrap_or("")
        .to_owned();
    let replicas = replicas_to_ack.to_string();
    let env = [
        ("SWITCHBOARD_REDIS__RESPONSE_TIMEOUT_MS", "1000"),
        ("SWITCHBOARD_REDIS__RETRIES", "3"),
        ("SWITCHBOARD_REDIS__REPLICAS_TO_ACK", replicas.as_str()),
    ];
    let mut settings = test_settings(Some(&nodes), &env);
    settings.redis.key_prefix = "drill".into();
    let one = Arc::new(spawn_app(settings.clone()).await);
    let two = Arc::new(spawn_app(settings).await);
    for agent in ["a", "b", "c"] {
        one.admin_put(
            &format!("/v1/agents/{agent}"),
            &json!({ "name": agent, "capacity": { "chat": 2 } }),
        )
        .await;
        one.admin_put(
            &format!("/v1/agents/{agent}/presence"),
            &json!({ "presence": "online" }),
        )
        .await;
    }
    let slot: u16 = cli(&any, &["cluster", "keyslot", "drill:rt:{rt}"])
        .trim()
        .parse()
        .expect("slot");
    let (routing_master, routing_replica, masters) = topology(&any, slot);

    let answers: Arc<Mutex<Vec<(u16, bool)>>> = Arc::default();
    let acknowledged: Arc<Mutex<HashSet<String>>> = Arc::default();
    let conversations: Arc<Mutex<HashSet<String>>> = Arc::default();
    let stop = Instant::now() + Duration::from_secs(9);
    let mut adapters = Vec::new();
    for n in 0..8 {
        let app: Arc<TestApp> = if n % 2 == 0 { one.clone() } else { two.clone() };
        let (answers, conversations) = (answers.clone(), conversations.clone());
        let acknowledged = acknowledged.clone();
        adapters.push(tokio::spawn(async move {
            let mut i = 0;
            while Instant::now() < stop {
                i += 1;
                let from = format!("v-{}", (n * 7 + i) % 24);
                let text = format!("drill {n}-{i}");
                let r = app.post_message(&message("chat", None, &from, &text)).await;
                let status = r.status().as_u16();
                let retry_after = r.headers().contains_key("retry-after");
                answers.lock().expect("lock").push((status, retry_after));
                if status != 202 && status != 503 {
                    eprintln!("drill: {status}: {}", r.text().await.unwrap_or_default());
                    continue;
                }
                if status == 202 {
                    acknowledged.lock().expect("lock").insert(text);
                    let body: Value = r.json().await.unwrap_or_default();
                    let conv = body["conversation_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    conversations.lock().expect("lock").insert(conv.clone());
                    if i % 3 == 0 {
                        // The agent is done: resolving frees the unit for whoever waits.
                        app.admin_post(&format!("/v1/conversations/{conv}/resolve"), &json!({}))
                            .await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A planned failover of the master holding routing: its replica takes over.
    assert!(cli(&routing_replica, &["cluster", "failover"]).contains("OK"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Then a crash: another master killed outright, failed over by the cluster itself.
    let victim = masters
        .iter()
        .find(|m| **m != routing_master)
        .cloned()
        .expect("another master");
    let pidfile = dir.join(format!("redis-{victim}.pid"));
    let pid = std::fs::read_to_string(&pidfile)
        .expect("pid")
        .trim()
        .to_owned();
    Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill");
    for adapter in adapters {
        adapter.await.expect("adapter");
    }
    until_healthy(&routing_replica).await;

    let answers = answers.lock().expect("lock").clone();
    let (ok, refused) = answers
        .iter()
        .fold((0usize, 0usize), |(ok, refused), (status, retry)| {
            assert!(
                *status == 202 || (*status == 503 && *retry),
                "an ingest answered {status} (Retry-After: {retry})"
            );
            if *status == 202 {
                (ok + 1, refused)
            } else {
                (ok, refused + 1)
            }
        });
    assert!(ok > 50, "{ok} accepted, {refused} refused with 503");
    eprintln!("drill: {ok} accepted, {refused} answered 503 with Retry-After");

    // Every acknowledged message is still in its visitor's timeline (each text is unique,
    // so a message stored but answered 503 cannot stand in for a lost one); without
    // replicas_to_ack, report how many a killed master took with it.
    let mut texts: HashSet<String> = HashSet::new();
    for visitor in 0..24 {
        let path = format!("/v1/customers?identity=chat:v-{visitor}");
        let Some(customer) = read_after_failover(&one, &path).await else {
            continue;
        };
        for conv in customer["conversation_ids"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let path = format!("/v1/conversations/{}", conv.as_str().unwrap_or_default());
            let view = read_after_failover(&one, &path)
                .await
                .unwrap_or_else(|| panic!("{path} listed but not found"));
            texts.extend(
                view["messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m["text"].as_str().map(str::to_owned)),
            );
        }
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    let missing: Vec<&String> = acknowledged.difference(&texts).collect();
    let lost = missing.len();
    eprintln!(
        "drill: {} of {ok} acknowledged messages found, {lost} lost: {missing:?}",
        ok - lost
    );
    if replicas_to_ack > 0 {
        assert_eq!(
            lost, 0,
            "with replicas_to_ack every acknowledged message survives"
        );
    }

    // Routing (one slot, failed over by hand) is whole: each agent's load equals what it
    // holds, nobody is over capacity, nothing is held by two agents, and every
    // conversation waiting for its agent has its timer.
    let rt = |args: &[&str]| -> String {
        let out = Command::new("redis-cli")
            .args(["-c", "-p", &routing_replica])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut all_held = HashSet::new();
    for agent in ["a", "b", "c"] {
        let held = rt(&[
            "zrange",
            &format!("drill:rt:{{rt}}:held:{agent}"),
            "0",
            "-1",
        ]);
        let held: Vec<&str> = held.lines().filter(|l| !l.is_empty()).collect();
        let load: usize = rt(&["hget", &format!("drill:rt:{{rt}}:a:{agent}"), "load:chat"])
            .trim()
            .parse()
            .unwrap_or(0);
        assert!(load <= 2, "{agent} over capacity: {load}");
        assert_eq!(
            load,
            held.len(),
            "{agent}'s load is what it holds: {held:?}"
        );
        for conv in held {
            assert!(all_held.insert(conv.to_owned()), "{conv} held twice");
        }
        let waiting = rt(&[
            "zrange",
            &format!("drill:rt:{{rt}}:w:{agent}:chat"),
            "0",
            "-1",
        ]);
        for conv in waiting.lines().filter(|l| !l.is_empty()) {
            let timer = rt(&["zscore", "drill:rt:{rt}:timers", conv]);
            assert!(!timer.trim().is_empty(), "{conv} waits without a timer");
        }
    }
    Command::new(CLUSTER_SCRIPT)
        .arg("stop")
        .arg(&dir)
        .status()
        .expect("stop");
}
