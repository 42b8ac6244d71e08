//! The storage format gate (`store::format`): replicas announce what they read, the
//! deployment writes the previous format until an operator finalizes, finalize waits for
//! every live replica, and a release never serves a format it cannot read.

use std::process::Command;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use switchboard::domain::{AgentProfile, Capacity, ConversationId, Presence};
use switchboard::store::format::{FinalizeOutcome, ReplicaFormat, NEWEST, PREVIOUS};

use crate::helpers::{
    agent_id as id, ext, inbound, spawn_app_unfinalized, t0, test_settings, Harness, RedisServer,
    ADMIN_TOKEN,
};

both_stores!(
    finalize_waits_for_every_live_replica_to_read_the_format,
    until_finalized_a_calls_end_keeps_the_phone_unit_and_after_it_frees_it,
);

fn replica(name: &str, reads: u32, alive_until: DateTime<Utc>) -> ReplicaFormat {
    ReplicaFormat {
        replica: name.into(),
        reads,
        version: "0.x".into(),
        alive_until,
    }
}

async fn finalize_waits_for_every_live_replica_to_read_the_format(h: Harness) {
    let now = t0();
    let old = replica("pod-old", PREVIOUS, now + Duration::seconds(30));
    let new = replica("pod-new", NEWEST, now + Duration::seconds(30));
    assert_eq!(
        h.store.announce_format(&old).await.expect("announce"),
        PREVIOUS
    );
    assert_eq!(
        h.store.announce_format(&new).await.expect("announce"),
        PREVIOUS
    );
    let status = h.store.format_status(now).await.expect("status");
    assert_eq!(status.write, PREVIOUS);
    assert_eq!(status.replicas, [new.clone(), old.clone()]);

    let refused = h
        .store
        .finalize_format(NEWEST, now)
        .await
        .expect("finalize");
    assert_eq!(
        refused,
        FinalizeOutcome::Refused {
            replicas: vec![old]
        }
    );
    assert_eq!(
        h.store.format_status(now).await.expect("status").write,
        PREVIOUS
    );

    // The old replica stopped renewing: once its announcement lapses, finalize succeeds.
    let later = now + Duration::seconds(31);
    let done = h
        .store
        .finalize_format(NEWEST, later)
        .await
        .expect("finalize");
    assert_eq!(done, FinalizeOutcome::Finalized { write: NEWEST });
    let renewed = replica("pod-new", NEWEST, later + Duration::seconds(30));
    assert_eq!(
        h.store.announce_format(&renewed).await.expect("announce"),
        NEWEST
    );
    // A format never goes back, and finalizing again changes nothing.
    let again = h
        .store
        .finalize_format(PREVIOUS, later)
        .await
        .expect("finalize");
    assert_eq!(again, FinalizeOutcome::Finalized { write: NEWEST });
    let status = h.store.format_status(later).await.expect("status");
    assert_eq!((status.write, status.replicas), (NEWEST, vec![renewed]));
}

/// A phone call on `from`, answered by whoever routing picks; its conversation.
async fn call(h: &Harness, from: &str, at: DateTime<Utc>) -> (ConversationId, Option<String>) {
    let body = json!({ "channel": "phone", "network": "voice", "external_id": ext(),
        "from": from, "text": "(call)" });
    let r = h.store.ingest(&inbound(body), at).await.expect("ingest");
    (r.conversation_id, r.route.agent_id.map(|a| a.to_string()))
}

async fn phone_work(h: &Harness) -> (u32, u32) {
    let view = h
        .store
        .agent(&id("ann"))
        .await
        .expect("read")
        .expect("agent");
    (
        view.load.get("phone").copied().unwrap_or(0),
        view.after_call,
    )
}

