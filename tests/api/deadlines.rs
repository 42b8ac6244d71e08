//! Working-day deadlines and follow-ups on every store, with the clock driven by the
//! test: a conversation opened Friday 17:55 under a Mon–Fri 09–18 calendar is due Monday
//! 17:55 and is escalated (event, counter) only once that passes; a customer's first
//! resolution brings their personal agent back to them a month later.

use chrono::{DateTime, Utc};
use serde_json::json;
use std::sync::Arc;

use switchboard::app::{agents, conversations, deadlines, follow_ups, ingest, ratings, Actor, App};
use switchboard::domain::{AgentId, AgentProfile, Capacity, Presence, RawInbound, Receipt};
use switchboard::http::messages::IngestRequest;
use switchboard::startup::app_state;
use switchboard::store::{EventKind, Keys, RedisStore, StorePolicy};

use crate::helpers::{test_settings, Harness, RedisServer};

both_stores!(
    a_conversation_opened_friday_evening_is_due_and_escalated_monday_evening,
    after_the_first_resolution_the_personal_agent_follows_up_a_month_later,
);

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

/// The use cases over the harness's store, with Ann online.
async fn app_with_ann_online(h: &Harness) -> (Arc<App>, AgentId) {
    let app = app_state(&test_settings(None, &[]), h.store.clone()).expect("app");
    let ann: AgentId = "ann".parse().expect("id");
    let profile =
        AgentProfile::new(ann.clone(), "Ann".into(), vec![], Capacity::default()).expect("profile");
    agents::save(&app, &profile).await.expect("agent");
    agents::set_presence(&app, &ann, Presence::Online)
        .await
        .expect("online");
    (app, ann)
}

/// A customer's message, through the ingest use case.
async fn write(app: &App, body: serde_json::Value) -> Receipt {
    let dto: IngestRequest = serde_json::from_value(body).expect("dto");
    ingest::ingest(app, RawInbound::from(dto))
        .await
        .expect("ingest")
}

async fn a_conversation_opened_friday_evening_is_due_and_escalated_monday_evening(h: Harness) {
    let (app, ann) = app_with_ann_online(&h).await;
    // The customer wrote on Friday 20 November 2026 at 17:55 (UTC, the default zone).
    let body = json!({ "channel": "chat", "external_id": "w-1", "from": "visitor-1",
                       "text": "my parcel is lost", "sent_at": "2026-11-20T17:55:00Z" });
    let receipt = write(&app, body).await;
    let id = receipt.conversation_id;

    let view = conversations::read(&app, &Actor::Admin, &id)
        .await
        .expect("read");
    let due = view.deadlines.expect("deadlines while open");
    assert_eq!(
        due.resolution_due,
        at("2026-11-23T17:55:00Z"),
        "Monday 17:55"
    );
    assert_eq!(
        due.first_response_due,
        at("2026-11-20T17:56:00Z"),
        "chat's 60 s"
    );

    // Ann answers at once: the first-response deadline is met and dropped.
    let text = conversations::Reply {
        text: "On it!".into(),
        channel: None,
        network: None,
    };
    conversations::reply(&app, &Actor::Agent(ann.clone()), &id, text)
        .await
        .expect("reply");
    let sweep = |now: &str| deadlines::sweep(&app, at(now));
    assert_eq!(sweep("2026-11-20T18:30:00Z").await.expect("sweep"), 0);
    assert_eq!(
        sweep("2026-11-23T17:54:59Z").await.expect("sweep"),
        0,
        "not yet"
    );
    assert_eq!(
        sweep("2026-11-23T17:55:01Z").await.expect("sweep"),
        1,
        "escalated"
    );
    assert_eq!(
        sweep("2026-11-24T09:00:00Z").await.expect("sweep"),
        0,
        "once"
    );

    let events = app
        .store
        .agent_events(&ann, "0", 100)
        .await
        .expect("events");
    let escalated: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::ConversationEscalated && e.conversation_id == id)
        .collect();
    assert_eq!(escalated.len(), 1, "{events:?}");
    let text = app.metrics.render().expect("metrics");
    let series = r#"switchboard_deadline_breaches_total{channel="chat",kind="resolution"} 1"#;
    assert!(text.contains(series), "{text}");
    let first = r#"switchboard_deadline_breaches_total{channel="chat",kind="first_response"} 0"#;
    assert!(
        text.contains(first),
        "the answered first response is no breach"
    );
}

