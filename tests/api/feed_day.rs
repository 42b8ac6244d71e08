//! The event feed's scripted day (#32, CONTRACT "Event export (v3)") on the embedded
//! store, one Redis and the 3+3 cluster: agents, customers on several channels, a
//! transfer, ratings, a complaint, a deadline breach, a reopening, a merge and an erasure
//! produce every event type; the customer-side events reach their shards through the
//! relay, at least once and under their own ids; and each `conversation.resolved`'s
//! facts equal those recomputed from the raw events. The events are written to
//! `target/feed-events/` for the schema check (`scripts/check-event-schemas.sh`).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use switchboard::app::{
    agents, complaints, conversations, deadlines, erasure, feed, ingest, ratings, upgrade, Actor,
    App,
};
use switchboard::domain::feed::{CloudEvent, Cursor, FeedType};
use switchboard::domain::{
    AgentId, AgentProfile, Capacity, ConversationId, CustomerId, Presence, RawInbound, Receipt,
};
use switchboard::http::messages::IngestRequest;
use switchboard::startup::app_state;

use crate::helpers::{ext, test_settings, Harness};

both_stores!(a_scripted_day_produces_every_event_type_and_facts_the_events_agree_with);

async fn agent(app: &App, id: &str) -> AgentId {
    let agent: AgentId = id.parse().expect("id");
    let profile =
        AgentProfile::new(agent.clone(), id.into(), vec![], Capacity::default()).expect("profile");
    agents::save(app, &profile).await.expect("agent");
    agents::set_presence(app, &agent, Presence::Online)
        .await
        .expect("online");
    agent
}

async fn write(app: &App, body: Value) -> Receipt {
    let dto: IngestRequest = serde_json::from_value(body).expect("dto");
    ingest::ingest(app, RawInbound::from(dto))
        .await
        .expect("ingest")
}

fn chat(from: &str, text: &str) -> Value {
    json!({ "channel": "chat", "external_id": ext(), "from": from, "text": text })
}

/// Apart in time from the step before, so events of different shards order by time
/// (the embedded store does a whole step within a millisecond).
async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
}

async fn reply(app: &App, by: &AgentId, conv: &ConversationId) {
    let text = conversations::Reply {
        text: "Happy to help with your card 4111 1111 1111 1111".into(),
        channel: None,
        network: None,
    };
    conversations::reply(app, &Actor::Agent(by.clone()), conv, text)
        .await
        .expect("reply");
}

/// Relays what is pending (as the sweep does, its grace passed) and reads the whole feed.
pub async fn everything(app: &App) -> Vec<CloudEvent> {
    let later = Utc::now() + Duration::seconds(10);
    while feed::relay(app, later).await.expect("relay") > 0 {}
    let (mut all, mut cursor) = (Vec::new(), Cursor::default());
    loop {
        let (page, next) = feed::page(app, &cursor, 7).await.expect("page");
        if page.is_empty() {
            return all;
        }
        all.extend(page);
        cursor = next;
    }
}

/// What the scripted day made, for the checks.
pub struct Day {
    pub jane: Receipt,
    pub kim: Receipt,
    pub sam: Receipt,
    pub by_chat: Receipt,
    pub merged: Receipt,
    pub lee: Receipt,
}