async fn until_finalized_a_calls_end_keeps_the_phone_unit_and_after_it_frees_it(h: Harness) {
    let profile =
        AgentProfile::new(id("ann"), "Ann".into(), vec![], Capacity::default()).expect("profile");
    h.store.put_agent(&profile, t0()).await.expect("put");
    h.store
        .set_presence(&id("ann"), Presence::Online, t0())
        .await
        .expect("presence");
    let (first, to) = call(&h, "+14155550101", t0()).await;
    assert_eq!(to.as_deref(), Some("ann"));
    let (second, to) = call(&h, "+14155550102", t0()).await;
    assert_eq!(to, None, "ann's one phone unit is taken");

    // Format 1 (0.1.0 reads it): the call's end changes nothing in routing.
    let made = h.store.release(&first, t0()).await.expect("release");
    assert!(made.is_empty());
    assert_eq!(phone_work(&h).await, (1, 0));

    // Finalized: the unit goes to the waiting caller, the first stays as after-call work.
    let done = h
        .store
        .finalize_format(NEWEST, t0())
        .await
        .expect("finalize");
    assert_eq!(done, FinalizeOutcome::Finalized { write: NEWEST });
    let made = h.store.release(&first, t0()).await.expect("release");
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].conversation_id, second);
    assert_eq!(phone_work(&h).await, (1, 1));
}

fn redis_app_settings(redis: &RedisServer) -> switchboard::configuration::Settings {
    test_settings(Some(&redis.url()), &[])
}

