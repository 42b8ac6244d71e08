//! A cross-group transfer is a saga of single-slot steps (`store/redis/handoff.rs`). The
//! real binary is killed between its first step and the rest (`SWITCHBOARD_CRASH_AT`,
//! an abort as sudden as `kill -9`); a restarted replica's timers finish it, and the
//! conversation, the capacity and the events move exactly once.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard::domain::AgentId;
use switchboard::store::{AgentStore, EventKind, EventStore, RedisStore, StorePolicy};

use crate::helpers::{message, ApiClient, RedisServer, ADMIN_TOKEN};
use crate::shutdown::Binary;

async fn admin_put(api: &ApiClient, path: &str, body: Value) {
    let r = api.admin_put(path, &body).await;
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

async fn chat_load(store: &RedisStore, agent: &str) -> u32 {
    let id: AgentId = agent.parse().expect("id");
    let view = store.agent(&id).await.expect("read").expect("agent");
    view.load.get("chat").copied().unwrap_or(0)
}

async fn transferred_events(store: &RedisStore, agent: &str, conv: &str) -> usize {
    let id: AgentId = agent.parse().expect("id");
    let events = store.agent_events(&id, "0-0", 1000).await.expect("events");
    events
        .iter()
        .filter(|e| e.kind == EventKind::ConversationTransferred)
        .filter(|e| e.conversation_id.to_string() == conv)
        .count()
}

#[tokio::test]
async fn a_cross_group_transfer_killed_half_way_is_finished_with_its_note_exactly_once_by_a_restart(
) {
    let redis = RedisServer::start();
    let mut first = Binary::start_with(&redis.url(), &[("SWITCHBOARD_CRASH_AT", "handoff")]);
    first.wait_ready().await;
    let api = first.client();
    for (agent, group) in [("ann", "default"), ("sam", "sales")] {
        let path = format!("/v1/agents/{agent}");
        admin_put(&api, &path, json!({ "name": agent, "group": group })).await;
        let presence = json!({ "presence": "online" });
        admin_put(&api, &format!("{path}/presence"), presence).await;
    }
    let r = api.ingest(&message("chat", None, "visitor-1", "hi")).await;
    assert_eq!(r["route"]["agent_id"], "ann", "{r}");
    let conv = r["conversation_id"]
        .as_str()
        .expect("conversation")
        .to_owned();

    let cut = api
        .client
        .post(format!("{}/v1/conversations/{conv}/transfer", api.address))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({ "to_agent": "sam", "note": "promised a refund by Friday" }))
        .send()
        .await;
    assert!(cut.is_err(), "the process died mid-transfer: {cut:?}");
    assert_ne!(first.wait_exit(), 0, "aborted");

    // Half done: ann's unit came back, nobody holds the conversation yet.
    let store = RedisStore::connect(&redis.url(), "sb", StorePolicy::default()).expect("store");
    assert_eq!(chat_load(&store, "ann").await, 0);
    assert_eq!(chat_load(&store, "sam").await, 0);

    let second = Binary::start(&redis.url());
    second.wait_ready().await;
    let api = second.client();
    let deadline = Instant::now() + Duration::from_secs(20);
    while chat_load(&store, "sam").await == 0 {
        assert!(Instant::now() < deadline, "the hand-off was never finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Timers keep running: nothing moves twice.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(chat_load(&store, "sam").await, 1);
    assert_eq!(chat_load(&store, "ann").await, 0);
    assert_eq!(transferred_events(&store, "sam", &conv).await, 1);
    let view = api.admin_json(&format!("/v1/conversations/{conv}")).await;
    assert_eq!(view["agent_id"], "sam", "{view}");
    // The note came with the transfer, once: the two are one step, however it ended.
    let notes: Vec<&Value> = view["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m| m["kind"] == "note")
        .collect();
    assert_eq!(notes.len(), 1, "{view}");
    assert_eq!(notes[0]["text"], "promised a refund by Friday", "{view}");
    // The customer writes again: sam's, without routing.
    let next = api
        .ingest(&message("chat", None, "visitor-1", "still there?"))
        .await;
    assert_eq!(next["route"]["agent_id"], "sam", "{next}");
    assert_eq!(next["route"]["reason"], "already_assigned", "{next}");
}
