//! No conversation left behind: a resolve racing a new message, a transfer or another
//! resolve, on two replicas of one Redis (two stores, each with its own connections and
//! caches), tried many times. After each try every conversation must stand in exactly
//! one place: open and routed (held, queued or waiting), or resolved and routed nowhere;
//! whoever a message is told holds it really does, and loads equal holdings. Each race
//! runs on the embedded store, one Redis and the Redis Cluster.
//! Tries per case: `SWITCHBOARD_RACE_TRIES` (default 300).

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;
use switchboard::domain::{AgentId, AgentProfile, Capacity, ConversationId, Presence};
use switchboard::store::{
    MemoryStore, RedisStore, ResolveOutcome, Store, StorePolicy, TransferTarget,
};
use uuid::Uuid;

use crate::helpers::{cluster_nodes, ext, inbound, RedisServer};

fn tries() -> usize {
    std::env::var("SWITCHBOARD_RACE_TRIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

/// Where the two replicas keep their data.
#[derive(Clone, Copy)]
enum Backend {
    /// One embedded store serves both (its lock serialises them: the specification).
    Memory,
    Redis,
    Cluster,
}

/// Two replicas of one store, with agents `a` and `b` online and room for every try;
/// the Redis server, when the backend has one of its own, lives as long as they do.
async fn replicas(backend: Backend) -> (Arc<dyn Store>, Arc<dyn Store>, Option<RedisServer>) {
    let prefix = format!("t{}", Uuid::new_v4().simple());
    let connect = |url: &str| -> Arc<dyn Store> {
        Arc::new(RedisStore::connect(url, &prefix, StorePolicy::default()).expect("redis"))
    };
    let (one, two, server) = match backend {
        Backend::Memory => {
            let store: Arc<dyn Store> = Arc::new(MemoryStore::new(StorePolicy::default()));
            (store.clone(), store, None)
        }
        Backend::Redis => {
            let server = RedisServer::start();
            (connect(&server.url()), connect(&server.url()), Some(server))
        }
        Backend::Cluster => (connect(cluster_nodes()), connect(cluster_nodes()), None),
    };
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
    (one, two, server)
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
async fn bad_outcomes<F, Fut>(backend: Backend, race: F) -> Vec<String>
where
    F: Fn(Arc<dyn Store>, Arc<dyn Store>, ConversationId, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (one, two, _server) = replicas(backend).await;
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

async fn a_resolve_racing_a_new_message_leaves_no_conversation_behind(backend: Backend) {
    let bad = bad_outcomes(backend, |one, two, conv, from| async move {
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

async fn a_transfer_racing_a_resolve_leaves_no_conversation_behind(backend: Backend) {
    let bad = bad_outcomes(backend, |one, two, conv, from| async move {
        let now = Utc::now();
        let (c1, c2) = (conv.clone(), conv.clone());
        let to_b = TransferTarget::Agent("b".parse().expect("id"));
        let transfer = tokio::spawn(async move { two.transfer(&c1, &to_b, None, now).await });
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

async fn two_resolves_racing_a_message_leave_no_conversation_behind(backend: Backend) {
    let bad = bad_outcomes(backend, |one, two, conv, from| async move {
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

/// Two resolves at once with nothing reopening the conversation between them: one
/// resolves it, the other is told it is resolved already (the API's 409) and changes
/// nothing (the shared check finds it resolved and routed nowhere).
async fn of_two_resolves_at_once_exactly_one_resolves(backend: Backend) {
    let bad = bad_outcomes(backend, |one, two, conv, _| async move {
        let now = Utc::now();
        let (c1, c2) = (conv.clone(), conv.clone());
        let first = tokio::spawn(async move { one.resolve(&c1, now).await });
        let second = tokio::spawn(async move { two.resolve(&c2, now).await });
        let a = first.await.expect("task").expect("resolve");
        let b = second.await.expect("task").expect("resolve");
        let resolved = [&a, &b]
            .iter()
            .filter(|o| matches!(o, ResolveOutcome::Resolved(_)))
            .count();
        let already = [&a, &b]
            .iter()
            .filter(|o| **o == &ResolveOutcome::AlreadyResolved)
            .count();
        assert_eq!((resolved, already), (1, 1), "{conv}: {a:?} and {b:?}");
    })
    .await;
    assert!(bad.is_empty(), "{} bad of {}: {bad:#?}", bad.len(), tries());
}

/// Each race on every backend: `memory::…`, `redis::…` (two replicas on one server) and
/// `cluster::…` (two replicas on the Redis Cluster).
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Backend::Memory).await } )*
        }
        mod redis {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Backend::Redis).await } )*
        }
        mod cluster {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Backend::Cluster).await } )*
        }
    };
}

on_every_backend!(
    a_resolve_racing_a_new_message_leaves_no_conversation_behind,
    a_transfer_racing_a_resolve_leaves_no_conversation_behind,
    two_resolves_racing_a_message_leave_no_conversation_behind,
    of_two_resolves_at_once_exactly_one_resolves,
);