/// The day: Jane's conversation (assigned, answered, transferred, rated, resolved,
/// reopened by e-mail, resolved again), Kim's complaint and breached deadlines, Sam's
/// merge, Lee's erasure, Bob stepping away.
pub async fn scripted_day(app: &App) -> Day {
    let ann = agent(app, "ann").await;
    let bob = agent(app, "bob").await;

    // Jane writes on chat: Ann (free, the least loaded) becomes her personal agent and
    // answers, hands her to Bob, Jane rates 5 and Bob resolves; Jane writes again by
    // e-mail within the reopen window, and Bob resolves again.
    let jane = write(app, chat("visitor-jane", "my parcel is lost")).await;
    tick().await;
    let conv = jane.conversation_id.clone();
    reply(app, &ann, &conv).await;
    tick().await;
    conversations::transfer(
        app,
        &Actor::Agent(ann.clone()),
        &conv,
        conversations::Destination::Agent("bob".into()),
        Some("billing question".into()),
    )
    .await
    .expect("transfer");
    tick().await;
    ratings::rate(app, &conv, 5, "survey").await.expect("rate");
    tick().await;
    conversations::resolve(app, &Actor::Agent(bob.clone()), &conv, None)
        .await
        .expect("resolve");
    tick().await;
    let mut again = chat("visitor-jane", "one more thing");
    again["channel"] = json!("email");
    again["from"] = json!("jane@example.com");
    again["identities"] = json!([{ "kind": "chat", "value": "visitor-jane" }]);
    let reopened = write(app, again).await;
    assert_eq!(reopened.conversation_id, conv, "reopened, not new");
    tick().await;
    conversations::resolve(app, &Actor::Admin, &conv, None)
        .await
        .expect("resolve again");

    // Kim complains with the site's button; nobody answers, so both deadlines pass.
    let kim = write(app, chat("visitor-kim", "hello?")).await;
    complaints::raise(
        app,
        &kim.customer_id,
        "nobody answers",
        switchboard::domain::Channel::Chat,
        complaints::Source::Button,
        Some("click-1"),
    )
    .await
    .expect("complaint");
    let breached = deadlines::sweep(app, Utc::now() + Duration::days(30))
        .await
        .expect("sweep");
    assert!(breached >= 1, "a deadline passed");

    // Sam writes from two addresses, then proves they are one person: a merge. Then Lee
    // asks to be erased.
    let mut by_mail = chat("sam@example.com", "first");
    by_mail["channel"] = json!("email");
    let sam = write(app, by_mail).await;
    let by_chat = write(app, chat("visitor-sam", "second")).await;
    let mut proof = chat("visitor-sam", "I'm both");
    proof["identities"] = json!([{ "kind": "email", "value": "sam@example.com" }]);
    let merged = write(app, proof).await;
    assert_ne!(sam.customer_id, by_chat.customer_id);
    let lee = write(app, chat("visitor-lee", "please forget me")).await;
    erasure::request(app, &lee.customer_id)
        .await
        .expect("request")
        .expect("lee exists");
    erasure::run(app, &lee.customer_id).await.expect("erased");
    agents::set_presence(app, &bob, Presence::Away)
        .await
        .expect("away");

    Day {
        jane,
        kim,
        sam,
        by_chat,
        merged,
        lee,
    }
}

async fn a_scripted_day_produces_every_event_type_and_facts_the_events_agree_with(h: Harness) {
    let app: Arc<App> = app_state(&test_settings(None, &[]), h.store.clone()).expect("app");
    upgrade::announce(&app, Utc::now()).await.expect("announce");
    upgrade::finalize(&app, Utc::now()).await.expect("finalize");
    let Day {
        jane,
        kim,
        sam,
        by_chat,
        merged,
        lee,
        ..
    } = scripted_day(&app).await;
    let conv = jane.conversation_id.clone();
    let all = everything(&app).await;
    keep_for_the_schema_check(&all);
    let kinds: HashSet<&str> = all.iter().map(|e| e.kind.as_str()).collect();
    for t in FeedType::ALL {
        assert!(kinds.contains(t.as_str()), "{} in {kinds:?}", t.as_str());
    }
    let ids: HashSet<&str> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), all.len(), "every event once");
    let text = serde_json::to_string(&all).expect("json");
    for private in ["parcel", "4111", "sam@example.com", "visitor-", "forget me"] {
        assert!(!text.contains(private), "no text or address: {private}");
    }
    let lee_id = lee.customer_id.to_string();
    let about_lee: Vec<&CloudEvent> = all
        .iter()
        .filter(|e| text_of(e).contains(&lee_id))
        .collect();
    assert_eq!(
        about_lee.len(),
        1,
        "only the erasure names Lee: {about_lee:#?}"
    );
    assert_eq!(about_lee[0].kind, "switchboard.customer.erased");
    let sams = [sam.customer_id.as_str(), by_chat.customer_id.as_str()];
    let merge = all
        .iter()
        .find(|e| e.kind == "switchboard.customer.merged" && sams.contains(&e.subject.as_str()))
        .expect("Sam's merge");
    assert_eq!(
        merge.data["customer_id"].as_str(),
        Some(merge.subject.as_str())
    );
    assert_eq!(
        merge.data["into"].as_str(),
        Some(merged.customer_id.as_str())
    );
    assert!(sams.contains(&merged.customer_id.as_str()));

    // Jane's two resolutions: the facts each carries equal those the raw events give.
    let resolved: Vec<&CloudEvent> = all
        .iter()
        .filter(|e| e.kind == "switchboard.conversation.resolved" && e.subject == conv.to_string())
        .collect();
    assert_eq!(resolved.len(), 2, "resolved twice");
    for r in &resolved {
        let recomputed = recompute(&all, &conv.to_string(), r.time);
        for field in [
            "wait_secs",
            "first_response_secs",
            "resolution_secs",
            "transfers",
            "channels",
            "agent_id",
            "personal_agent_id",
            "personal_agent_hit",
            "csat",
            "complaint",
            "reopened",
        ] {
            assert_eq!(r.data[field], recomputed[field], "{field} of {}", r.data);
        }
    }
    let last = resolved[1];
    assert_eq!(last.data["transfers"], 1);
    assert_eq!(last.data["reopened"], 1);
    assert_eq!(last.data["csat"], 5);
    assert_eq!(last.data["personal_agent_hit"], true, "Ann took her first");
    assert_eq!(last.data["channels"], json!(["chat", "email"]));
    let kims = all
        .iter()
        .find(|e| e.kind == "switchboard.complaint.raised")
        .expect("complaint");
    assert_eq!(kims.data["source"], "button");
    assert_eq!(kims.subject, kim.conversation_id.to_string());

    // Relayed again (a relay cut off before it settled): the same ids, nothing new.
    let before: HashSet<String> = all.iter().map(|e| e.id.clone()).collect();
    let again = everything(&app).await;
    let after: HashSet<String> = again.iter().map(|e| e.id.clone()).collect();
    assert_eq!(before, after);
    let _: &CustomerId = &kim.customer_id;
}

