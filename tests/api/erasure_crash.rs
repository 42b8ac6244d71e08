//! An erasure killed at each of its steps (`SWITCHBOARD_CRASH_AT`, an abort as sudden as
//! `kill -9`), with the real binary, a real Redis and a real PostgreSQL: a restarted
//! replica finishes it once the lease runs out, and the same scan as `erasure.rs` finds
//! nothing of the customer.

use serde_json::Value;

use crate::erasure::{assert_no_trace, erasure_env, leave_a_trail, redis_under, wait_done, Trail};
use crate::helpers::{PostgresServer, RedisServer, AGENT_JWT_SECRET};
use crate::shutdown::Binary;
use crate::traces::{archive_text, event_replay};

fn start(redis: &RedisServer, pg: &PostgresServer, crash_at: Option<&str>) -> Binary {
    let mut env = erasure_env(pg);
    env.push(("SWITCHBOARD_AGENT_JWT_SECRET", AGENT_JWT_SECRET.into()));
    if let Some(step) = crash_at {
        env.push(("SWITCHBOARD_CRASH_AT", step.into()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Binary::start_with(&redis.url(), &env)
}

async fn killed_at(step: &str) {
    let redis = RedisServer::start();
    let pg = PostgresServer::start();
    let mut first = start(&redis, &pg, Some(step));
    first.wait_ready().await;
    let api = first.client();
    let finalized = api
        .admin_post("/v1/storage-format/finalize", &serde_json::json!({}))
        .await;
    assert_eq!(finalized.status(), 200);
    let trail: Trail = leave_a_trail(&api).await;
    // The process may die before its answer leaves: the request was taken either way.
    let answer = api
        .client
        .delete(format!("{}/v1/customers/{}", api.address, trail.customer))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .send()
        .await;
    if let Ok(answer) = answer {
        assert_eq!(answer.status(), 202);
    }
    assert_ne!(first.wait_exit(), 0, "aborted at {step}");

    let second = start(&redis, &pg, None);
    second.wait_ready().await;
    let api = second.client();
    let erasure = format!("er-{}", trail.customer);
    let status: Value = wait_done(&api, &erasure).await;
    assert_eq!(status["customer_id"], trail.customer.as_str());
    assert_eq!(
        api.admin_get(&format!("/v1/customers/{}", trail.customer))
            .await
            .status(),
        404
    );
    for agent in ["ann", "bob"] {
        let replay = event_replay(&api, agent).await;
        for m in trail.markers.iter().chain([&trail.customer, &trail.merged]) {
            assert!(
                !replay.contains(m.as_str()),
                "{step}: {m} in {agent}'s replay"
            );
        }
    }
    let archive = archive_text(&pg.url()).await;
    assert_no_trace(&trail, &redis_under(&redis.url(), "sb"), &archive, "sb");
}

#[tokio::test]
async fn killed_once_begun_the_erasure_is_finished_by_another_replica() {
    killed_at("erasure_begun").await;
}

#[tokio::test]
async fn killed_after_the_inventory_the_erasure_is_finished_by_another_replica() {
    killed_at("erasure_inventoried").await;
}

#[tokio::test]
async fn killed_after_routing_the_erasure_is_finished_by_another_replica() {
    killed_at("erasure_routing_done").await;
}

#[tokio::test]
async fn killed_after_the_references_the_erasure_is_finished_by_another_replica() {
    killed_at("erasure_references_done").await;
}

#[tokio::test]
async fn killed_after_the_archive_the_erasure_is_finished_by_another_replica() {
    killed_at("erasure_archive_done").await;
}

#[tokio::test]
async fn killed_after_the_records_the_erasure_is_finished_by_another_replica() {
    killed_at("erasure_records_done").await;
}
