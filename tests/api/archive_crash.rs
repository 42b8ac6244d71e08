//! The archive move killed at each of its steps (`SWITCHBOARD_CRASH_AT`, an abort as
//! sudden as `kill -9`), with the real binary, a real Redis and a real PostgreSQL: the
//! conversation stays readable with every message meanwhile, and a restarted replica
//! finishes the move once its lease runs out, leaving it in exactly one place. And
//! PostgreSQL stopped: ingest and Redis-held conversations carry on, archived ones answer
//! 503 with `Retry-After`, the lag gauge grows, and the move catches up when it returns.

use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard::domain::ConversationId;
use switchboard::store::archive::Archive;
use switchboard::store::{ConversationStore, RedisStore, StorePolicy};

use crate::helpers::{message, PostgresServer, RedisServer};
use crate::shutdown::Binary;

/// Settings that move a conversation a second after it resolves.
fn archiving_env(pg: &PostgresServer) -> Vec<(&'static str, String)> {
    vec![
        ("SWITCHBOARD_ARCHIVE__URL", pg.url()),
        ("SWITCHBOARD_RETENTION__ARCHIVE_AFTER_SECS", "1".into()),
        ("SWITCHBOARD_INGEST__REOPEN_WINDOW_SECS", "1".into()),
    ]
}

fn start(redis: &RedisServer, pg: &PostgresServer, crash_at: Option<&str>) -> Binary {
    let mut env = archiving_env(pg);
    if let Some(step) = crash_at {
        env.push(("SWITCHBOARD_CRASH_AT", step.into()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Binary::start_with(&redis.url(), &env)
}

/// Whether Redis still holds the conversation's own timeline.
async fn timeline_in_redis(redis: &RedisServer, id: &ConversationId) -> bool {
    let client = ::redis::Client::open(redis.url()).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let key = format!("sb:v:{{{}}}:{}:m", id.customer(), id.seq());
    ::redis::cmd("EXISTS")
        .arg(key)
        .query_async::<bool>(&mut conn)
        .await
        .expect("exists")
}

async fn killed_at(step: &str) {
    let redis = RedisServer::start();
    let pg = PostgresServer::start();
    let mut first = start(&redis, &pg, Some(step));
    first.wait_ready().await;
    let api = first.client();
    finalize(&api).await;
    let conv = resolved_conversation(&api, "visitor-7", 20).await;
    let before: Value = api.admin_json(&format!("/v1/conversations/{conv}")).await;
    assert_ne!(first.wait_exit(), 0, "aborted at {step}");

    // Meanwhile: readable, whole, from wherever it is.
    let id: ConversationId = conv.parse().expect("id");
    let archive = Archive::connect(&pg.url()).expect("pool");
    let store = RedisStore::connect(&redis.url(), "sb", StorePolicy::default())
        .expect("store")
        .with_archive(Some(archive.clone()));
    let meanwhile = store.conversation(&id).await.expect("read").expect("found");
    assert_eq!(
        meanwhile.messages.len(),
        20,
        "{step}: every message readable"
    );

    let second = start(&redis, &pg, None);
    second.wait_ready().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while timeline_in_redis(&redis, &id).await {
        assert!(
            Instant::now() < deadline,
            "{step}: the move was never finished"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after: Value = second
        .client()
        .admin_json(&format!("/v1/conversations/{conv}"))
        .await;
    assert_eq!(after["archived"], true, "{after}");
    assert_eq!(
        after["messages"], before["messages"],
        "{step}: entry for entry"
    );
    let copy = archive.get(&id).await.expect("archive").expect("archived");
    assert_eq!(copy.messages.len(), 20, "{step}: stored once, whole");
}

#[tokio::test]
async fn killed_after_claiming_the_move_is_finished_by_another_replica() {
    killed_at("archive_claimed").await;
}

#[tokio::test]
async fn killed_after_the_archive_committed_the_move_is_finished_by_another_replica() {
    killed_at("archive_committed").await;
}

#[tokio::test]
async fn killed_after_the_stubs_the_move_is_finished_by_another_replica() {
    killed_at("archive_stubbed").await;
}

/// Polls until Redis no longer holds the conversation's timeline.
async fn wait_moved(redis: &RedisServer, id: &ConversationId, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while timeline_in_redis(redis, id).await {
        assert!(Instant::now() < deadline, "{what} never moved");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The lag gauge as the ops port shows it.
async fn lag(api: &crate::helpers::ApiClient) -> f64 {
    let metrics = api.metrics().await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("switchboard_archive_lag_seconds "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no lag gauge in {metrics}"))
}

/// The deployment writes the newest storage format (archiving needs it).
async fn finalize(api: &crate::helpers::ApiClient) {
    let finalized = api
        .admin_post("/v1/storage-format/finalize", &serde_json::json!({}))
        .await;
    assert_eq!(finalized.status(), 200);
}

/// `n` chat messages from `who`, then their conversation resolved; answers its id.
async fn resolved_conversation(api: &crate::helpers::ApiClient, who: &str, n: usize) -> String {
    let mut conv = String::new();
    for i in 0..n {
        let receipt = api
            .ingest(&message("chat", None, who, &format!("message {i}")))
            .await;
        conv = receipt["conversation_id"].as_str().expect("id").to_owned();
    }
    let resolved = api
        .admin_post(
            &format!("/v1/conversations/{conv}/resolve"),
            &serde_json::json!({}),
        )
        .await;
    assert!(resolved.status().is_success(), "{}", resolved.status());
    conv
}

#[tokio::test]
async fn with_postgresql_down_ingest_carries_on_and_the_move_catches_up_later() {
    let redis = RedisServer::start();
    let pg = PostgresServer::start();
    let binary = start(&redis, &pg, None);
    binary.wait_ready().await;
    let api = binary.client();
    finalize(&api).await;
    let archived = resolved_conversation(&api, "visitor-a", 5).await;
    let archived_id: ConversationId = archived.parse().expect("id");
    wait_moved(&redis, &archived_id, "the first conversation").await;

    pg.stop();
    let read = api
        .admin_get(&format!("/v1/conversations/{archived}"))
        .await;
    assert_eq!(read.status(), 503, "an archived read waits for the archive");
    assert!(read.headers().contains_key("retry-after"));
    let waiting = resolved_conversation(&api, "visitor-b", 5).await;
    let waiting_id: ConversationId = waiting.parse().expect("id");
    let accepted = api
        .post_message(&message("chat", None, "visitor-c", "still taking messages"))
        .await;
    assert_eq!(accepted.status(), 202, "ingest is unaffected");
    let deadline = Instant::now() + Duration::from_secs(30);
    while lag(&api).await < 2.0 {
        assert!(Instant::now() < deadline, "the lag gauge never grew");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        timeline_in_redis(&redis, &waiting_id).await,
        "nothing half-moved"
    );
    let held: Value = api
        .admin_json(&format!("/v1/conversations/{waiting}"))
        .await;
    assert_eq!(held["messages"].as_array().map(Vec::len), Some(5), "{held}");

    pg.restart();
    wait_moved(
        &redis,
        &waiting_id,
        "the conversation resolved while PostgreSQL was down",
    )
    .await;
    let after: Value = api
        .admin_json(&format!("/v1/conversations/{waiting}"))
        .await;
    assert_eq!(after["archived"], true, "{after}");
    assert_eq!(after["messages"], held["messages"]);
    let again = api
        .admin_get(&format!("/v1/conversations/{archived}"))
        .await;
    assert_eq!(again.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while lag(&api).await > 0.0 {
        assert!(Instant::now() < deadline, "the lag gauge never fell back");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
