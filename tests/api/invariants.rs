//! Randomised routing: many operation sequences (messages on every channel, retries of
//! earlier messages, merges of two existing customers, presence changes, capacity
//! changes, agents removed and re-added, tiers, resolves, transfers, requirements set
//! by an agent, timer firings, the archive sweep moving resolved conversations to a real
//! PostgreSQL, with Spanish speakers and billing levels) applied in lockstep to both
//! stores. After every step each store must keep the
//! invariants, and the two must agree on every routing decision and every agent event.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use switchboard::domain::CustomerId;
use switchboard::domain::{
    AgentId, AgentProfile, Capacity, Channel, ConversationId, ConversationState, Presence, Queue,
    Route, RouteReason,
};
use switchboard::store::format::{self, FinalizeOutcome};
use switchboard::store::{Assignment, ResolveOutcome, TransferOutcome, TransferTarget};

use switchboard::app::{archiving, App};
use switchboard::startup::app_state;

use crate::helpers::{inbound, test_settings, Harness, PostgresServer, Rng};

const AGENTS: [&str; 3] = ["a", "b", "c"];
const CUSTOMERS: usize = 8;

#[derive(Debug, Clone)]
enum Op {
    Message {
        customer: usize,
        channel: u8,
    },
    /// A provider's retry of an earlier message (also after its conversation resolved).
    Retry {
        pick: usize,
    },
    /// A message proving two customers are one person.
    Merge {
        customer: usize,
        other: usize,
    },
    Presence {
        agent: usize,
        presence: Presence,
    },
    /// The agent's chat capacity changes (or a removed agent comes back).
    Capacity {
        agent: usize,
        chat: u32,
    },
    Remove {
        agent: usize,
    },
    Tier {
        customer: usize,
        vip: bool,
    },
    Resolve {
        pick: usize,
    },
    /// A call on the picked conversation ends: frees a phone route only.
    HangUp {
        pick: usize,
    },
    Transfer {
        pick: usize,
        agent: Option<usize>,
    },
    /// An agent or admin sets what a conversation needs (billing at `level`, 0: none).
    Require {
        pick: usize,
        level: u8,
        spanish: bool,
        /// Also raise its queue priority (a complaint, an escalation).
        raise: Option<u8>,
    },
    Timers,
}

fn ops(seed: u64, steps: usize) -> Vec<(Op, i64)> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    (0..steps)
        .map(|_| {
            let customer = rng.below(CUSTOMERS as u64) as usize;
            let op = match rng.below(21) {
                0..=5 => Op::Message {
                    customer,
                    channel: rng.below(4) as u8,
                },
                6 => Op::Retry {
                    pick: rng.below(64) as usize,
                },
                7 => Op::Merge {
                    customer,
                    other: rng.below(CUSTOMERS as u64) as usize,
                },
                8 => Op::Capacity {
                    agent: rng.below(3) as usize,
                    chat: rng.below(4) as u32,
                },
                9 => Op::Remove {
                    agent: rng.below(3) as usize,
                },
                10 => Op::Tier {
                    customer,
                    vip: rng.below(2) == 0,
                },
                11..=13 => Op::Presence {
                    agent: rng.below(3) as usize,
                    presence: [
                        Presence::Online,
                        Presence::Online,
                        Presence::Away,
                        Presence::Offline,
                    ][rng.below(4) as usize],
                },
                14 | 15 => Op::Resolve {
                    pick: rng.below(64) as usize,
                },
                16 => Op::Require {
                    pick: rng.below(64) as usize,
                    level: rng.below(4) as u8,
                    spanish: rng.below(2) == 0,
                    raise: [None, Some(8), Some(9)][rng.below(3) as usize],
                },
                17 | 18 => Op::Transfer {
                    pick: rng.below(64) as usize,
                    agent: (rng.below(3) > 0).then(|| rng.below(3) as usize),
                },
                19 => Op::Timers,
                _ => Op::HangUp {
                    pick: rng.below(64) as usize,
                },
            };
            (op, rng.below(45) as i64)
        })
        .collect()
}

