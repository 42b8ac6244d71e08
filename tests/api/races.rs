//! Concurrency: many requests racing on one customer never split or duplicate it. On
//! Redis only: the embedded store takes one lock per operation, so nothing races there.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use serde_json::json;
use switchboard::store::{Store, StorePolicy};

use crate::helpers::{ext, inbound, normaliser, redis_store};

async fn fifty_first_messages_make_one_customer(store: Arc<dyn Store>) {
    let tasks = (0..50).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let body = json!({ "channel": "chat", "network": null, "external_id": ext(), "from": "new-visitor", "text": format!("#{i}") });
            store.ingest(&inbound(body), Utc::now()).await
        })
    });
    let receipts: Vec<_> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("ingest"))
        .collect();
    let customers: HashSet<_> = receipts.iter().map(|r| r.customer_id.clone()).collect();
    let conversations: HashSet<_> = receipts.iter().map(|r| r.conversation_id.clone()).collect();
    assert_eq!(customers.len(), 1, "one new identity, one customer");
    assert_eq!(
        conversations.len(),
        1,
        "one customer, one open conversation"
    );
    let conv = store
        .conversation(conversations.iter().next().expect("one"))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(conv.messages.len(), 50);
}

async fn concurrent_merges_converge_on_the_oldest(store: Arc<dyn Store>) {
    let n = 6;
    let mut firsts = Vec::new();
    for i in 0..n {
        let body = json!({ "channel": "email", "network": null, "external_id": ext(), "from": format!("p{i}@x.io"), "text": format!("first {i}") });
        firsts.push(
            store
                .ingest(&inbound(body), Utc::now())
                .await
                .expect("ingest"),
        );
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    // Every adjacent pair proven, twice over, plus the ends: all at once.
    let pairs: Vec<(usize, usize)> = (0..n - 1)
        .map(|i| (i, i + 1))
        .chain((0..n - 1).map(|i| (i + 1, i)))
        .chain([(0, n - 1)])
        .collect();
    let proofs = pairs.len();
    let tasks = pairs.into_iter().map(|(a, b)| {
        let store = store.clone();
        tokio::spawn(async move {
            let body = json!({ "channel": "email", "network": null, "external_id": ext(), "from": format!("p{a}@x.io"),
                "identities": [{ "kind": "email", "value": format!("p{b}@x.io") }], "text": format!("proof {a}-{b}") });
            store.ingest(&inbound(body), Utc::now()).await
        })
    });
    for r in join_all(tasks).await {
        r.expect("task").expect("ingest");
    }
    let oldest = firsts[0].customer_id.clone();
    for (i, first) in firsts.iter().enumerate() {
        let identity = normaliser()
            .parse_key(&format!("email:p{i}@x.io"))
            .expect("key");
        let owner = store
            .customer_by_identity(&identity)
            .await
            .expect("read")
            .expect("owned");
        assert_eq!(owner.id, oldest, "p{i} belongs to the oldest customer");
        let via_old_id = store
            .customer(&first.customer_id)
            .await
            .expect("read")
            .expect("resolves");
        assert_eq!(via_old_id.id, oldest);
    }
    let customer = store
        .customer(&oldest)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(customer.identities.len(), n);
    let open = customer.open_conversation_id.expect("open conversation");
    let conv = store
        .conversation(&open)
        .await
        .expect("read")
        .expect("exists");
    let ids: HashSet<_> = conv
        .messages
        .iter()
        .map(|m| m.id.as_str().to_owned())
        .collect();
    assert_eq!(ids.len(), conv.messages.len(), "no message twice");
    let texts: Vec<&str> = conv.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        conv.messages.len(),
        n + proofs,
        "every message once: {texts:?}, merged {:?}",
        conv.merged_conversation_ids
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_first_messages_make_one_customer_in_redis() {
    let (store, _server) = redis_store(StorePolicy::default());
    fifty_first_messages_make_one_customer(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_merges_converge_in_redis() {
    let (store, _server) = redis_store(StorePolicy::default());
    concurrent_merges_converge_on_the_oldest(store).await;
}
