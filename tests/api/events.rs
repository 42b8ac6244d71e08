//! Server-sent events for agents, against a real Redis: assignments arrive with the
//! customer's timeline, a reconnect with Last-Event-ID replays what was missed.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{agent_jwt, message, spawn_app, test_settings, RedisServer, TestApp};

/// An open event stream and the text read from it so far.
struct Sse {
    response: reqwest::Response,
    buffer: String,
}

impl Sse {
    async fn open(app: &TestApp, agent: &str, last_event_id: Option<&str>) -> Sse {
        let mut request = app
            .client
            .get(format!("{}/v1/agents/{agent}/events", app.address))
            .bearer_auth(agent_jwt(agent));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Sse {
            response,
            buffer: String::new(),
        }
    }

    /// Reads until `n` events have arrived (or fails after 5 s); answers (id, event, data).
    async fn events(&mut self, n: usize) -> Vec<(String, String, Value)> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let parsed = parse(&self.buffer);
            if parsed.len() >= n {
                return parsed;
            }
            assert!(
                Instant::now() < deadline,
                "only {} events: {}",
                parsed.len(),
                self.buffer
            );
            let chunk = tokio::time::timeout(Duration::from_secs(5), self.response.chunk()).await;
            if let Ok(Ok(Some(bytes))) = chunk {
                self.buffer.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
}

fn parse(text: &str) -> Vec<(String, String, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(str::to_owned)
            };
            Some((
                field("id: ")?,
                field("event: ")?,
                serde_json::from_str(&field("data: ")?).ok()?,
            ))
        })
        .collect()
}

async fn agent(app: &TestApp, id: &str, presence: &str) {
    app.admin_put(&format!("/v1/agents/{id}"), &json!({ "name": id }))
        .await;
    app.admin_put(
        &format!("/v1/agents/{id}/presence"),
        &json!({ "presence": presence }),
    )
    .await;
}

#[tokio::test]
async fn an_agent_hears_of_assignments_messages_and_covered_customers() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    agent(&app, "a", "online").await;
    let mut a = Sse::open(&app, "a", None).await;
    let first = app
        .ingest(&message("chat", None, "v-1", "my order is late"))
        .await;
    let conv = first["conversation_id"].clone();
    app.ingest(&message("chat", None, "v-1", "hello?")).await;
    let got = a.events(2).await;
    assert_eq!(got[0].1, "conversation.assigned");
    assert_eq!(got[0].2["conversation_id"], conv);
    assert_eq!(got[0].2["reason"], "new_personal_agent");
    assert_eq!(
        got[0].2["customer"]["personal_agent_id"], "a",
        "the customer's summary comes along"
    );
    assert_eq!(got[0].2["recent_messages"][0]["text"], "my order is late");
    assert_eq!(got[1].1, "message.created");
    assert_eq!(got[1].2["conversation_id"], conv);

    // a goes offline; the customer's next conversation is covered by b, and a is told.
    app.admin_post(
        &format!(
            "/v1/conversations/{}/resolve",
            conv.as_str().unwrap_or_default()
        ),
        &json!({}),
    )
    .await;
    agent(&app, "b", "online").await;
    app.admin_put("/v1/agents/a/presence", &json!({ "presence": "offline" }))
        .await;
    let mut b = Sse::open(&app, "b", None).await;
    // The customer writes again: the reopened conversation is routed afresh, and with
    // their personal agent offline it falls back to b.
    let again = app.ingest(&message("chat", None, "v-1", "me again")).await;
    assert_eq!(again["route"]["agent_id"], "b", "{again}");
    let covered = a.events(3).await;
    assert_eq!(covered[2].1, "conversation.covered");
    assert_eq!(covered[2].2["other_agent_id"], "b");
    let assigned = b.events(1).await;
    assert_eq!(
        (assigned[0].1.as_str(), assigned[0].2["reason"].as_str()),
        ("conversation.assigned", Some("fallback"))
    );
}

#[tokio::test]
async fn a_reconnecting_agent_misses_nothing() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    agent(&app, "a", "online").await;
    let mut first = Sse::open(&app, "a", None).await;
    app.ingest(&message("chat", None, "r-1", "one")).await;
    let seen = first.events(1).await;
    let last_id = seen[0].0.clone();
    drop(first);
    // While disconnected, two more customers arrive.
    app.ingest(&message("chat", None, "r-2", "two")).await;
    app.ingest(&message("chat", None, "r-3", "three")).await;
    let mut again = Sse::open(&app, "a", Some(&last_id)).await;
    let replayed = again.events(2).await;
    let texts: Vec<&str> = replayed
        .iter()
        .filter_map(|e| e.2["recent_messages"][0]["text"].as_str())
        .collect();
    assert_eq!(texts, ["two", "three"], "exactly what was missed, in order");
    assert!(replayed.iter().all(|e| e.0 > last_id));
}

#[tokio::test]
async fn an_idle_stream_sends_heartbeats_and_other_agents_are_refused() {
    let app = spawn_app(test_settings(
        None,
        &[("SWITCHBOARD_SSE__HEARTBEAT_SECS", "1")],
    ))
    .await;
    agent(&app, "a", "online").await;
    agent(&app, "b", "online").await;
    let refused = app
        .client
        .get(format!("{}/v1/agents/b/events", app.address))
        .bearer_auth(agent_jwt("a"))
        .send()
        .await
        .expect("sent");
    assert_eq!(refused.status(), 403);
    let mut sse = Sse::open(&app, "a", None).await;
    let chunk = tokio::time::timeout(Duration::from_secs(3), sse.response.chunk())
        .await
        .expect("within 3 s")
        .expect("read")
        .expect("a chunk");
    assert_eq!(&chunk[..], b": heartbeat\n\n");
}

/// Commands an event stream may cost the server, run so far (`INFO commandstats`): the
/// stream reads, and the lookups of an agent's group. (The timers' and rate limits'
/// commands are another matter.)
fn commands_run(port: u16) -> u64 {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "info", "commandstats"])
        .output()
        .expect("redis-cli");
    let counted = ["xread", "xrange", "xrevrange", "get"];
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            let name = l.strip_prefix("cmdstat_").and_then(|l| l.split(':').next());
            name.is_some_and(|n| counted.contains(&n))
        })
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

#[tokio::test]
async fn idle_streams_share_one_poll_and_still_hear_at_once() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    const STREAMS: usize = 100;
    for i in 0..STREAMS {
        agent(&app, &format!("agent-{i}"), "online").await;
    }
    let mut streams = Vec::new();
    for i in 0..STREAMS {
        streams.push(Sse::open(&app, &format!("agent-{i}"), None).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = commands_run(redis.port);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = commands_run(redis.port) - before;
    eprintln!("{idle} stream commands in 2 s for {STREAMS} idle streams");
    // One poll per stream would be 100 streams x 4 polls/s x 2 s = 800 reads (and a
    // group lookup each 2 s); the shared poll is one XREAD per interval for all of them.
    assert!(
        idle <= 20,
        "{idle} commands in 2 s for {STREAMS} idle streams"
    );

    let r = app.ingest(&message("chat", None, "v-1", "anyone?")).await;
    let agent = r["route"]["agent_id"]
        .as_str()
        .expect("assigned")
        .to_owned();
    let index: usize = agent["agent-".len()..].parse().expect("agent index");
    let got = streams[index].events(1).await;
    assert_eq!(got[0].1, "conversation.assigned");
    assert_eq!(got[0].2["conversation_id"], r["conversation_id"]);
}