/// One store under simulation, with the conversations it answered, in order.
struct Sim {
    h: Harness,
    /// The use cases over `h.store`, for the archive sweep.
    app: std::sync::Arc<App>,
    convs: Vec<ConversationId>,
    /// Each live customer's personal agent, as first seen (keyed by the store's id).
    owners: HashMap<CustomerId, Option<String>>,
    /// The store's customer id of each simulated customer (after merges, the survivor).
    customers: HashMap<usize, CustomerId>,
    /// Every message sent so far, for retries.
    sent: Vec<(usize, serde_json::Value)>,
    /// Load an agent kept above a capacity an admin lowered, per `agent:channel`: what it
    /// already held stays held, and the allowance only shrinks as it lets go.
    kept: std::sync::Mutex<HashMap<String, u32>>,
    /// The message being ingested merges customers: its survivor's agent is learnt anew.
    merging: bool,
}

/// What one step decided, comparable across stores (ids replaced by their position).
type Outcome = Vec<String>;

impl Sim {
    async fn new(h: Harness, t0: DateTime<Utc>, archive_url: Option<&str>) -> Self {
        for i in 0..AGENTS.len() {
            let capacity = Capacity {
                chat: 1 + i as u32 % 2,
                email: 2 - i as u32 % 2,
                ..Capacity::default()
            };
            h.store
                .put_agent(&agent_profile(i, capacity), t0)
                .await
                .expect("put");
        }
        let archiving = archive_url.map_or(Vec::new(), |url| {
            vec![
                ("SWITCHBOARD_ARCHIVE__URL", url),
                ("SWITCHBOARD_RETENTION__ARCHIVE_AFTER_SECS", "60"),
                ("SWITCHBOARD_INGEST__REOPEN_WINDOW_SECS", "60"),
            ]
        });
        let settings = test_settings(None, &archiving);
        let app = app_state(&settings, h.store.clone()).expect("app");
        Self {
            h,
            app,
            convs: Vec::new(),
            owners: HashMap::new(),
            customers: HashMap::new(),
            sent: Vec::new(),
            kept: std::sync::Mutex::new(HashMap::new()),
            merging: false,
        }
    }

    fn position(&self, conv: &ConversationId) -> usize {
        self.convs
            .iter()
            .position(|c| c == conv)
            .unwrap_or(usize::MAX)
    }

    fn describe(&self, route: &Route) -> String {
        format!(
            "{:?}/{:?}/{:?}/{:?}",
            route.decision, route.agent_id, route.queue, route.reason
        )
    }

