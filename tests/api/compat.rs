//! Golden fixtures (`tests/compat/<release>/`, written by `scripts/compat-fixtures.sh`):
//! what a released version stored after a day of traffic, restored into a fresh Redis and
//! into the cluster, is read by this build exactly as that release showed it, and then
//! routed and resolved by it without errors, loads matching holdings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;
use switchboard::app::{conversations, ratings, Actor};
use switchboard::configuration::Settings;
use switchboard::domain::{AgentId, ConversationId, CustomerId};
use switchboard::startup::app_state;
use switchboard::store::{RedisStore, StorePolicy};
use uuid::Uuid;

use crate::helpers::{
    cluster_nodes, message, spawn_app_unfinalized, test_settings, RedisServer, TestApp,
};

/// The releases whose stored data this build must read.
const RELEASES: [&str; 1] = ["v0.1.0"];

/// The prefix the fixtures were written under.
const FIXTURE_PREFIX: &str = "sb:";

fn fixture_dir(release: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/compat")
        .join(release)
}

fn expected(release: &str) -> Value {
    let text = std::fs::read_to_string(fixture_dir(release).join("expect.json")).expect("expect");
    serde_json::from_str(&text).expect("expect.json")
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// RESTORE commands for every key of the release's dump, renamed under `prefix`.
fn restores(release: &str, prefix: &str) -> Vec<redis::Cmd> {
    let dump = std::fs::read_to_string(fixture_dir(release).join("redis.dump")).expect("dump");
    dump.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let mut parts = line.split('\t');
            let (key, ttl, payload) = (
                parts.next().expect("key"),
                parts.next().expect("ttl"),
                parts.next().expect("payload"),
            );
            let key = String::from_utf8(hex(key)).expect("utf-8 key");
            let key = key
                .strip_prefix(FIXTURE_PREFIX)
                .map(|rest| format!("{prefix}:{rest}"))
                .expect("a fixture key");
            let ttl: i64 = ttl.parse().expect("ttl");
            let mut cmd = redis::cmd("RESTORE");
            cmd.arg(key).arg(ttl.max(0)).arg(hex(payload));
            cmd
        })
        .collect()
}

/// Every field the release showed, shown alike now (new fields may be added).
fn shown_alike(old: &Value, new: &Value, path: &str, differences: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (k, v) in o {
                let absent = Value::Null;
                shown_alike(
                    v,
                    n.get(k).unwrap_or(&absent),
                    &format!("{path}.{k}"),
                    differences,
                );
            }
        }
        (Value::Array(o), Value::Array(n)) if o.len() == n.len() => {
            for (i, (a, b)) in o.iter().zip(n).enumerate() {
                shown_alike(a, b, &format!("{path}[{i}]"), differences);
            }
        }
        _ if old == new => {}
        _ => differences.push(format!("{path}: was {old}, now {new}")),
    }
}

fn compare(what: &str, old: &Value, new: impl Serialize, differences: &mut Vec<String>) {
    let new = serde_json::to_value(new).expect("serialises");
    shown_alike(old, &new, what, differences);
}

/// The read half: every view of the fixture, read through the store before anything
/// (timers, sweeps) acts on it, equals what the release answered.
/// Reads go through the use cases (what the API answers) of an app whose background
/// workers do not run.
async fn reads_as_the_release_showed(settings: &Settings, store: RedisStore, expect: &Value) {
    let app = app_state(settings, Arc::new(store)).expect("app");
    let store = &app.store;
    let mut differences = Vec::new();
    for (id, old) in expect["conversations"].as_object().expect("conversations") {
        let id: ConversationId = id.parse().expect("id");
        let view = conversations::read(&app, &Actor::Admin, &id)
            .await
            .expect("reads");
        compare(&format!("conversation {id}"), old, view, &mut differences);
    }
    for (id, old) in expect["customers"].as_object().expect("customers") {
        let id: CustomerId = id.parse().expect("id");
        let view = ratings::customer(&app, &id)
            .await
            .expect("reads")
            .expect("found");
        compare(&format!("customer {id}"), old, view, &mut differences);
    }
    for (id, old) in expect["agents"].as_object().expect("agents") {
        let id: AgentId = id.parse().expect("id");
        let view = store.agent(&id).await.expect("reads").expect("found");
        compare(&format!("agent {id}"), old, view, &mut differences);
    }
    for (sid, old) in expect["calls"].as_object().expect("calls") {
        let call = store.call(sid).await.expect("reads").expect("found");
        compare(&format!("call {sid}"), old, call, &mut differences);
    }
    for (id, old) in expect["deliveries"].as_object().expect("deliveries") {
        let state = store
            .delivery_state(id)
            .await
            .expect("reads")
            .expect("found");
        let state = json!({ "state": state.state, "attempts": state.attempts,
            "last_error": state.last_error });
        compare(&format!("delivery {id}"), old, state, &mut differences);
    }
    assert!(differences.is_empty(), "{differences:#?}");
}