async fn after_the_first_resolution_the_personal_agent_follows_up_a_month_later(h: Harness) {
    let (app, ann) = app_with_ann_online(&h).await;
    let body = json!({ "channel": "chat", "external_id": "w-1", "from": "visitor-1",
                       "display_name": "Maria", "text": "thanks!" });
    let first = write(&app, body).await;
    let resolved_at = Utc::now();
    conversations::resolve(&app, &Actor::Admin, &first.conversation_id, None)
        .await
        .expect("resolve");
    let customer = ratings::customer(&app, &first.customer_id)
        .await
        .expect("read");
    let due = customer
        .expect("customer")
        .follow_up_due
        .expect("a follow-up");
    let month = chrono::Duration::days(30);
    assert!(
        (due - (resolved_at + month)).num_seconds().abs() < 60,
        "{due}"
    );

    assert_eq!(
        follow_ups::sweep(&app, resolved_at + chrono::Duration::days(29))
            .await
            .expect("sweep"),
        0
    );
    let opened = follow_ups::sweep(&app, due + chrono::Duration::seconds(1))
        .await
        .expect("sweep");
    assert_eq!(opened, 1);
    let customer = ratings::customer(&app, &first.customer_id)
        .await
        .expect("read")
        .expect("customer");
    let task = customer
        .open_conversation_id
        .expect("the follow-up opened a conversation");
    let view = conversations::read(&app, &Actor::Admin, &task)
        .await
        .expect("read");
    assert_eq!(
        view.agent_id.as_deref(),
        Some("ann"),
        "routed to the personal agent"
    );
    assert!(
        view.messages.iter().any(|m| m.text.contains("[follow-up]")),
        "{view:?}"
    );
    let ann_view = app.store.agent(&ann).await.expect("read").expect("agent");
    assert_eq!(ann_view.load.get("chat"), Some(&1), "capacity counted");
    let events = app
        .store
        .agent_events(&ann, "0", 100)
        .await
        .expect("events");
    assert!(events
        .iter()
        .any(|e| e.kind == EventKind::ConversationAssigned && e.conversation_id == task));

    // Only the first resolution schedules one; an agent may set or cancel it by hand.
    conversations::resolve(&app, &Actor::Admin, &task, None)
        .await
        .expect("resolve");
    let customer = ratings::customer(&app, &first.customer_id)
        .await
        .expect("read")
        .expect("c");
    assert_eq!(customer.follow_up_due, None);
    let when = at("2027-01-15T10:00:00Z");
    follow_ups::set(&app, &Actor::Admin, &first.customer_id, when)
        .await
        .expect("set");
    let customer = ratings::customer(&app, &first.customer_id)
        .await
        .expect("read")
        .expect("c");
    assert_eq!(customer.follow_up_due, Some(when));
    follow_ups::cancel(&app, &Actor::Admin, &first.customer_id)
        .await
        .expect("cancel");
    assert!(
        follow_ups::cancel(&app, &Actor::Admin, &first.customer_id)
            .await
            .is_err(),
        "nothing left"
    );
}

/// Deadlines are scheduled after the message is stored: when that step fails the adapter
/// is answered 503 and retries, and the retry (a duplicate) schedules what the first
/// delivery could not. The fault is real: the deadlines key briefly holds a string, so
/// Redis refuses the `ZADD` (WRONGTYPE) while the message itself is stored.
#[tokio::test]
async fn a_retry_schedules_the_deadlines_its_failed_first_delivery_could_not() {
    let server = RedisServer::start();
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let store = RedisStore::connect(&server.url(), &prefix, StorePolicy::default()).expect("store");
    let app = app_state(&test_settings(None, &[]), Arc::new(store)).expect("app");
    let client = ::redis::Client::open(server.url()).expect("client");
    let mut conn = client.get_connection().expect("connection");
    let deadlines = Keys::new(prefix.as_str()).deadlines();
    ::redis::cmd("SET")
        .arg(&deadlines)
        .arg("blocked")
        .query::<()>(&mut conn)
        .expect("block");
    let body = json!({ "channel": "chat", "external_id": "d-1", "from": "visitor-9",
                       "text": "anyone?", "sent_at": "2026-11-20T17:55:00Z" });
    let raw = || {
        let dto: IngestRequest = serde_json::from_value(body.clone()).expect("dto");
        RawInbound::from(dto)
    };
    let first = ingest::ingest(&app, raw()).await;
    assert!(first.is_err(), "the deadline step failed: {first:?}");
    ::redis::cmd("DEL")
        .arg(&deadlines)
        .query::<()>(&mut conn)
        .expect("unblock");
    let retry = ingest::ingest(&app, raw()).await.expect("retry");
    assert!(retry.duplicate, "{retry:?}");
    let due = app
        .store
        .due_deadlines(at("2027-01-01T00:00:00Z"), 10)
        .await
        .expect("due");
    assert!(
        due.iter().any(|(conv, _)| *conv == retry.conversation_id),
        "no deadline for {}: {due:?}",
        retry.conversation_id
    );
}