    /// Ingests and checks the sticky rule: a customer's personal agent never changes
    /// (until that agent is removed, or the customer merges into an older one).
    async fn ingest(
        &mut self,
        customer: usize,
        body: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Outcome {
        let store = self.h.store.clone();
        let r = store.ingest(&inbound(body), now).await.expect("ingest");
        if !self.convs.contains(&r.conversation_id) {
            self.convs.push(r.conversation_id.clone());
        }
        self.customers.insert(customer, r.customer_id.clone());
        // A retry answers the first receipt's ids, perhaps of a customer merged away
        // since: the live customer is the one that counts.
        let live = store
            .customer(&r.customer_id)
            .await
            .expect("read")
            .expect("customer");
        let owner = live.personal_agent_id.map(|a| a.to_string());
        if self.merging {
            self.owners.remove(&live.id);
        }
        let first = self
            .owners
            .entry(live.id.clone())
            .or_insert_with(|| owner.clone());
        if first.is_none() {
            *first = owner.clone();
        }
        assert_eq!(
            *first, owner,
            "customer {customer} ({}): a customer's personal agent never changes",
            r.customer_id
        );
        vec![
            format!("conv#{}", self.position(&r.conversation_id)),
            self.describe(&r.route),
            format!("duplicate {}", r.duplicate),
        ]
    }

    fn assignments<const N: usize>(&self, made: &[Assignment], head: [String; N]) -> Outcome {
        head.into_iter()
            .chain(made.iter().map(|a| {
                format!(
                    "conv#{}->{}:{:?}:{:?}",
                    self.position(&a.conversation_id),
                    a.agent_id,
                    a.reason,
                    a.fit
                )
            }))
            .collect()
    }

    /// Every agent's events, comparable across stores (event ids differ; the order and
    /// content may not).
    async fn events(&self) -> Vec<String> {
        let mut out = Vec::new();
        for agent in AGENTS {
            let id: AgentId = agent.parse().expect("id");
            let events = self
                .h
                .store
                .agent_events(&id, "0", 10_000)
                .await
                .expect("events");
            out.extend(events.iter().map(|e| {
                format!(
                    "{agent}:{}:conv#{}:{:?}:{:?}",
                    e.kind.as_str(),
                    self.position(&e.conversation_id),
                    e.reason,
                    e.other_agent
                )
            }));
        }
        out
    }

    async fn apply(&mut self, op: &Op, now: DateTime<Utc>, step: usize) -> Outcome {
        let store = self.h.store.clone();
        match op {
            Op::Message { customer, channel } => {
                let body = message_body(*customer, *channel, &format!("m{step}"));
                self.sent.push((*customer, body.clone()));
                self.ingest(*customer, body, now).await
            }
            Op::Retry { pick } => {
                let Some((customer, body)) = self.sent.get(pick % self.sent.len().max(1)).cloned()
                else {
                    return vec![];
                };
                let mut out = self.ingest(customer, body, now).await;
                out.push("retry".into());
                out
            }
            Op::Merge { customer, other } => {
                // A chat visitor vouched for by both customers' e-mails: one person.
                let body = json!({ "channel": "chat", "external_id": format!("m{step}"),
                    "from": format!("v{customer}"),
                    "identities": [{ "kind": "email", "value": format!("c{customer}@x.io") },
                                   { "kind": "email", "value": format!("c{other}@x.io") }],
                    "text": "both" });
                self.sent.push((*customer, body.clone()));
                // Whose personal agent survives depends on which customer is older.
                self.merging = true;
                let out = self.ingest(*customer, body, now).await;
                self.merging = false;
                out
            }
            Op::Capacity { agent, chat } => {
                let capacity = Capacity {
                    chat: *chat,
                    ..Capacity::default()
                };
                let profile = agent_profile(*agent, capacity);
                let saved = store.put_agent(&profile, now).await.expect("put");
                let held = saved.view.load.get("chat").copied().unwrap_or(0);
                let mut kept = self.kept.lock().expect("lock");
                kept.insert(
                    format!("{}:chat", AGENTS[*agent]),
                    held.saturating_sub(*chat),
                );
                drop(kept);
                self.assignments(&saved.assignments, [format!("created {}", saved.created)])
            }
            Op::Remove { agent } => {
                let id: AgentId = AGENTS[*agent].parse().expect("id");
                match store.delete_agent(&id, now).await.expect("delete") {
                    Some(made) => {
                        // Their customers get a new personal agent when they next need one.
                        self.owners
                            .retain(|_, owner| owner.as_deref() != Some(AGENTS[*agent]));
                        self.assignments(&made, ["removed".to_owned()])
                    }
                    None => vec!["unknown agent".into()],
                }
            }
            Op::Tier { customer, vip } => {
                let Some(id) = self.customers.get(customer) else {
                    return vec![];
                };
                let tier = if *vip { "vip" } else { "standard" };
                let found = store.set_tier(id, tier).await.expect("tier");
                vec![format!("tier {tier} {}", found.is_some())]
            }
            Op::Presence { agent, presence } => {
                let Some(made) = store
                    .set_presence(&AGENTS[*agent].parse().expect("id"), *presence, now)
                    .await
                    .expect("presence")
                else {
                    return vec!["unknown agent".into()];
                };
                self.assignments(&made, [])
            }
            Op::Resolve { pick } => {
                let Some(conv) = self.convs.get(pick % self.convs.len().max(1)).cloned() else {
                    return vec![];
                };
                match store.resolve(&conv, now).await.expect("resolve") {
                    ResolveOutcome::Resolved(made) => made
                        .iter()
                        .map(|a| {
                            format!(
                                "conv#{}->{}:{:?}",
                                self.position(&a.conversation_id),
                                a.agent_id,
                                a.reason
                            )
                        })
                        .chain(["resolved".to_owned()])
                        .collect(),
                    other => vec![format!("{other:?}")],
                }
            }
            Op::HangUp { pick } => {
                let Some(conv) = self.convs.get(pick % self.convs.len().max(1)).cloned() else {
                    return vec![];
                };
                let made = store.release(&conv, now).await.expect("release");
                self.assignments(&made, [])
            }
            Op::Require {
                pick,
                level,
                spanish,
                raise,
            } => {
                let Some(conv) = self.convs.get(pick % self.convs.len().max(1)).cloned() else {
                    return vec![];
                };
                let skills = if *level > 0 {
                    json!({ "billing": level })
                } else {
                    json!({})
                };
                let requirements = switchboard::domain::Requirements {
                    language: spanish.then(|| "es".parse().expect("language")),
                    skills: serde_json::from_value(skills).expect("skills"),
                };
                let raised = match raise {
                    Some(floor) => store.raise_priority(&conv, *floor).await.expect("raise"),
                    None => false,
                };
                match store
                    .set_requirements(&conv, &requirements, now)
                    .await
                    .expect("require")
                {
                    Some(made) => self.assignments(&made, [format!("required, raised {raised}")]),
                    None => vec![format!("not routed, raised {raised}")],
                }
            }
            Op::Transfer { pick, agent } => {
                let Some(conv) = self.convs.get(pick % self.convs.len().max(1)).cloned() else {
                    return vec![];
                };
                let target = match agent {
                    Some(a) => TransferTarget::Agent(AGENTS[*a].parse::<AgentId>().expect("id")),
                    None => TransferTarget::Queue(if conv.seq() % 2 == 0 {
                        Queue::Supervisor
                    } else {
                        Queue::Channel(Channel::Chat)
                    }),
                };
                match store
                    .transfer(&conv, &target, None, now)
                    .await
                    .expect("transfer")
                {
                    TransferOutcome::Transferred {
                        route,
                        transfers,
                        assignments,
                    } => {
                        let mut out = vec![self.describe(&route), format!("transfers {transfers}")];
                        out.extend(assignments.iter().map(|a| {
                            format!("conv#{}->{}", self.position(&a.conversation_id), a.agent_id)
                        }));
                        out
                    }
                    other => vec![format!("{other:?}")],
                }
            }
            Op::Timers => {
                let made = store.fire_timers(now).await.expect("timers");
                self.assignments(&made, [])
            }
        }
    }

    /// No agent over capacity; loads match the conversations held; nothing held twice;
    /// nobody queued on a channel while an online agent has room there.
    async fn check(&self, context: &str) -> Vec<String> {
        let store = &self.h.store;
        let agents = store.agents().await.expect("agents");
        let mut held: HashMap<String, u32> = HashMap::new();
        let mut queued_channels = Vec::new();
        let mut snapshot = Vec::new();
        let mut open = 0;
        for (i, conv) in self.convs.iter().enumerate() {
            let view = store.conversation(conv).await.expect("read").expect("conv");
            open += usize::from(view.state == ConversationState::Open);
            if let Some(agent) = &view.agent_id {
                *held.entry(agent.to_string()).or_default() += 1;
            }
            let queued = view
                .route
                .as_ref()
                .filter(|r| r.reason == RouteReason::NoAgentAvailable);
            match queued.and_then(|r| r.queue.map(|q| q.as_str())) {
                Some("supervisor") | None => {}
                Some(queue) => queued_channels.push((queue.to_owned(), view.needs.clone())),
            }
            snapshot.push(format!(
                "conv#{i}:{:?}:{:?}:{:?}:{:?}:archived {}:{} entries",
                view.state,
                view.agent_id,
                view.queue,
                view.needs,
                view.archived,
                view.messages.len()
            ));
        }
        for a in &agents {
            let load: u32 = a.load.values().sum();
            for (channel, l) in &a.load {
                let cap = match channel.as_str() {
                    "phone" => a.capacity.phone,
                    "email" => a.capacity.email,
                    "chat" => a.capacity.chat,
                    _ => a.capacity.social,
                };
                let key = format!("{}:{channel}", a.id);
                let mut kept = self.kept.lock().expect("lock");
                let allowance = kept
                    .get(&key)
                    .copied()
                    .unwrap_or(0)
                    .min(l.saturating_sub(cap));
                kept.insert(key, allowance);
                drop(kept);
                assert!(
                    *l <= cap + allowance,
                    "{context}: {} over capacity on {channel}: {l} > {cap}",
                    a.id
                );
            }
            assert_eq!(
                load + a.after_call,
                held.get(a.id.as_str()).copied().unwrap_or(0),
                "{context}: {}'s load and after-call work match what it holds",
                a.id
            );
            if a.presence == Presence::Online {
                // Only a conversation the agent fits (`AgentProfile::tags`) is theirs to take.
                let tags = agent_profile(
                    AGENTS.iter().position(|x| *x == a.id.as_str()).unwrap_or(0),
                    Capacity::default(),
                )
                .tags();
                let fitting = queued_channels
                    .iter()
                    .filter(|(_, needs)| needs.iter().all(|t| tags.contains(t)))
                    .map(|(ch, _)| ch);
                for ch in fitting {
                    let room = a.load[ch]
                        < match ch.as_str() {
                            "phone" => a.capacity.phone,
                            "email" => a.capacity.email,
                            "chat" => a.capacity.chat,
                            _ => a.capacity.social,
                        };
                    assert!(!room, "{context}: {} is online with room on {ch} while a conversation queues there", a.id);
                }
            }
            snapshot.push(format!(
                "{}:{:?}:{:?}:{}:{}",
                a.id, a.presence, a.load, a.portfolio, a.after_call
            ));
        }
        // The deployment-wide gauges' source agrees too.
        let routing = store.snapshot().await.expect("snapshot");
        let depths: usize = routing.queues.iter().map(|q| q.depth as usize).sum();
        // Every open conversation is held or waits (queued, or for its personal agent).
        let unheld = open - held.values().sum::<u32>() as usize;
        assert_eq!(
            depths, unheld,
            "{context}: {depths} waiting in queues, {unheld} open and unheld"
        );
        snapshot.push(format!("{routing:?}"));
        // Every queue in serving order (priorities included) is the same on both stores.
        for queue in ["phone", "email", "chat", "social", "supervisor"] {
            let queue: switchboard::domain::Queue = queue.parse().expect("queue");
            let listed = store.queued(&queue, 100).await.expect("queue");
            let order: Vec<String> = listed
                .iter()
                .map(|q| format!("conv#{}@{}", self.position(&q.conversation_id), q.priority))
                .collect();
            snapshot.push(format!("{}: {order:?}", queue.as_str()));
        }
        snapshot
    }
}

/// When both stores start writing the newest storage format: from the start for even
/// seeds, part-way for odd ones, so each format's rules and the switch are exercised.
fn finalize_step(seed: u64, steps: usize) -> usize {
    if seed.is_multiple_of(2) {
        0
    } else {
        (seed as usize * 7) % steps.max(1)
    }
}

/// One seed's steps on both stores; with `archive_url`, every twentieth step is followed
/// by the archive sweep (conversations resolved over a minute ago move to PostgreSQL).
async fn run(seed: u64, steps: usize, archive_url: Option<&str>) {
    // Printed only when a seed fails (the harness captures it): the seed to replay.
    eprintln!("seed {seed}");
    let t0: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().expect("time");
    let (memory_store, redis_store) = match archive_url {
        Some(url) => (
            Harness::archived("memory", url),
            Harness::archived("redis", url),
        ),
        None => (Harness::memory(), Harness::redis()),
    };
    let mut memory = Sim::new(memory_store, t0, archive_url).await;
    let mut redis = Sim::new(redis_store, t0, archive_url).await;
    let mut now = t0;
    let finalize_at = finalize_step(seed, steps);
    for (step, (op, advance)) in ops(seed, steps).iter().enumerate() {
        now += Duration::seconds(*advance);
        if step == finalize_at {
            for sim in [&memory, &redis] {
                let done = sim.h.store.finalize_format(format::NEWEST, now).await;
                let expected = FinalizeOutcome::Finalized {
                    write: format::NEWEST,
                };
                assert_eq!(done.expect("finalize"), expected, "seed {seed} step {step}");
            }
        }
        let context = format!("seed {seed} step {step} {op:?}");
        let trace = std::env::var_os("SWITCHBOARD_INVARIANT_TRACE").is_some();
        if trace {
            eprintln!("{context}");
        }
        let a = memory.apply(op, now, step).await;
        let b = redis.apply(op, now, step).await;
        if trace {
            for sim in [&memory, &redis] {
                let mut owners = Vec::new();
                for c in 0..CUSTOMERS {
                    if let Some(id) = sim.customers.get(&c) {
                        let v = sim.h.store.customer(id).await.expect("r");
                        owners.push(format!(
                            "{c}:{:?}",
                            v.map(|v| (v.id.to_string()[28..].to_owned(), v.personal_agent_id))
                        ));
                    }
                }
                eprintln!("  owners {owners:?}");
            }
            eprintln!("  memory {a:?}\n  redis  {b:?}");
        }
        assert_eq!(a, b, "{context}: the stores decided differently");
        if archive_url.is_some() && step % 20 == 19 {
            let a = archiving::sweep(&memory.app, now).await.expect("archive");
            let b = archiving::sweep(&redis.app, now).await.expect("archive");
            assert_eq!(a, b, "{context}: the stores archived differently");
        }
        let sa = memory.check(&format!("{context} (memory)")).await;
        let sb = redis.check(&format!("{context} (redis)")).await;
        assert_eq!(sa, sb, "{context}: the stores' states differ");
        let (ea, eb) = (memory.events().await, redis.events().await);
        assert_eq!(ea, eb, "{context}: the agents were told different things");
    }
}

#[tokio::test]
async fn random_operation_sequences_keep_the_invariants_on_both_stores() {
    // More seeds: SWITCHBOARD_INVARIANT_SEEDS=200 cargo test --test api invariants
    let seeds: u64 = std::env::var("SWITCHBOARD_INVARIANT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    // Replay one failing seed: SWITCHBOARD_INVARIANT_SEED=3 (SWITCHBOARD_INVARIANT_TRACE=1
    // prints every step and what both stores answered).
    let only: Option<u64> = std::env::var("SWITCHBOARD_INVARIANT_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    let steps: usize = std::env::var("SWITCHBOARD_INVARIANT_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    // One PostgreSQL for every seed: both stores archive into it (their ids never meet).
    let pg = PostgresServer::start();
    switchboard::store::archive::Archive::connect(&pg.url())
        .expect("pool")
        .migrate()
        .await
        .expect("migrated");
    for seed in only.map_or(1..=seeds, |s| s..=s) {
        run(seed, steps, Some(&pg.url())).await;
    }
}

/// A message of `customer` on one of the four channels; the chat, phone and social
/// senders are vouched for by the customer's e-mail, so they are one customer.
/// Agent `i` with its languages and skills: a English with billing 1, b English and
/// Spanish with billing 3, c Spanish only; so requirements split them.
fn agent_profile(i: usize, capacity: Capacity) -> AgentProfile {
    let (languages, skills) = [
        (vec!["en"], json!({"billing": 1})),
        (vec!["en", "es"], json!({"billing": 3})),
        (vec!["es"], json!({})),
    ][i]
        .clone();
    let languages: Vec<String> = languages.into_iter().map(str::to_owned).collect();
    AgentProfile::new(
        AGENTS[i].parse().expect("id"),
        AGENTS[i].to_string(),
        vec![],
        capacity,
    )
    .expect("profile")
    .with_skills(serde_json::from_value(skills).expect("skills"), &languages)
    .expect("skills")
}

/// Some customers speak Spanish and some conversations need billing, so requirements,
/// their relaxing and the queues only fitting agents drain are exercised too.
fn message_body(customer: usize, channel: u8, external_id: &str) -> serde_json::Value {
    let mut body = plain_body(customer, channel, external_id);
    if customer % 4 == 1 {
        body["language"] = json!("es");
    }
    if customer % 3 == 2 && channel != 0 {
        body["skills"] = json!({"billing": 2 + customer % 2});
    }
    body
}

fn plain_body(customer: usize, channel: u8, external_id: &str) -> serde_json::Value {
    let email = json!([{ "kind": "email", "value": format!("c{customer}@x.io") }]);
    match channel {
        0 => json!({ "channel": "email", "external_id": external_id,
                     "from": format!("c{customer}@x.io"), "text": "e" }),
        1 => json!({ "channel": "chat", "external_id": external_id,
                     "from": format!("v{customer}"), "identities": email, "text": "c" }),
        2 => json!({ "channel": "phone", "network": "sms", "external_id": external_id,
                     "from": format!("+1415555{:04}", 100 + customer), "identities": email, "text": "p" }),
        _ => json!({ "channel": "social", "network": "whatsapp", "external_id": external_id,
                     "from": format!("1415555{:04}", 100 + customer), "identities": email, "text": "s" }),
    }
}

/// Seeds 40 and 47 over 300 steps: a merge finished by a replica that still knew a
/// merged customer under their old id replayed that customer's snapshot into the survivor
/// of a chain of merges, although the customer they were merged into had absorbed them
/// already: it handed back a personal agent who had since been removed (seed 40), and
/// opened a second conversation for a timeline already absorbed (seed 47).
#[tokio::test]
async fn merges_replayed_through_a_chain_absorb_nothing_twice() {
    run(40, 300, None).await;
    run(47, 300, None).await;
}

/// Seeds 116 and 192 over 300 steps: an agent removed and created again under the same
/// id before their old customers wrote. The Redis store counted a merged customer of the
/// old life out of the new one's portfolio (116), and refused to let the new life adopt a
/// customer whose hash still named the old one (192); the embedded store disagreed.
#[tokio::test]
async fn an_agent_created_again_is_a_stranger_on_every_path() {
    run(116, 300, None).await;
    run(192, 300, None).await;
}