fn text_of(e: &CloudEvent) -> String {
    serde_json::to_string(e).expect("json")
}

/// A conversation's facts at `resolved_at` from the raw events alone, as a consumer
/// would compute them (seconds, ms precision).
pub fn recompute(all: &[CloudEvent], conv: &str, resolved_at: DateTime<Utc>) -> Value {
    let of: Vec<&CloudEvent> = all
        .iter()
        .filter(|e| e.subject == conv && e.time <= resolved_at)
        .collect();
    let first = |kind: &str| of.iter().find(|e| e.kind == kind).copied();
    let secs = |from: DateTime<Utc>, to: DateTime<Utc>| {
        (to - from).num_milliseconds().max(0) as f64 / 1000.0
    };
    let opened = first("switchboard.conversation.opened").expect("opened");
    let assigned = first("switchboard.conversation.assigned");
    let holders: Vec<&CloudEvent> = of
        .iter()
        .filter(|e| {
            e.kind == "switchboard.conversation.assigned"
                || e.kind == "switchboard.conversation.transferred"
        })
        .copied()
        .collect();
    let mut channels: Vec<String> = of
        .iter()
        .filter(|e| e.kind.ends_with(".opened") || e.kind.ends_with(".reopened"))
        .filter_map(|e| e.data["channel"].as_str().map(str::to_owned))
        .collect();
    channels.sort();
    channels.dedup();
    let ratings: BTreeMap<DateTime<Utc>, Value> = of
        .iter()
        .filter(|e| e.kind == "switchboard.rating.recorded")
        .map(|e| (e.time, e.data["rating"].clone()))
        .collect();
    let personal = holders
        .last()
        .and_then(|e| e.data["personal_agent_id"].as_str())
        .filter(|p| !p.is_empty());
    json!({
        "wait_secs": assigned.map(|a| secs(opened.time, a.time)),
        "first_response_secs": first("switchboard.conversation.first_response")
            .map(|f| secs(opened.time, f.time)),
        "resolution_secs": secs(opened.time, resolved_at),
        "transfers": of.iter().filter(|e| e.kind == "switchboard.conversation.transferred").count(),
        "channels": channels,
        "agent_id": holders.last().map(|e| e.data["agent_id"].clone()),
        "personal_agent_id": personal,
        "personal_agent_hit": assigned.is_some_and(|a| Some(a.data["agent_id"].as_str().unwrap_or("")) == personal),
        "csat": ratings.values().last(),
        "complaint": of.iter().any(|e| e.kind == "switchboard.complaint.raised"),
        "reopened": of.iter().filter(|e| e.kind == "switchboard.conversation.reopened").count(),
    })
}

/// Writes the events to `target/feed-events/<run>.jsonl`, for
/// `scripts/check-event-schemas.sh`.
fn keep_for_the_schema_check(all: &[CloudEvent]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/feed-events");
    std::fs::create_dir_all(&dir).expect("dir");
    let lines: Vec<String> = all.iter().map(text_of).collect();
    let name = format!("{}.jsonl", uuid::Uuid::new_v4().simple());
    std::fs::write(dir.join(name), lines.join("\n") + "\n").expect("write events");
}
