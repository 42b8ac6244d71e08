//! A busy floor as a random walk through the real HTTP API: two replicas on one Redis,
//! routing timers turned down to a second, and every few steps a check that no
//! conversation is left behind. The operations: messages on every channel and their
//! retries, merges (a message naming two customers' identities), calls with the menu's
//! "0" and their hang-ups, complaints, ratings, follow-ups, requirements (a language or
//! a skill, relaxed within seconds), transfers to agents, to queues and to an agent of
//! another routing group (`sales`), presence, capacity raised, agents removed and added
//! back, resolves (and the reopens a later message makes), and waits past the timers.
//!
//! The checks: every open conversation stands in exactly one place (held, queued or
//! waiting for its personal agent) and a resolved one nowhere; each agent's list is
//! exactly the conversations that name them, and their load plus after-call work is its
//! length; nobody is over capacity; and nobody online with room idles while a
//! conversation they may take (the default group's, needing nothing) waits in that
//! channel's queue.
//!
//! CI runs `SWITCHBOARD_WALK_SEEDS` (default 2) seeds of `SWITCHBOARD_WALK_STEPS`
//! (default 120) steps; the long run is
//! `SWITCHBOARD_WALK_SEEDS=5 SWITCHBOARD_WALK_STEPS=300 cargo test --test api random_walk`.
//! One seed again: `SWITCHBOARD_WALK_SEED=3`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    spawn_app, test_settings, RedisServer, Rng, TestApp, ADAPTER_TOKEN, ADMIN_TOKEN,
};

const AGENTS: [&str; 3] = ["a", "b", "c"];
/// The one agent of the other routing group.
const SALES: &str = "s";
const CUSTOMERS: u64 = 8;
const CHANNELS: [(&str, Option<&str>); 4] = [
    ("phone", Some("sms")),
    ("email", None),
    ("chat", None),
    ("social", Some("whatsapp")),
];

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The customer's address on a channel (their phone number is their WhatsApp id too).
fn address(customer: u64, channel: &str) -> String {
    match channel {
        "phone" => format!("+1415555{:04}", 100 + customer),
        "social" => format!("1415555{:04}", 100 + customer),
        "email" => format!("c{customer}@walk.example"),
        _ => format!("visitor-{customer}"),
    }
}

struct Walk {
    apps: [TestApp; 2],
    rng: Rng,
    /// Every message sent, for retries.
    sent: Vec<Value>,
    convs: BTreeSet<String>,
    customers: BTreeMap<u64, String>,
    calls: Vec<String>,
    removed: BTreeSet<&'static str>,
    /// Each agent's chat capacity (only ever raised, so no allowance is needed).
    capacity: BTreeMap<&'static str, u64>,
    /// Conversations sent to the other group at some point: their queue is not the
    /// default group's agents' to drain.
    crossed: BTreeSet<String>,
    step: usize,
}

