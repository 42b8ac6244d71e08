//! The event feed (#32, CONTRACT "Event export (v3)"), the routing side: an agent's
//! presence change and every assignment and transfer are written to their routing
//! group's shard in the same step as the change, on the embedded store, one Redis and
//! the 3+3 cluster; the pull API pages every shard with one cursor, each shard in order,
//! every event once.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};
use switchboard::app::feed;
use switchboard::domain::feed::{customer_shard, CloudEvent, Cursor, FeedType};
use switchboard::domain::{Presence, Receipt};
use switchboard::startup::app_state;
use switchboard::store::feed_relay::{FeedMoved, FeedNote, NoteEffect};

use crate::helpers::{
    agent_id as id, ext, group_profile, inbound, spawn_app, t0, test_settings, Harness,
    RedisServer, ADMIN_TOKEN,
};

both_stores!(
    presence_and_assignments_reach_the_feed_and_page_once_across_shards,
    a_relay_step_drops_only_what_it_moved
);

async fn online(h: &Harness, agent: &str, group: &str) {
    h.store
        .put_agent(&group_profile(agent, group), t0())
        .await
        .expect("put agent");
    let now = chrono::Utc::now();
    h.store
        .set_presence(&id(agent), Presence::Online, now)
        .await
        .expect("presence")
        .expect("known");
}

async fn chat(h: &Harness, from: &str, group: Option<&str>) -> Receipt {
    let body = json!({ "channel": "chat", "external_id": ext(), "from": from, "text": "secret text", "group": group });
    h.store
        .ingest(&inbound(body), chrono::Utc::now())
        .await
        .expect("ingest")
}

async fn presence_and_assignments_reach_the_feed_and_page_once_across_shards(h: Harness) {
    let app = app_state(&test_settings(None, &[]), h.store.clone()).expect("app");
    online(&h, "ann", "default").await;
    online(&h, "sam", "sales").await;
    let one = chat(&h, "+14155550101", None).await;
    let two = chat(&h, "+14155550102", Some("sales")).await;
    assert_eq!(one.route.agent_id.as_deref(), Some("ann"));
    assert_eq!(two.route.agent_id.as_deref(), Some("sam"));

    // Paged two at a time, the whole feed: every event once, each shard in order.
    let mut cursor = Cursor::default();
    let mut all: Vec<CloudEvent> = Vec::new();
    for _ in 0..10 {
        let (page, next) = feed::page(&app, &cursor, 2).await.expect("page");
        assert!(page.len() <= 2);
        if page.is_empty() {
            assert_eq!(next, cursor, "an empty page keeps the place");
            break;
        }
        all.extend(page);
        cursor = next;
    }
    let ids: HashSet<&str> = all.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), all.len(), "every event once: {all:#?}");
    let kinds: Vec<(&str, &str)> = all
        .iter()
        .map(|e| (e.kind.as_str(), e.subject.as_str()))
        .collect();
    let (one_id, two_id) = (
        one.conversation_id.to_string(),
        two.conversation_id.to_string(),
    );
    for expected in [
        ("switchboard.agent.presence_changed", "ann"),
        ("switchboard.agent.presence_changed", "sam"),
        ("switchboard.conversation.assigned", one_id.as_str()),
        ("switchboard.conversation.assigned", two_id.as_str()),
    ] {
        assert!(kinds.contains(&expected), "{expected:?} in {kinds:?}");
    }
    assert_eq!(all.len(), 4, "nothing else: {kinds:?}");
    let mut shards: HashMap<&str, Vec<&CloudEvent>> = HashMap::new();
    for e in &all {
        let (shard, _) = e.id.split_once('/').expect("shard/seq");
        shards.entry(shard).or_default().push(e);
    }
    assert_eq!(shards.len(), 2, "a shard per group: {:?}", shards.keys());
    for (shard, events) in &shards {
        let times: Vec<_> = events.iter().map(|e| e.time).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{shard} in order");
        let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "switchboard.agent.presence_changed",
                "switchboard.conversation.assigned"
            ],
            "{shard}: presence first, then the assignment it allowed"
        );
    }

    let assigned = all
        .iter()
        .find(|e| e.subject == one_id)
        .expect("ann's assignment");
    assert_eq!(assigned.data["agent_id"], "ann");
    assert_eq!(assigned.data["channel"], "chat");
    assert_eq!(
        assigned.data["personal_agent_id"], "ann",
        "she became the personal agent"
    );
    assert!(
        assigned.data["waiting_since_ms"].as_i64().unwrap_or(0) > 0,
        "{}",
        assigned.data
    );
    assert_eq!(assigned.specversion, "1.0");
    assert!(assigned
        .dataschema
        .contains("switchboard.conversation.assigned"));
    let presence = all
        .iter()
        .find(|e| e.subject == "sam")
        .expect("sam's presence");
    assert_eq!(
        presence.data,
        json!({ "agent_id": "sam", "presence": "online", "previous": "offline" })
    );
    let text = serde_json::to_string(&all).expect("json");
    assert!(
        !text.contains("secret text") && !text.contains("4155550101"),
        "no text, no numbers"
    );

    // Trimmed by time: entries older than the keep go, newer stay.
    h.store
        .trim_feed(chrono::Utc::now() + chrono::Duration::seconds(5))
        .await
        .expect("trim");
    let (after_trim, _) = feed::page(&app, &Cursor::default(), 100)
        .await
        .expect("page");
    assert!(after_trim.is_empty(), "{after_trim:?}");
}