#[tokio::test]
async fn operators_see_and_finalize_the_format_over_http_and_in_the_metrics() {
    let redis = RedisServer::start();
    let app = spawn_app_unfinalized(redis_app_settings(&redis)).await;
    let status = app.admin_json("/v1/storage-format").await;
    assert_eq!(status["write"], PREVIOUS);
    assert_eq!(status["reads"], NEWEST);
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        status["replicas"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
    assert_eq!(status["replicas"][0]["reads"], NEWEST);
    let metrics = app.metrics().await;
    let version = env!("CARGO_PKG_VERSION");
    assert!(metrics.contains(&format!(
        "switchboard_build_info{{version=\"{version}\"}} 1"
    )));
    assert!(
        metrics.contains("switchboard_storage_format{state=\"read\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("switchboard_storage_format{state=\"write\"} 1"));

    // Only admins finalize.
    let agent = app.agent_get("ann", "/v1/storage-format").await;
    assert!([401, 403].contains(&agent.status().as_u16()));
    let done = app
        .admin_post("/v1/storage-format/finalize", &json!({}))
        .await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.expect("json");
    assert_eq!(done["write"], NEWEST);
    assert!(app
        .metrics()
        .await
        .contains("switchboard_storage_format{state=\"write\"} 2"));
}

#[tokio::test]
async fn finalize_over_http_names_the_replicas_that_cannot_read_the_format() {
    let redis = RedisServer::start();
    let app = spawn_app_unfinalized(redis_app_settings(&redis)).await;
    // A replica of a release that reads only format 1, as it announces itself.
    let until = Utc::now() + Duration::seconds(30);
    let mut conn = redis.connection();
    let _: () = ::redis::cmd("HSET")
        .arg("sb:fmt:{fmt}:replicas")
        .arg("pod-old-1")
        .arg(format!("1|{}|0.1.9", until.timestamp_millis()))
        .query(&mut conn)
        .expect("announce");
    let refused = app
        .admin_post("/v1/storage-format/finalize", &json!({}))
        .await;
    assert_eq!(refused.status(), 409);
    let problem: Value = refused.json().await.expect("problem");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("pod-old-1") && detail.contains("0.1.9"),
        "{detail}"
    );
    let status = app.admin_json("/v1/storage-format").await;
    assert_eq!(status["write"], PREVIOUS);
}

fn binary(redis: &RedisServer, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .env("SWITCHBOARD_REDIS_URL", redis.url())
        .env("SWITCHBOARD_ADMIN_TOKEN", ADMIN_TOKEN)
        .output()
        .expect("binary runs")
}

#[tokio::test]
async fn the_upgrade_subcommand_finalizes_and_a_release_refuses_a_format_it_cannot_read() {
    let redis = RedisServer::start();
    let status = binary(&redis, &["upgrade", "status"]);
    assert!(status.status.success());
    let shown: Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(shown["write"], PREVIOUS);

    let mut conn = redis.connection();
    let until = Utc::now() + Duration::seconds(30);
    let _: () = ::redis::cmd("HSET")
        .arg("sb:fmt:{fmt}:replicas")
        .arg("pod-old-1")
        .arg(format!("1|{}|0.1.9", until.timestamp_millis()))
        .query(&mut conn)
        .expect("announce");
    let refused = binary(&redis, &["upgrade", "finalize"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pod-old-1"));

    let _: () = ::redis::cmd("HDEL")
        .arg("sb:fmt:{fmt}:replicas")
        .arg("pod-old-1")
        .query(&mut conn)
        .expect("gone");
    let done = binary(&redis, &["upgrade", "finalize"]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let shown: Value = serde_json::from_slice(&done.stdout).expect("json");
    assert_eq!(shown["write"], NEWEST);

    // A deployment that writes a format newer than this release reads: it will not start.
    let _: () = ::redis::cmd("HSET")
        .arg("sb:fmt:{fmt}")
        .arg("write")
        .arg(NEWEST + 1)
        .query(&mut conn)
        .expect("newer");
    let serve = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .env("SWITCHBOARD_REDIS_URL", redis.url())
        .env("SWITCHBOARD_LISTEN", "127.0.0.1:0")
        .env("SWITCHBOARD_OPS_LISTEN", "127.0.0.1:0")
        .env("SWITCHBOARD_LOG__FORMAT", "json")
        .env("SWITCHBOARD_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SWITCHBOARD_ADAPTER_TOKENS", crate::helpers::ADAPTER_TOKEN)
        .output()
        .expect("binary runs");
    assert!(!serve.status.success());
    let log = String::from_utf8_lossy(&serve.stdout);
    assert!(log.contains("roll forward"), "{log}");
}

/// Finalize probes for replicas of releases that never announce (0.1.0) with a member of
/// the routing timers that this release's timers leave alone; the mixed-version drill
/// shows a real 0.1.0 replica taking it. Here: this release leaves it, and finalize
/// cleans it up.
#[tokio::test]
async fn this_releases_timers_leave_the_probe_and_finalize_cleans_it_up() {
    let redis = RedisServer::start();
    let store: std::sync::Arc<dyn switchboard::store::Store> = std::sync::Arc::new(
        switchboard::store::RedisStore::connect(&redis.url(), "sb", Default::default())
            .expect("store"),
    );
    let mut conn = redis.connection();
    let _: () = ::redis::cmd("ZADD")
        .arg("sb:rt:{rt}:timers")
        .arg(0)
        .arg("probe:by-hand")
        .query(&mut conn)
        .expect("probe");
    store.fire_timers(Utc::now()).await.expect("timers");
    let left: Option<f64> = ::redis::cmd("ZSCORE")
        .arg("sb:rt:{rt}:timers")
        .arg("probe:by-hand")
        .query(&mut conn)
        .expect("score");
    assert_eq!(left, Some(0.0), "the timers took the probe");
    let _: () = ::redis::cmd("ZREM")
        .arg("sb:rt:{rt}:timers")
        .arg("probe:by-hand")
        .query(&mut conn)
        .expect("cleaned");
    let done = store
        .finalize_format(NEWEST, Utc::now())
        .await
        .expect("finalize");
    assert_eq!(done, FinalizeOutcome::Finalized { write: NEWEST });
    let timers: i64 = ::redis::cmd("ZCARD")
        .arg("sb:rt:{rt}:timers")
        .query(&mut conn)
        .expect("card");
    assert_eq!(timers, 0, "finalize left its probe behind");
}
