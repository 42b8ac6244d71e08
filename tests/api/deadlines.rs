//! Working-day deadlines on every store, with the clock driven by the test: a
//! conversation opened Friday 17:55 under a Mon–Fri 09–18 calendar is due Monday 17:55,
//! and is escalated (event, counter) only once that passes.

use chrono::{DateTime, Utc};
use serde_json::json;
use switchboard::app::{agents, conversations, deadlines, ingest, Actor};
use switchboard::domain::{AgentId, AgentProfile, Capacity, Presence, RawInbound};
use switchboard::http::messages::IngestRequest;
use switchboard::startup::app_state;
use switchboard::store::EventKind;

use crate::helpers::{test_settings, Harness};

both_stores!(a_conversation_opened_friday_evening_is_due_and_escalated_monday_evening);

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

async fn a_conversation_opened_friday_evening_is_due_and_escalated_monday_evening(h: Harness) {
    let app = app_state(&test_settings(None, &[]), h.store.clone()).expect("app");
    let ann: AgentId = "ann".parse().expect("id");
    let profile =
        AgentProfile::new(ann.clone(), "Ann".into(), vec![], Capacity::default()).expect("profile");
    agents::save(&app, &profile).await.expect("agent");
    agents::set_presence(&app, &ann, Presence::Online)
        .await
        .expect("online");
    // The customer wrote on Friday 20 November 2026 at 17:55 (UTC, the default zone).
    let body = json!({ "channel": "chat", "external_id": "w-1", "from": "visitor-1",
                       "text": "my parcel is lost", "sent_at": "2026-11-20T17:55:00Z" });
    let dto: IngestRequest = serde_json::from_value(body).expect("dto");
    let receipt = ingest::ingest(&app, RawInbound::from(dto))
        .await
        .expect("ingest");
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