#[tokio::test]
async fn the_pull_api_answers_pages_and_refuses_what_is_no_cursor() {
    let redis = RedisServer::start();
    let app = spawn_app(test_settings(Some(&redis.url()), &[])).await;
    app.agent_online("ann").await;
    let get = |query: String| {
        let client = app.client.clone();
        let url = format!("{}/v1/events{query}", app.address);
        async move {
            client
                .get(url)
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .expect("sent")
        }
    };
    let first = get("?limit=1".into()).await;
    assert_eq!(first.status(), 200);
    let page: Value = first.json().await.expect("json");
    assert_eq!(page["events"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(
        page["events"][0]["type"],
        "switchboard.agent.presence_changed"
    );
    let next = page["next"].as_str().expect("next").to_owned();
    let rest: Value = get(format!("?after={next}"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(rest["events"], json!([]), "nothing after: {rest}");
    assert_eq!(rest["next"], next.as_str());
    for bad in ["?after=not-a-cursor", "?limit=0", "?limit=1001"] {
        let r = get(bad.into()).await;
        assert_eq!(r.status(), 400, "{bad}");
    }
    let agent = app.agent_get("ann", "/v1/events").await;
    assert_eq!(agent.status(), 403, "admins only");
}

/// A relay step drops exactly the customer's events it read: not one written after its
/// read, and nothing when a step that read the same events settles again (a replica
/// that stalled past its lease while another moved them).
async fn a_relay_step_drops_only_what_it_moved(h: Harness) {
    let opened = chat(&h, "+14155550103", None).await;
    let customer = opened.customer_id.clone();
    let soon = chrono::Utc::now() + chrono::Duration::seconds(10);
    let claims = h
        .store
        .claim_feed_due(soon, soon + chrono::Duration::seconds(30), 64)
        .await
        .expect("claim");
    let claim = claims
        .into_iter()
        .find(|c| c.customer == customer)
        .expect("claimed");
    let read = h.store.pending_feed(&customer, 256).await.expect("read");
    assert_eq!(read.iter().map(|p| p.n).collect::<Vec<_>>(), [1]);
    // Written after the relay's read.
    let note = FeedNote {
        kind: FeedType::DeadlineBreached,
        subject: opened.conversation_id.to_string(),
        at: chrono::Utc::now(),
        data: json!({ "conversation_id": opened.conversation_id.to_string(), "deadline": "first_response" }),
        effect: NoteEffect::None,
    };
    h.store.note_feed(&customer, &note).await.expect("note");
    let moved = [FeedMoved {
        claim,
        through: 1,
        read: 1,
    }];
    let shard = customer_shard(customer.as_str());
    for _ in 0..2 {
        h.store
            .settle_feed(shard, &moved, chrono::Utc::now())
            .await
            .expect("settle");
        let left = h.store.pending_feed(&customer, 256).await.expect("left");
        assert_eq!(left.iter().map(|p| p.n).collect::<Vec<_>>(), [2]);
    }
}
