//! Randomised routing: many operation sequences (messages, presence changes, resolves,
//! transfers, timer firings) applied in lockstep to both stores. After every step each
//! store must keep the invariants, and the two must agree on every routing decision.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use switchboard::domain::{
    AgentId, AgentProfile, Capacity, Channel, ConversationId, Presence, Route, RouteReason,
};
use switchboard::store::{Queue, ResolveOutcome, TransferOutcome, TransferTarget};

use crate::helpers::{inbound, Harness};

const AGENTS: [&str; 3] = ["a", "b", "c"];
const CUSTOMERS: usize = 8;

/// xorshift64*: a tiny deterministic generator, so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[derive(Debug, Clone)]
enum Op {
    Message { customer: usize, email: bool },
    Presence { agent: usize, presence: Presence },
    Resolve { pick: usize },
    Transfer { pick: usize, agent: Option<usize> },
    Timers,
}

fn ops(seed: u64, steps: usize) -> Vec<(Op, i64)> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    (0..steps)
        .map(|_| {
            let op = match rng.below(10) {
                0..=3 => Op::Message {
                    customer: rng.below(CUSTOMERS as u64) as usize,
                    email: rng.below(2) == 0,
                },
                4 | 5 => Op::Presence {
                    agent: rng.below(3) as usize,
                    presence: [
                        Presence::Online,
                        Presence::Online,
                        Presence::Away,
                        Presence::Offline,
                    ][rng.below(4) as usize],
                },
                6 | 7 => Op::Resolve {
                    pick: rng.below(64) as usize,
                },
                8 => Op::Transfer {
                    pick: rng.below(64) as usize,
                    agent: (rng.below(3) > 0).then(|| rng.below(3) as usize),
                },
                _ => Op::Timers,
            };
            (op, rng.below(45) as i64)
        })
        .collect()
}

/// One store under simulation, with the conversations it answered, in order.
struct Sim {
    h: Harness,
    convs: Vec<ConversationId>,
    owners: HashMap<usize, Option<String>>,
}

/// What one step decided, comparable across stores (ids replaced by their position).
type Outcome = Vec<String>;

