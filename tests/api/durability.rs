//! `replicas_to_ack`: a message is answered 2xx only once a replica holds it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{free_port, message, spawn_app, test_settings, RedisServer};

/// A replica of `primary` on a free port; killed when dropped.
struct Replica {
    child: Child,
    port: u16,
}

impl Replica {
    fn of(primary: &RedisServer) -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--replicaof", "127.0.0.1", &primary.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("replica starts");
        let replica = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while replica.link() != "up" {
            assert!(Instant::now() < deadline, "the replica never synced");
            std::thread::sleep(Duration::from_millis(50));
        }
        replica
    }

    fn info(&self) -> String {
        redis::Client::open(format!("redis://127.0.0.1:{}", self.port))
            .and_then(|c| c.get_connection())
            .and_then(|mut c| {
                redis::cmd("INFO")
                    .arg("replication")
                    .query::<String>(&mut c)
            })
            .unwrap_or_default()
    }

    fn link(&self) -> String {
        self.info()
            .lines()
            .find_map(|l| l.strip_prefix("master_link_status:"))
            .unwrap_or("")
            .trim()
            .to_owned()
    }

    fn keys(&self) -> usize {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}", self.port)).expect("url");
        let mut conn = client.get_connection().expect("replica");
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).expect("keys");
        keys.len()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn with_replicas_to_ack_a_message_is_acknowledged_only_once_a_replica_holds_it() {
    let primary = RedisServer::start();
    let replica = Replica::of(&primary);
    let settings = test_settings(
        Some(&primary.url()),
        &[
            ("SWITCHBOARD_REDIS__REPLICAS_TO_ACK", "1"),
            ("SWITCHBOARD_REDIS__RESPONSE_TIMEOUT_MS", "600"),
        ],
    );
    let app = spawn_app(settings).await;
    let first = app
        .post_message(&message("chat", None, "v-dur", "kept twice"))
        .await;
    assert_eq!(first.status(), 202);
    assert!(replica.keys() > 0, "the replica holds the message");

    drop(replica);
    let body = message("chat", None, "v-dur", "only on the primary");
    let lone = app.post_message(&body).await;
    assert_eq!(lone.status(), 503, "no replica acknowledged it: not a 2xx");
    assert!(lone.headers().contains_key("retry-after"));

    // A replica again: the adapter's retry is answered (as the duplicate it is).
    let _back = Replica::of(&primary);
    let retry = app.post_message(&body).await;
    assert_eq!(retry.status(), 202);
    let retry: serde_json::Value = retry.json().await.expect("json");
    assert_eq!(retry["duplicate"], true);
}
