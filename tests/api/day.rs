//! A simulated working day on the embedded store and on Redis, every step at its own
//! simulated time:
//! five agents on shift 09:00–18:00 (two take lunch), eighty customers writing one to
//! three times between 08:00 and 19:00, conversations resolved after 5–25 minutes and
//! rated, ratings of 1–2 becoming complaints that a supervisor works every two hours.
//! It prints the practices' numbers — the share of conversations handled by the
//! customer's own manager, the satisfaction index, complaints answered within one working
//! day — and checks they are what this day must give.
//! Run: `cargo test --test api day -- --nocapture`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use switchboard::domain::{
    AgentId, AgentProfile, Calendar, Capacity, ConversationId, Presence, Queue, RouteReason,
    Satisfaction,
};
use switchboard::routing::COMPLAINT_PRIORITY;
use switchboard::store::{Assignment, TransferOutcome, TransferTarget};

use crate::helpers::{inbound, Harness, Rng};

const AGENTS: [&str; 5] = ["ann", "bob", "cat", "dan", "eve"];
const CUSTOMERS: u64 = 80;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Presence(usize, bool),
    Contact(u64),
    Resolve(ConversationId),
    SupervisorRound,
}

/// What the day produced.
#[derive(Default)]
struct Tally {
    by_own_manager: u32,
    assignments: u32,
    ratings: Vec<u8>,
    /// Complaints raised (conversation → when), and when each was taken up.
    complaints: HashMap<ConversationId, DateTime<Utc>>,
    answered: HashMap<ConversationId, DateTime<Utc>>,
    /// When each assigned conversation started waiting, and whether its own manager took it.
    waits: HashMap<ConversationId, (Duration, bool)>,
}

fn t(hm: &str) -> DateTime<Utc> {
    format!("2026-11-23T{hm}:00Z").parse().expect("time")
}

#[tokio::test]
async fn a_simulated_day_prints_the_practices_numbers_on_the_embedded_store() {
    simulate_a_day(Harness::memory()).await;
}

#[tokio::test]
async fn a_simulated_day_prints_the_practices_numbers_on_redis() {
    simulate_a_day(Harness::redis()).await;
}

async fn simulate_a_day(h: Harness) {
    let mut rng = Rng(0x5EED);
    let mut agenda: BTreeMap<(DateTime<Utc>, u64), Event> = BTreeMap::new();
    let mut seq = 0u64;
    let mut at = |agenda: &mut BTreeMap<_, _>, when: DateTime<Utc>, e: Event| {
        seq += 1;
        agenda.insert((when, seq), e);
    };
    for (i, name) in AGENTS.iter().enumerate() {
        let profile = AgentProfile::new(
            name.parse().expect("id"),
            name.to_string(),
            vec![],
            Capacity::default(),
        )
        .expect("profile");
        h.store.put_agent(&profile, t("08:00")).await.expect("put");
        at(&mut agenda, t("09:00"), Event::Presence(i, true));
        at(&mut agenda, t("18:00"), Event::Presence(i, false));
        if i < 2 {
            at(&mut agenda, t("12:00"), Event::Presence(i, false));
            at(&mut agenda, t("13:00"), Event::Presence(i, true));
        }
    }
    for c in 0..CUSTOMERS {
        for _ in 0..=rng.below(3) {
            let minute = rng.below(11 * 60) as i64;
            at(
                &mut agenda,
                t("08:00") + Duration::minutes(minute),
                Event::Contact(c),
            );
        }
    }
    for hm in ["10:00", "12:00", "14:00", "16:00", "18:00"] {
        at(&mut agenda, t(hm), Event::SupervisorRound);
    }
    // Complaints raised after hours are worked the next morning.
    at(
        &mut agenda,
        t("10:00") + Duration::days(1),
        Event::SupervisorRound,
    );

    let mut tally = Tally::default();
    let mut clock = t("08:00");
    while let Some(((when, _), event)) = agenda.pop_first() {
        // Routing's timers run every minute of the day, as every replica's poll does.
        while clock < when {
            clock += Duration::minutes(1);
            let made = h.store.fire_timers(clock).await.expect("timers");
            took(&mut tally, &mut agenda, &mut rng, &made, clock, &mut seq);
        }
        match event {
            Event::Presence(i, online) => {
                let presence = if online {
                    Presence::Online
                } else {
                    Presence::Offline
                };
                let id: AgentId = AGENTS[i].parse().expect("id");
                let made = h
                    .store
                    .set_presence(&id, presence, when)
                    .await
                    .expect("presence");
                took(
                    &mut tally,
                    &mut agenda,
                    &mut rng,
                    &made.unwrap_or_default(),
                    when,
                    &mut seq,
                );
            }
            Event::Contact(c) => {
                let body = json!({ "channel": "chat", "external_id": format!("m-{c}-{}", when.timestamp()),
                                   "from": format!("visitor-{c}"), "text": "hi" });
                let r = h.store.ingest(&inbound(body), when).await.expect("ingest");
                if r.route.reason != RouteReason::AlreadyAssigned {
                    if let Some(agent) = &r.route.agent_id {
                        let made = Assignment::new(
                            &r.conversation_id,
                            &agent.parse().expect("id"),
                            r.route.reason,
                            switchboard::domain::Channel::Chat,
                            when,
                            when,
                        );
                        took(&mut tally, &mut agenda, &mut rng, &[made], when, &mut seq);
                    }
                }
            }
            Event::Resolve(conv) => {
                let outcome = h.store.resolve(&conv, when).await.expect("resolve");
                if let switchboard::store::ResolveOutcome::Resolved(made) = outcome {
                    let rating = rate(&tally, &conv, &mut rng);
                    tally.ratings.push(rating);
                    h.store
                        .rate(&conv, "resolve", rating, when)
                        .await
                        .expect("rate");
                    took(&mut tally, &mut agenda, &mut rng, &made, when, &mut seq);
                    if rating <= 2 {
                        let freed = complain(&h, &mut tally, &conv, when).await;
                        took(&mut tally, &mut agenda, &mut rng, &freed, when, &mut seq);
                    }
                }
            }
            Event::SupervisorRound => {
                let waiting = h
                    .store
                    .queued(&Queue::Supervisor, 100)
                    .await
                    .expect("queue");
                for q in waiting {
                    tally
                        .answered
                        .entry(q.conversation_id.clone())
                        .or_insert(when);
                    h.store
                        .resolve(&q.conversation_id, when)
                        .await
                        .expect("resolve");
                }
            }
        }
    }

    let share = f64::from(tally.by_own_manager) / f64::from(tally.assignments.max(1));
    let index = Satisfaction::of(&tally.ratings).expect("rated");
    let calendar = Calendar::default();
    let in_a_day = tally
        .complaints
        .iter()
        .filter(|(conv, raised)| {
            let due = calendar.add_working(**raised, calendar.day_length());
            tally.answered.get(*conv).is_some_and(|a| *a <= due)
        })
        .count();
    let complaints = tally.complaints.len();
    println!(
        "a simulated day: {} assignments, {} ratings, {complaints} complaints",
        tally.assignments,
        tally.ratings.len()
    );
    println!("  handled by the customer's personal agent: {:.2}", share);
    println!(
        "  satisfaction index: {:.2} (rated 4-5: {:.2})",
        index.index, index.satisfied
    );
    println!("  complaints answered within one working day: {in_a_day} of {complaints}");
    assert!(
        tally.assignments > CUSTOMERS as u32,
        "every customer was served at least once"
    );
    assert!(
        share > 0.5,
        "most conversations reach the customer's own manager: {share}"
    );
    assert!(complaints > 0, "a day with queues has unhappy customers");
    assert_eq!(
        in_a_day, complaints,
        "every complaint raised on a working day is answered that day"
    );
}