impl Sim {
    async fn new(h: Harness, t0: DateTime<Utc>) -> Self {
        for (i, agent) in AGENTS.iter().enumerate() {
            let capacity = Capacity {
                chat: 1 + i as u32 % 2,
                email: 2 - i as u32 % 2,
                ..Capacity::default()
            };
            let profile = AgentProfile::new(
                agent.parse().expect("id"),
                agent.to_string(),
                vec![],
                capacity,
            )
            .expect("profile");
            h.store.put_agent(&profile, t0).await.expect("put");
        }
        Self {
            h,
            convs: Vec::new(),
            owners: HashMap::new(),
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

    async fn apply(&mut self, op: &Op, now: DateTime<Utc>, step: usize) -> Outcome {
        let store = self.h.store.clone();
        match op {
            Op::Message { customer, email } => {
                let body = if *email {
                    json!({ "channel": "email", "external_id": format!("m{step}"), "from": format!("c{customer}@x.io"), "text": "e" })
                } else {
                    json!({ "channel": "chat", "external_id": format!("m{step}"), "from": format!("c{customer}@x.io"),
                            "identities": [{ "kind": "email", "value": format!("c{customer}@x.io") }], "text": "c" })
                };
                let body = if *email {
                    body
                } else {
                    json!({ "channel": "chat", "external_id": format!("m{step}"), "from": format!("v{customer}"), "identities": body["identities"], "text": "c" })
                };
                let r = store.ingest(&inbound(body), now).await.expect("ingest");
                if !self.convs.contains(&r.conversation_id) {
                    self.convs.push(r.conversation_id.clone());
                }
                let owner = store
                    .customer(&r.customer_id)
                    .await
                    .expect("read")
                    .expect("customer")
                    .personal_agent_id;
                let first = self
                    .owners
                    .entry(*customer)
                    .or_insert_with(|| owner.clone());
                if first.is_none() {
                    *first = owner.clone();
                }
                assert_eq!(*first, owner, "a customer's personal agent never changes");
                vec![
                    format!("conv#{}", self.position(&r.conversation_id)),
                    self.describe(&r.route),
                ]
            }
            Op::Presence { agent, presence } => {
                let made = store
                    .set_presence(&AGENTS[*agent].parse().expect("id"), *presence, now)
                    .await
                    .expect("presence")
                    .expect("known");
                made.iter()
                    .map(|a| {
                        format!(
                            "conv#{}->{}:{:?}",
                            self.position(&a.conversation_id),
                            a.agent_id,
                            a.reason
                        )
                    })
                    .collect()
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
                match store.transfer(&conv, &target, now).await.expect("transfer") {
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
                made.iter()
                    .map(|a| {
                        format!(
                            "conv#{}->{}:{:?}",
                            self.position(&a.conversation_id),
                            a.agent_id,
                            a.reason
                        )
                    })
                    .collect()
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
        for (i, conv) in self.convs.iter().enumerate() {
            let view = store.conversation(conv).await.expect("read").expect("conv");
            if let Some(agent) = &view.agent_id {
                *held.entry(agent.clone()).or_default() += 1;
            }
            let queued = view
                .route
                .as_ref()
                .filter(|r| r.reason == RouteReason::NoAgentAvailable);
            match queued.and_then(|r| r.queue.as_deref()) {
                Some("supervisor") | None => {}
                Some(queue) => queued_channels.push(queue.to_owned()),
            }
            snapshot.push(format!(
                "conv#{i}:{:?}:{:?}:{:?}",
                view.state, view.agent_id, view.queue
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
                assert!(
                    *l <= cap,
                    "{context}: {} over capacity on {channel}: {l} > {cap}",
                    a.id
                );
            }
            assert_eq!(
                load,
                held.get(a.id.as_str()).copied().unwrap_or(0),
                "{context}: {}'s load matches what it holds",
                a.id
            );
            if a.presence == Presence::Online {
                for ch in &queued_channels {
                    let room = a.load[ch]
                        < match ch.as_str() {
                            "email" => a.capacity.email,
                            _ => a.capacity.chat,
                        };
                    assert!(!room, "{context}: {} is online with room on {ch} while a conversation queues there", a.id);
                }
            }
            snapshot.push(format!(
                "{}:{:?}:{:?}:{}",
                a.id, a.presence, a.load, a.portfolio
            ));
        }
        // The deployment-wide gauges' source agrees too.
        let routing = store.snapshot().await.expect("snapshot");
        let depths: usize = routing.queues.iter().map(|q| q.depth as usize).sum();
        let waiting = self.convs.len() - held.values().sum::<u32>() as usize;
        assert!(
            depths <= waiting,
            "{context}: {depths} waiting in queues, at most {waiting} unheld"
        );
        snapshot.push(format!("{routing:?}"));
        snapshot
    }
}

async fn run(seed: u64) {
    let t0: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().expect("time");
    let mut memory = Sim::new(Harness::memory(), t0).await;
    let mut redis = Sim::new(Harness::redis(), t0).await;
    let mut now = t0;
    for (step, (op, advance)) in ops(seed, 150).iter().enumerate() {
        now += Duration::seconds(*advance);
        let context = format!("seed {seed} step {step} {op:?}");
        let a = memory.apply(op, now, step).await;
        let b = redis.apply(op, now, step).await;
        assert_eq!(a, b, "{context}: the stores decided differently");
        let sa = memory.check(&format!("{context} (memory)")).await;
        let sb = redis.check(&format!("{context} (redis)")).await;
        assert_eq!(sa, sb, "{context}: the stores' states differ");
    }
}

#[tokio::test]
async fn random_operation_sequences_keep_the_invariants_on_both_stores() {
    // More seeds: SWITCHBOARD_INVARIANT_SEEDS=200 cargo test --test api invariants
    let seeds: u64 = std::env::var("SWITCHBOARD_INVARIANT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    for seed in 1..=seeds {
        run(seed).await;
    }
}
