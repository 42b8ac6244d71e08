//! No conversation left behind: a resolve racing a new message, a transfer or another
//! resolve, on two replicas of one Redis (two stores, each with its own connections and
//! caches), tried many times. After each try every conversation must stand in exactly
//! one place: open and routed (held, queued or waiting), or resolved and routed nowhere;
//! whoever a message is told holds it really does, and loads equal holdings.
//! Tries per case: `SWITCHBOARD_RACE_TRIES` (default 300).

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;
use switchboard::domain::{AgentId, AgentProfile, Capacity, ConversationId, Presence};
use switchboard::store::{RedisStore, Store, StorePolicy, TransferTarget};
use uuid::Uuid;

use crate::helpers::{ext, inbound, RedisServer};

fn tries() -> usize {
    std::env::var("SWITCHBOARD_RACE_TRIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

/// Two replicas on one Redis, with agents `a` and `b` online and room for every try.
async fn replicas(server: &RedisServer) -> (Arc<dyn Store>, Arc<dyn Store>) {
    let prefix = format!("t{}", Uuid::new_v4().simple());
    let connect = || -> Arc<dyn Store> {
        Arc::new(
            RedisStore::connect(&server.url(), &prefix, StorePolicy::default()).expect("redis"),
        )
    };
    let (one, two) = (connect(), connect());
    for agent in ["a", "b"] {
        let id: AgentId = agent.parse().expect("id");
        let roomy = Capacity {
            phone: 1,
            email: 5,
            chat: 100,
            social: 3,
        };
        let profile = AgentProfile::new(id.clone(), agent.into(), vec![], roomy).expect("profile");
        one.put_agent(&profile, Utc::now()).await.expect("agent");
        one.set_presence(&id, Presence::Online, Utc::now())
            .await
            .expect("presence");
    }
    (one, two)
}

fn chat(from: &str, text: &str) -> switchboard::domain::InboundMessage {
    inbound(
        json!({ "channel": "chat", "network": null, "external_id": ext(), "from": from, "text": text }),
    )
}

/// What is wrong with `conv` now, if anything.
async fn left_behind(store: &Arc<dyn Store>, conv: &ConversationId, from: &str) -> Option<String> {
    let view = store
        .conversation(conv)
        .await
        .expect("read")
        .expect("exists");
    let open = view.state == switchboard::domain::ConversationState::Open;
    match (&view.route, open) {
        (None, true) => return Some("open and routed nowhere".into()),
        (Some(route), false) => return Some(format!("resolved and still routed: {route:?}")),
        _ => {}
    }
    for agent in ["a", "b"] {
        let id: AgentId = agent.parse().expect("id");
        let held = store.held(&id).await.expect("held");
        let holds = held.contains(conv);
        if holds != (view.agent_id.as_deref() == Some(agent)) {
            return Some(format!(
                "{agent} holds it: {holds}, the route says {:?}",
                view.agent_id
            ));
        }
        let load = store.agent(&id).await.expect("agent").expect("known").load["chat"];
        if load as usize != held.len() {
            return Some(format!("{agent}'s load {load} but holds {}", held.len()));
        }
    }
    // The next message is told the truth about who holds the conversation.
    let next = store
        .ingest(&chat(from, "anyone?"), Utc::now())
        .await
        .expect("ingest");
    if let Some(agent) = &next.route.agent_id {
        let held = store.held(&agent.parse().expect("id")).await.expect("held");
        if !held.contains(&next.conversation_id) {
            return Some(format!(
                "the next message is told {agent} holds it, who does not"
            ));
        }
    }
    None
}

async fn assigned_conversation(store: &Arc<dyn Store>, from: &str) -> ConversationId {
    let first = store
        .ingest(&chat(from, "hello"), Utc::now())
        .await
        .expect("ingest");
    assert!(first.route.agent_id.is_some(), "{:?}", first.route);
    first.conversation_id
}

/// Runs `race` `tries()` times on fresh customers; answers the bad outcomes.
async fn bad_outcomes<F, Fut>(race: F) -> Vec<String>
where
    F: Fn(Arc<dyn Store>, Arc<dyn Store>, ConversationId, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let server = RedisServer::start();
    let (one, two) = replicas(&server).await;
    let mut bad = Vec::new();
    for i in 0..tries() {
        let from = format!("racer-{i}");
        let conv = assigned_conversation(&one, &from).await;
        race(one.clone(), two.clone(), conv.clone(), from.clone()).await;
        if let Some(why) = left_behind(&one, &conv, &from).await {
            bad.push(format!("try {i}: {why}"));
        }
        // Each try frees what it took, so the next finds room.
        one.resolve(&conv, Utc::now()).await.expect("resolve");
    }
    bad
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolve_racing_a_new_message_leaves_no_conversation_behind() {
    let bad = bad_outcomes(|one, two, conv, from| async move {
        let now = Utc::now();
        let resolve = tokio::spawn(async move { one.resolve(&conv, now).await });
        let write =
            tokio::spawn(async move { two.ingest(&chat(&from, "wait!"), Utc::now()).await });
        resolve.await.expect("task").expect("resolve");
        write.await.expect("task").expect("ingest");
    })
    .await;
    assert!(bad.is_empty(), "{} bad of {}: {bad:#?}", bad.len(), tries());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_racing_a_resolve_leaves_no_conversation_behind() {
    let bad = bad_outcomes(|one, two, conv, from| async move {
        let now = Utc::now();
        let (c1, c2) = (conv.clone(), conv.clone());
        let to_b = TransferTarget::Agent("b".parse().expect("id"));
        let transfer = tokio::spawn(async move { two.transfer(&c1, &to_b, now).await });
        let resolve = tokio::spawn({
            let one = one.clone();
            async move { one.resolve(&c2, now).await }
        });
        let _ = transfer.await.expect("task");
        resolve.await.expect("task").expect("resolve");
        // The customer writes again: the conversation reopens and must be routed.
        one.ingest(&chat(&from, "me again"), Utc::now())
            .await
            .expect("ingest");
    })
    .await;
    assert!(bad.is_empty(), "{} bad of {}: {bad:#?}", bad.len(), tries());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_resolves_racing_a_message_leave_no_conversation_behind() {
    let bad = bad_outcomes(|one, two, conv, from| async move {
        let now = Utc::now();
        let (c1, c2) = (conv.clone(), conv.clone());
        let first = tokio::spawn({
            let one = one.clone();
            async move { one.resolve(&c1, now).await }
        });
        let second = tokio::spawn({
            let two = two.clone();
            async move { two.resolve(&c2, now).await }
        });
        let write =
            tokio::spawn(async move { two.ingest(&chat(&from, "hello?"), Utc::now()).await });
        first.await.expect("task").expect("resolve");
        second.await.expect("task").expect("resolve");
        write.await.expect("task").expect("ingest");
    })
    .await;
    assert!(bad.is_empty(), "{} bad of {}: {bad:#?}", bad.len(), tries());
}