/// Assignments made at `now`: counted, and resolved after 5–25 minutes of work.
fn took(
    tally: &mut Tally,
    agenda: &mut BTreeMap<(DateTime<Utc>, u64), Event>,
    rng: &mut Rng,
    made: &[Assignment],
    now: DateTime<Utc>,
    seq: &mut u64,
) {
    for a in made {
        tally.assignments += 1;
        let own = matches!(
            a.reason,
            RouteReason::PersonalAgent | RouteReason::NewPersonalAgent
        );
        tally.by_own_manager += u32::from(own);
        tally
            .waits
            .insert(a.conversation_id.clone(), (a.waited, own));
        *seq += 1;
        let handle = Duration::minutes(5 + rng.below(21) as i64);
        agenda.insert(
            (now + handle, *seq),
            Event::Resolve(a.conversation_id.clone()),
        );
    }
}

/// How the customer rates it: their own manager quickly is a 5, a stranger or a wait a
/// 4, a long wait a 2 or 3.
fn rate(tally: &Tally, conv: &ConversationId, rng: &mut Rng) -> u8 {
    match tally.waits.get(conv) {
        Some((waited, true)) if *waited < Duration::minutes(2) => 5,
        Some((waited, _)) if *waited < Duration::minutes(15) => 4,
        _ => 2 + rng.below(2) as u8,
    }
}

/// A rating of 1–2 is a complaint: the conversation reopens with it and goes to the
/// supervisor queue, first. Answers the assignments the move made.
async fn complain(
    h: &Harness,
    tally: &mut Tally,
    conv: &ConversationId,
    when: DateTime<Utc>,
) -> Vec<Assignment> {
    let view = h
        .store
        .conversation(conv)
        .await
        .expect("read")
        .expect("conversation");
    let from = view.customer.identities[0].value().to_owned();
    let body = json!({ "channel": "chat", "external_id": format!("complaint-{conv}"),
                       "from": from, "text": "[complaint] rated 2" });
    let r = h
        .store
        .ingest(&inbound(body), when)
        .await
        .expect("complaint");
    h.store
        .set_open_complaint(&r.customer_id, Some(&r.conversation_id))
        .await
        .expect("mark");
    h.store
        .raise_priority(&r.conversation_id, COMPLAINT_PRIORITY)
        .await
        .expect("raise");
    let supervisor = TransferTarget::Queue(Queue::Supervisor);
    let moved = h
        .store
        .transfer(&r.conversation_id, &supervisor, None, when)
        .await
        .expect("transfer");
    tally.complaints.entry(r.conversation_id).or_insert(when);
    match moved {
        TransferOutcome::Transferred { assignments, .. } => assignments,
        _ => Vec::new(),
    }
}