/// The write half, through an app of this build on the restored data, before any
/// finalize (an upgrade in progress): known customers are routed to their agents, every
/// open conversation resolves, and every agent's load matches what it holds throughout.
async fn routes_and_resolves(app: &TestApp, expect: &Value) {
    let statuses = app.admin_json("/v1/storage-format").await;
    assert_eq!(
        statuses["write"], 1,
        "an upgrade writes the previous format"
    );
    // Alice writes again: her open conversation, held by her agent.
    let alice = app
        .ingest(
            &json!({ "channel": "email", "network": null, "external_id": "compat-1",
            "from": "alice@example.com", "text": "any news?" }),
        )
        .await;
    let known = &expect["customers"][alice["customer_id"].as_str().expect("id")];
    assert_eq!(
        alice["route"]["agent_id"], known["personal_agent_id"],
        "{alice}"
    );
    // A stranger: a new customer, routed like any other.
    let stranger = app
        .ingest(&message("chat", None, "compat-visitor", "hi"))
        .await;
    assert!(stranger["conversation_id"].is_string(), "{stranger}");
    loads_match_holdings(app).await;
    for (id, old) in expect["conversations"].as_object().expect("conversations") {
        if old["state"] == "open" {
            let r = app
                .admin_post(&format!("/v1/conversations/{id}/resolve"), &json!({}))
                .await;
            assert!(
                [200, 409].contains(&r.status().as_u16()),
                "resolve {id}: {}",
                r.status()
            );
        }
    }
    loads_match_holdings(app).await;
    for (sid, _) in expect["calls"].as_object().expect("calls") {
        let r = app.admin_get(&format!("/v1/calls/{sid}")).await;
        assert_eq!(r.status(), 200, "call {sid}");
    }
}

async fn loads_match_holdings(app: &TestApp) {
    let agents = app.admin_json("/v1/agents").await;
    for agent in agents.as_array().expect("agents") {
        let id = agent["id"].as_str().expect("id");
        let held = app
            .admin_json(&format!("/v1/agents/{id}/conversations"))
            .await;
        let load: u64 = agent["load"]
            .as_object()
            .expect("load")
            .values()
            .filter_map(Value::as_u64)
            .sum();
        let after_call = agent["after_call"].as_u64().unwrap_or(0);
        let held = held.as_array().map_or(0, Vec::len) as u64;
        assert_eq!(
            load + after_call,
            held,
            "{id}: load {load} + {after_call} vs {held} held"
        );
    }
}

#[tokio::test]
async fn every_release_fixture_is_read_routed_and_resolved_on_one_redis() {
    for release in RELEASES {
        let expect = expected(release);
        let redis = RedisServer::start();
        let mut conn = redis.connection();
        for cmd in restores(release, "sb") {
            let _: () = cmd.query(&mut conn).expect("restore");
        }
        let settings = test_settings(Some(&redis.url()), &[]);
        let store = RedisStore::connect(&redis.url(), "sb", StorePolicy::default()).expect("store");
        reads_as_the_release_showed(&settings, store, &expect).await;
        let app = spawn_app_unfinalized(settings).await;
        routes_and_resolves(&app, &expect).await;
        app.stop().await;
    }
}

#[tokio::test]
async fn every_release_fixture_is_read_routed_and_resolved_on_the_cluster() {
    for release in RELEASES {
        let expect = expected(release);
        let prefix = format!("t{}", Uuid::new_v4().simple());
        let nodes: Vec<String> = cluster_nodes()
            .split(',')
            .map(|n| format!("redis://{}", n.trim_start_matches("redis://")))
            .collect();
        let client = redis::cluster::ClusterClient::new(nodes).expect("cluster client");
        let mut conn = client.get_connection().expect("cluster connection");
        for cmd in restores(release, &prefix) {
            let _: () = cmd.query(&mut conn).expect("restore");
        }
        let store =
            RedisStore::connect(cluster_nodes(), &prefix, StorePolicy::default()).expect("store");
        let settings = test_settings(
            Some(cluster_nodes()),
            &[("SWITCHBOARD_REDIS__KEY_PREFIX", prefix.as_str())],
        );
        reads_as_the_release_showed(&settings, store, &expect).await;
        let app = spawn_app_unfinalized(settings).await;
        routes_and_resolves(&app, &expect).await;
    }
}

#[test]
fn the_fixtures_cover_every_kind_of_record() {
    for release in RELEASES {
        let expect = expected(release);
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, view) in expect["conversations"].as_object().expect("conversations") {
            for m in view["messages"].as_array().expect("messages") {
                let kind = m["kind"].as_str().unwrap_or("message");
                *kinds
                    .entry(if m["direction"] == "in" { "in" } else { kind })
                    .or_default() += 1;
            }
        }
        for kind in ["in", "message", "note"] {
            assert!(
                kinds.get(kind).copied().unwrap_or(0) > 0,
                "{release}: no `{kind}` entries"
            );
        }
        assert!(!expect["calls"].as_object().expect("calls").is_empty());
        assert!(!expect["deliveries"]
            .as_object()
            .expect("deliveries")
            .is_empty());
        let dump = std::fs::read_to_string(fixture_dir(release).join("redis.dump")).expect("dump");
        for suffix in [":dx", ":dl:", ":fu:", ":ob:", ":call:", ":rt:"] {
            let hexed: String = suffix.bytes().map(|b| format!("{b:02x}")).collect();
            assert!(dump.contains(&hexed), "{release}: no `{suffix}` key");
        }
    }
}