impl Walk {
    fn app(&mut self) -> &TestApp {
        let i = self.rng.below(2) as usize;
        &self.apps[i]
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.rng.below(items.len() as u64) as usize].clone())
    }

    async fn send(
        &mut self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let app = self.app();
        let mut request = app
            .client
            .request(method, format!("{}{path}", app.address))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("sent");
        let status = response.status().as_u16();
        assert!(
            status < 500,
            "step {}: {path} answered {status}: {:?}",
            self.step,
            response.text().await
        );
        (status, response.json().await.unwrap_or(Value::Null))
    }

    fn remember(&mut self, receipt: &Value) {
        if let Some(conv) = receipt["conversation_id"].as_str() {
            self.convs.insert(conv.to_owned());
        }
    }

    async fn step(&mut self) {
        self.step += 1;
        let customer = self.rng.below(CUSTOMERS);
        let post = reqwest::Method::POST;
        let put = reqwest::Method::PUT;
        match self.rng.below(20) {
            0..=5 => {
                let (channel, network) = CHANNELS[self.rng.below(4) as usize];
                let mut body = json!({ "channel": channel, "network": network, "external_id": format!("m-{}", self.step),
                    "from": address(customer, channel), "text": format!("step {}", self.step) });
                if self.rng.below(6) == 0 {
                    // The customer names another customer's address: one person, merged.
                    let other = self.rng.below(CUSTOMERS);
                    body["identities"] =
                        json!([{ "kind": "email", "value": address(other, "email") }]);
                }
                let (status, receipt) = self
                    .send(post, "/v1/messages", ADAPTER_TOKEN, Some(body.clone()))
                    .await;
                assert_eq!(status, 202, "step {}: {receipt}", self.step);
                self.remember(&receipt);
                if let Some(id) = receipt["customer_id"].as_str() {
                    self.customers.insert(customer, id.to_owned());
                }
                self.sent.push(body);
            }
            6 => {
                let sent = self.sent.clone();
                if let Some(body) = self.pick(&sent) {
                    let (status, receipt) = self
                        .send(post, "/v1/messages", ADAPTER_TOKEN, Some(body))
                        .await;
                    assert_eq!(
                        (status, &receipt["duplicate"]),
                        (202, &json!(true)),
                        "step {}",
                        self.step
                    );
                }
            }
            7 => {
                let sid = format!("CA-{}", self.step);
                let call = json!({ "external_id": sid, "from": address(customer, "phone"), "to": "+18005550000" });
                let (_, answer) = self
                    .send(post.clone(), "/v1/calls", ADAPTER_TOKEN, Some(call))
                    .await;
                if answer["decision"] == "ivr" {
                    let zero = json!({ "event": "agent_requested" });
                    self.send(
                        post,
                        &format!("/v1/calls/{sid}/events"),
                        ADAPTER_TOKEN,
                        Some(zero),
                    )
                    .await;
                }
                let (_, call) = self
                    .send(
                        reqwest::Method::GET,
                        &format!("/v1/calls/{sid}"),
                        ADMIN_TOKEN,
                        None,
                    )
                    .await;
                self.remember(&call);
                self.calls.push(sid);
            }
            8 => {
                let calls = self.calls.clone();
                if let Some(sid) = self.pick(&calls) {
                    let ended = json!({ "event": "hung_up" });
                    self.send(
                        post,
                        &format!("/v1/calls/{sid}/events"),
                        ADAPTER_TOKEN,
                        Some(ended),
                    )
                    .await;
                }
            }
            9 => {
                if let Some(id) = self.customers.get(&customer).cloned() {
                    let complaint = json!({ "text": "nobody answers", "channel": "chat" });
                    let (_, answer) = self
                        .send(
                            post,
                            &format!("/v1/customers/{id}/complaints"),
                            ADAPTER_TOKEN,
                            Some(complaint),
                        )
                        .await;
                    self.remember(&answer);
                }
            }
            10 => {
                let convs: Vec<String> = self.convs.iter().cloned().collect();
                if let Some(conv) = self.pick(&convs) {
                    let rating = json!({ "rating": 1 + self.rng.below(5), "source": "survey" });
                    self.send(
                        post,
                        &format!("/v1/conversations/{conv}/rating"),
                        ADAPTER_TOKEN,
                        Some(rating),
                    )
                    .await;
                }
            }
            11 => {
                if let Some(id) = self.customers.get(&customer).cloned() {
                    let when = json!({ "due_at": "2027-01-15T10:00:00Z" });
                    self.send(
                        put,
                        &format!("/v1/customers/{id}/follow-up"),
                        ADMIN_TOKEN,
                        Some(when),
                    )
                    .await;
                }
            }
            12 | 13 => {
                let convs: Vec<String> = self.convs.iter().cloned().collect();
                if let Some(conv) = self.pick(&convs) {
                    let target = match self.rng.below(5) {
                        0 => json!({ "to_queue": "supervisor" }),
                        1 => json!({ "to_queue": "chat" }),
                        2 => {
                            self.crossed.insert(conv.clone());
                            json!({ "to_agent": SALES })
                        }
                        _ => json!({ "to_agent": AGENTS[self.rng.below(3) as usize] }),
                    };
                    self.send(
                        post,
                        &format!("/v1/conversations/{conv}/transfer"),
                        ADMIN_TOKEN,
                        Some(target),
                    )
                    .await;
                }
            }
            14 | 15 => {
                let agent = AGENTS[self.rng.below(3) as usize];
                let presence = ["online", "online", "away", "offline"][self.rng.below(4) as usize];
                let body = json!({ "presence": presence });
                self.send(
                    put,
                    &format!("/v1/agents/{agent}/presence"),
                    ADMIN_TOKEN,
                    Some(body),
                )
                .await;
            }
            16 => {
                let agent = AGENTS[self.rng.below(3) as usize];
                let chat = self.capacity[agent] + self.rng.below(2);
                self.capacity.insert(agent, chat);
                let body = json!({ "name": agent, "capacity": { "chat": chat } });
                self.send(put, &format!("/v1/agents/{agent}"), ADMIN_TOKEN, Some(body))
                    .await;
                self.removed.remove(agent);
            }
            17 => {
                let agent = AGENTS[self.rng.below(3) as usize];
                if self.removed.len() < 2 {
                    self.send(
                        reqwest::Method::DELETE,
                        &format!("/v1/agents/{agent}"),
                        ADMIN_TOKEN,
                        None,
                    )
                    .await;
                    self.removed.insert(agent);
                }
            }
            18 => {
                let convs: Vec<String> = self.convs.iter().cloned().collect();
                if let Some(conv) = self.pick(&convs) {
                    if self.rng.below(3) == 0 {
                        let needs = match self.rng.below(2) {
                            0 => json!({ "language": "es" }),
                            _ => json!({ "skills": { "billing": 2 } }),
                        };
                        let path = format!("/v1/conversations/{conv}/requirements");
                        self.send(put, &path, ADMIN_TOKEN, Some(needs)).await;
                    } else {
                        let path = format!("/v1/conversations/{conv}/resolve");
                        self.send(post, &path, ADMIN_TOKEN, Some(json!({}))).await;
                    }
                }
            }
            _ => tokio::time::sleep(Duration::from_millis(1100)).await,
        }
    }

    /// What is wrong now, read through the API (empty: nothing).
    async fn violations(&mut self) -> Vec<String> {
        let get = reqwest::Method::GET;
        let mut holders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut queued_chat = Vec::new();
        let mut bad = Vec::new();
        for conv in self.convs.clone() {
            let (status, view) = self
                .send(
                    get.clone(),
                    &format!("/v1/conversations/{conv}"),
                    ADMIN_TOKEN,
                    None,
                )
                .await;
            if status == 404 {
                continue;
            }
            let open = view["state"] == "open";
            let routed = !view["route"].is_null();
            if open != routed {
                bad.push(format!(
                    "{conv}: state {} but route {}",
                    view["state"], view["route"]
                ));
            }
            if let Some(agent) = view["agent_id"].as_str() {
                holders
                    .entry(agent.to_owned())
                    .or_default()
                    .insert(view["id"].as_str().unwrap_or_default().to_owned());
            }
            let needs_nothing = view["needs"].as_array().is_none_or(Vec::is_empty);
            let other_group =
                self.crossed.contains(&conv) || view["customer"]["personal_agent_id"] == SALES;
            if view["agent_id"].is_null()
                && view["queue"] == "chat"
                && view["route"]["reason"] == "no_agent_available"
                && needs_nothing
                && !other_group
            {
                queued_chat.push(conv);
            }
        }
        let (_, agents) = self
            .send(get.clone(), "/v1/agents", ADMIN_TOKEN, None)
            .await;
        for agent in agents.as_array().cloned().unwrap_or_default() {
            let id = agent["id"].as_str().unwrap_or_default().to_owned();
            let (_, list) = self
                .send(
                    get.clone(),
                    &format!("/v1/agents/{id}/conversations"),
                    ADMIN_TOKEN,
                    None,
                )
                .await;
            let listed: BTreeSet<String> = list
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|i| i["conversation_id"].as_str().map(str::to_owned))
                .collect();
            let named = holders.remove(&id).unwrap_or_default();
            if listed != named {
                bad.push(format!(
                    "{id} lists {listed:?} but these name them: {named:?}"
                ));
            }
            let load: u64 = agent["load"]
                .as_object()
                .map_or(0, |l| l.values().filter_map(Value::as_u64).sum());
            let after_call = agent["after_call"].as_u64().unwrap_or(0);
            if load + after_call != listed.len() as u64 {
                bad.push(format!(
                    "{id}: load {load} + after-call {after_call} but holds {}",
                    listed.len()
                ));
            }
            for ch in ["phone", "email", "chat", "social"] {
                let (l, cap) = (
                    agent["load"][ch].as_u64().unwrap_or(0),
                    agent["capacity"][ch].as_u64().unwrap_or(0),
                );
                if l > cap {
                    bad.push(format!("{id} over capacity on {ch}: {l} > {cap}"));
                }
            }
            let chat_room = agent["load"]["chat"].as_u64() < agent["capacity"]["chat"].as_u64();
            let default_group = id != SALES;
            if default_group
                && agent["presence"] == "online"
                && chat_room
                && !queued_chat.is_empty()
            {
                bad.push(format!(
                    "{id} is online with chat room while {queued_chat:?} queue"
                ));
            }
        }
        if !holders.is_empty() {
            bad.push(format!(
                "conversations name agents who do not exist: {holders:?}"
            ));
        }
        bad
    }

    /// The checks, taken again after a moment while a background timer may have been
    /// moving things between the reads: only what persists is a violation.
    async fn check(&mut self) {
        let mut bad = Vec::new();
        for _ in 0..3 {
            bad = self.violations().await;
            if bad.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        panic!("step {}: {bad:#?}", self.step);
    }
}

