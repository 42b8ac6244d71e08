//! The Redis store's connections: each thread reaches Redis through a link of its own
//! (no cross-thread wake-up per command), and events are written even after the runtime
//! their writer started on ended.

use std::sync::Arc;

use switchboard::domain::{AgentId, ConversationId, CustomerId};
use switchboard::store::{EventKind, StorePolicy};

use crate::helpers::redis_store;

/// Runs `work` on a current-thread runtime of its own, as an actix worker runs requests.
fn on_own_runtime<F: std::future::Future<Output = ()>>(work: F) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(work);
}

fn clients(url: &str) -> usize {
    let client = redis::Client::open(url).expect("client");
    let mut conn = client.get_connection().expect("connection");
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut conn)
        .expect("list");
    // Every client but this one.
    list.lines().count() - 1
}

#[test]
fn each_thread_reaches_redis_on_a_link_of_its_own() {
    let (store, server) = redis_store(StorePolicy::default());
    // The threads hold their runtimes (and so their links) until counted, waiting
    // without blocking them.
    let counted = Arc::new(tokio::sync::Semaphore::new(0));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let (store, counted) = (Arc::clone(&store), Arc::clone(&counted));
            std::thread::spawn(move || {
                on_own_runtime(async move {
                    store.ping().await.expect("ping");
                    store.ping().await.expect("ping again");
                    let _ = counted.acquire().await.expect("permit");
                })
            })
        })
        .collect();
    // Wait for the threads' pings, then count, then let them go.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let clients = loop {
        let n = clients(&server.url());
        if n >= 3 || std::time::Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    counted.add_permits(3);
    for thread in threads {
        thread.join().expect("thread");
    }
    assert_eq!(clients, 3, "one connection per thread that used the store");
}

/// The event writer runs on the runtime of the store's first event; should that runtime
/// end first (an actix worker restarted after a panic), events are still written.
#[test]
fn events_are_written_after_the_event_writers_runtime_ended() {
    let (store, _server) = redis_store(StorePolicy::default());
    let agent: AgentId = "ana".parse().expect("agent");
    let conv = ConversationId::new(CustomerId::generate(), 1);
    for round in 0..2 {
        let (store, agent, conv) = (Arc::clone(&store), agent.clone(), conv.clone());
        std::thread::spawn(move || {
            on_own_runtime(async move {
                store
                    .push_event(&agent, EventKind::MessageCreated, &conv)
                    .await
                    .expect("event stored");
                let events = store.agent_events(&agent, "0-0", 10).await.expect("events");
                assert_eq!(
                    events.len(),
                    round + 1,
                    "every pushed event is in the stream"
                );
            })
        })
        .join()
        .expect("thread");
    }
}