async fn walk(seed: u64, steps: usize) {
    eprintln!("random walk seed {seed}");
    let redis = RedisServer::start();
    let fast = [
        ("SWITCHBOARD_ROUTING__STICKY_WAIT_SECS__PHONE", "1"),
        ("SWITCHBOARD_ROUTING__STICKY_WAIT_SECS__CHAT", "1"),
        ("SWITCHBOARD_ROUTING__STICKY_WAIT_SECS__SOCIAL", "1"),
        ("SWITCHBOARD_ROUTING__STICKY_WAIT_SECS__EMAIL", "1"),
        ("SWITCHBOARD_ROUTING__OFFLINE_GRACE_SECS", "1"),
        ("SWITCHBOARD_ROUTING__RELAX_ANY_LEVEL_SECS__CHAT", "1"),
        ("SWITCHBOARD_ROUTING__RELAX_ANYONE_SECS__CHAT", "2"),
        ("SWITCHBOARD_RATE_LIMIT__ADMIN_PER_SEC", "0"),
        ("SWITCHBOARD_RATE_LIMIT__ADAPTER_PER_SEC", "0"),
    ];
    let one = spawn_app(test_settings(Some(&redis.url()), &fast)).await;
    let two = spawn_app(test_settings(Some(&redis.url()), &fast)).await;
    let mut walk = Walk {
        apps: [one, two],
        rng: Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        sent: Vec::new(),
        convs: BTreeSet::new(),
        customers: BTreeMap::new(),
        calls: Vec::new(),
        removed: BTreeSet::new(),
        capacity: AGENTS.iter().map(|a| (*a, 3)).collect(),
        crossed: BTreeSet::new(),
        step: 0,
    };
    for agent in AGENTS {
        walk.apps[0].agent_online(agent).await;
    }
    let sales = json!({ "name": SALES, "group": "sales" });
    walk.apps[0]
        .admin_put(&format!("/v1/agents/{SALES}"), &sales)
        .await;
    let online = json!({ "presence": "online" });
    walk.apps[0]
        .admin_put(&format!("/v1/agents/{SALES}/presence"), &online)
        .await;
    for _ in 0..steps {
        walk.step().await;
        if walk.step.is_multiple_of(10) {
            walk.check().await;
        }
    }
    walk.check().await;
}

#[tokio::test]
async fn a_random_walk_of_a_busy_floor_leaves_no_conversation_behind() {
    let steps = env_or("SWITCHBOARD_WALK_STEPS", 120) as usize;
    match std::env::var("SWITCHBOARD_WALK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(seed) => walk(seed, steps).await,
        None => {
            for seed in 1..=env_or("SWITCHBOARD_WALK_SEEDS", 2) {
                walk(seed, steps).await;
            }
        }
    }
}
