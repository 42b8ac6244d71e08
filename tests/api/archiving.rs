//! Retention's move to the archive tier (real PostgreSQL; the embedded store, one Redis
//! and the 3+3 cluster), with the clock driven by the test: a conversation leaves Redis
//! only once due, reads back entry for entry through every read, pages, refuses replies,
//! moves once however often the sweep runs, and a customer's memory shrinks to a stub.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use switchboard::app::calls::{self, CallHints, KnownRule};
use switchboard::app::{archiving, conversations, deletion, feed, Actor, App};
use switchboard::domain::{CallDecision, ConversationId, ConversationView, CustomerId};
use switchboard::startup::app_state;
use switchboard::store::erasure::ErasureState;
use switchboard::store::format::NEWEST;
use switchboard::store::{ReplyOutcome, Store, StoreError};

use crate::helpers::{ext, inbound, t0, test_settings, Harness, PostgresServer};

on_every_store!(
    archived_conversations_read_back_entry_for_entry,
    merged_conversations_move_together_even_when_cut_between_slots,
    archived_conversations_are_deleted_after_delete_after,
    conversations_are_deleted_without_an_archive_too,
    merged_conversations_are_deleted_together,
);

/// The use cases over a store of `kind` with an archive on `pg`, moving conversations a
/// minute after they resolve.
pub async fn archiving_app(kind: &str, pg: &PostgresServer) -> (Harness, Arc<App>) {
    archiving_app_with(kind, pg, &[]).await
}

/// `archiving_app` with further settings (e.g. `delete_after_secs`).
pub async fn archiving_app_with(
    kind: &str,
    pg: &PostgresServer,
    more: &[(&str, &str)],
) -> (Harness, Arc<App>) {
    let h = Harness::archived(kind, &pg.url());
    h.store
        .finalize_format(NEWEST, t0())
        .await
        .expect("finalized");
    let url = pg.url();
    let mut env = vec![
        ("SWITCHBOARD_ARCHIVE__URL", url.as_str()),
        ("SWITCHBOARD_RETENTION__ARCHIVE_AFTER_SECS", "60"),
        ("SWITCHBOARD_INGEST__REOPEN_WINDOW_SECS", "60"),
    ];
    env.extend_from_slice(more);
    let settings = test_settings(None, &env);
    let app = app_state(&settings, h.store.clone()).expect("app");
    app.archive
        .as_ref()
        .expect("archive")
        .migrate()
        .await
        .expect("migrated");
    (h, app)
}

/// A conversation's view, which must exist.
async fn view(store: &Arc<dyn Store>, id: &ConversationId) -> ConversationView {
    store.conversation(id).await.expect("read").expect("found")
}

/// `n` messages from one customer over three channels, a minute apart from `from`.
pub async fn conversation_of(
    store: &Arc<dyn Store>,
    who: &str,
    n: usize,
    from: DateTime<Utc>,
) -> ConversationId {
    let mut id = None;
    for i in 0..n {
        let (channel, network, sender) = match i % 3 {
            0 => ("email", None, format!("{who}@example.com")),
            1 => ("chat", None, format!("visitor-{who}")),
            _ => ("social", Some("whatsapp"), phone_of(who)),
        };
        let body = json!({ "channel": channel, "network": network, "external_id": ext(),
            "from": sender, "text": format!("{i:03}: {}", "Grüße — 你好 \"quoted\" ".repeat(4)),
            "subject": (channel == "email").then_some("Order 1234"),
            "identities": [{ "kind": "email", "value": format!("{who}@example.com") }] });
        let at = from + Duration::minutes(i as i64);
        let receipt = store.ingest(&inbound(body), at).await.expect("ingest");
        id = Some(receipt.conversation_id);
    }
    id.expect("a conversation")
}

/// A German mobile number of one's own per customer name.
fn phone_of(who: &str) -> String {
    let n = who
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("+49151{:08}", n % 100_000_000)
}

async fn archived_conversations_read_back_entry_for_entry(kind: &str) {
    let pg = PostgresServer::start();
    let (h, app) = archiving_app(kind, &pg).await;
    let id = conversation_of(&h.store, "ann", 20, t0()).await;
    let open = conversation_of(&h.store, "bob", 3, t0()).await;
    let resolved_at = t0() + Duration::hours(1);
    h.store.resolve(&id, resolved_at).await.expect("resolve");
    let before = view(&h.store, &id).await;
    assert_eq!(before.messages.len(), 20);

    // Not due a second early; due after the minute.
    let early = archiving::sweep(&app, resolved_at + Duration::seconds(59)).await;
    assert_eq!(early.expect("sweep"), 0, "nothing is due yet");
    let moved = archiving::sweep(&app, resolved_at + Duration::seconds(61)).await;
    assert_eq!(moved.expect("sweep"), 1, "the resolved conversation moved");

    let after = view(&h.store, &id).await;
    assert!(after.archived);
    let mut expected = before.clone();
    expected.archived = true;
    assert_eq!(after, expected, "the same view, marked archived");
    assert_eq!(
        serde_json::to_string(&after.messages).expect("json"),
        serde_json::to_string(&before.messages).expect("json"),
        "the same JSON timeline"
    );
    let still_open = view(&h.store, &open).await;
    assert!(!still_open.archived, "an open conversation stays");

    // The API's read and its pages come from the archive alike.
    let read = conversations::read(&app, &Actor::Admin, &id)
        .await
        .expect("read");
    assert!(read.archived);
    let mut page = read.clone();
    page.page(8, None).expect("page");
    assert!(page.earlier);
    assert_eq!(page.messages, before.messages[12..]);
    let mut older = read.clone();
    older.page(8, Some(&page.messages[0].id)).expect("page");
    assert_eq!(older.messages, before.messages[4..12]);

    // The customer still lists it; an agent's reply is refused; the customer starts anew.
    let customer: CustomerId = id.customer().clone();
    let view = h
        .store
        .customer(&customer)
        .await
        .expect("read")
        .expect("found");
    assert!(
        view.conversation_ids.contains(&id),
        "{:?}",
        view.conversation_ids
    );
    let reply = before.messages[0].clone();
    let refused = h
        .store
        .add_reply(&id, &reply, resolved_at)
        .await
        .expect("reply");
    assert_eq!(refused, ReplyOutcome::Archived);
    let next = conversation_of(&h.store, "ann", 1, resolved_at + Duration::minutes(5)).await;
    assert_ne!(
        next, id,
        "a new conversation, not the archived one reopened"
    );

    // Later rounds move nothing twice; the gauge shows nothing late.
    let again = archiving::sweep(&app, resolved_at + Duration::minutes(3)).await;
    assert_eq!(again.expect("sweep"), 0);
    let metrics = app.metrics.render().expect("metrics");
    assert!(
        metrics.contains("switchboard_archived_conversations_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("switchboard_archive_lag_seconds 0"),
        "{metrics}"
    );
}

/// Redis memory of every key (`MEMORY USAGE`), in bytes, but the event feed's
/// customer-side shards and due lists (`P:fd:{fd:K}:…`): sixteen keys for the whole
/// deployment, bounded by `export.keep_secs`, not by customers (empty, a trimmed stream
/// keeps about a kilobyte).
async fn redis_bytes(url: &str) -> u64 {
    let client = ::redis::Client::open(url).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .expect("keys");
    let mut total = 0;
    for key in keys.into_iter().filter(|k| !k.contains(":fd:{fd:")) {
        let bytes: Option<u64> = ::redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(&key)
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut conn)
            .await
            .expect("memory usage");
        total += bytes.unwrap_or(0);
    }
    total
}

/// Ten customers write `n` messages of 100 characters each and are resolved: their Redis
/// bytes before and after the move, per customer.
async fn bytes_per_customer(n: usize) -> (u64, u64) {
    let pg = PostgresServer::start();
    let (h, app) = archiving_app("redis", &pg).await;
    let url = h.redis_url().expect("own server");
    let mut ids = Vec::new();
    for c in 0..10 {
        let who = format!("customer{c}");
        let mut id = None;
        for i in 0..n {
            let body = json!({ "channel": "chat", "external_id": ext(),
                "from": format!("visitor-{who}"), "text": format!("{i:04} {}", "x".repeat(95)) });
            let at = t0() + Duration::seconds(i as i64);
            id = Some(
                h.store
                    .ingest(&inbound(body), at)
                    .await
                    .expect("ingest")
                    .conversation_id,
            );
        }
        ids.push(id.expect("conversation"));
    }
    let resolved_at = t0() + Duration::hours(1);
    for id in &ids {
        h.store.resolve(id, resolved_at).await.expect("resolve");
    }
    let before = redis_bytes(&url).await;
    // Past the idempotency records' TTL (7 days), as the default 30 days are.
    let later = resolved_at + Duration::days(8);
    assert_eq!(archiving::sweep(&app, later).await.expect("sweep"), 10);
    for id in &ids {
        let read = view(&h.store, id).await;
        assert_eq!(read.messages.len(), n, "every message reads back");
    }
    // The event feed's relay and trim, as their sweeps would by then: the customers'
    // pending events leave their slots, and the feed keeps `export.keep_secs` (7 days).
    while feed::relay(&app, later).await.expect("relay") > 0 {}
    feed::trim(&app, later).await.expect("trim");
    let after = redis_bytes(&url).await;
    (before / 10, after / 10)
}

#[tokio::test]
async fn a_customers_redis_memory_falls_to_a_quarter_and_stays_flat() {
    let (before20, after20) = bytes_per_customer(20).await;
    let (before200, after200) = bytes_per_customer(200).await;
    eprintln!(
        "bytes per customer: 20 messages {before20} -> {after20}; 200 messages {before200} -> {after200}"
    );
    assert!(
        after20 * 4 <= before20,
        "{after20} > a quarter of {before20}"
    );
    assert!(
        after200 <= after20 + 64,
        "archived messages still cost Redis memory: {after20} vs {after200}"
    );
}

/// Sam wrote by chat and Tina by e-mail; then a message proves they are one customer, so
/// one's open conversation joins the other's. Archiving the survivor's moves the merged-in
/// one with it (another customer's slot). A move cut after the merged-in stub (as a crash between the two
/// slots would) is finished by the next round; every conversation reads back whole.
async fn merged_conversations_move_together_even_when_cut_between_slots(kind: &str) {
    let pg = PostgresServer::start();
    let (h, app) = archiving_app(kind, &pg).await;
    let (open, other) = merged_pair(&h.store).await;
    let before = view(&h.store, &open).await;
    assert_eq!(before.messages.len(), 3, "{:?}", before.messages);
    assert!(
        !before.merged_conversation_ids.is_empty(),
        "a merge happened"
    );
    let resolved_at = t0() + Duration::hours(1);
    h.store.resolve(&open, resolved_at).await.expect("resolve");
    let before = view(&h.store, &open).await;
    let other_before = view(&h.store, &other).await;

    // The cut move: claimed, committed, only the merged-in conversation stubbed.
    let now = resolved_at + Duration::seconds(61);
    let due = now - Duration::seconds(60);
    let claims = h
        .store
        .claim_archive_due(due, archiving::lease(), 10)
        .await
        .expect("claim");
    let owner = open.customer().clone();
    assert!(claims.iter().any(|c| c.customer == owner), "{claims:?}");
    let found = h.store.archivable(&owner, due).await.expect("archivable");
    let copies: Vec<_> = found
        .candidates
        .iter()
        .map(|c| c.conversation.clone())
        .collect();
    assert!(
        copies.iter().any(|c| c.id == other),
        "the merged-in one moves with it: {copies:?}"
    );
    app.archive
        .as_ref()
        .expect("archive")
        .put(copies)
        .await
        .expect("put");
    let merged_in: Vec<_> = found
        .candidates
        .iter()
        .filter(|c| c.conversation.id.customer() != &owner)
        .cloned()
        .collect();
    let cut = h.store.stub_archived(&merged_in, now).await.expect("stub");
    assert_eq!(cut, vec![other.clone()]);
    let half = view(&h.store, &open).await;
    assert_eq!(half.messages, before.messages, "readable whole, half moved");

    // After the lease another round finishes it.
    let later = now + archiving::lease() + Duration::seconds(1);
    let moved = archiving::sweep(&app, later).await.expect("sweep");
    assert_eq!(moved, 1, "the rest moved");
    let after = view(&h.store, &open).await;
    let other_after = view(&h.store, &other).await;
    assert!(after.archived && other_after.archived);
    assert_eq!(after.messages, before.messages);
    assert_eq!(other_after.messages, other_before.messages);
    let customer = h
        .store
        .customer(&owner)
        .await
        .expect("read")
        .expect("found");
    for id in &customer.conversation_ids {
        let view = h.store.conversation(id).await.expect("read");
        assert!(
            view.is_some(),
            "{id} reachable after the merge and the move"
        );
    }
}

/// The IVR's recent-contact rule reads the caller's last conversation. One moved to the
/// archive is older than the rule reaches back, so with PostgreSQL down the call is
/// decided (the caller is not recent: the menu), not failed.
#[tokio::test]
async fn a_call_is_decided_while_the_archive_is_down() {
    let pg = PostgresServer::start();
    let (h, mut app) = archiving_app("redis", &pg).await;
    Arc::get_mut(&mut app).expect("one owner").ivr.known_if = vec![KnownRule::RecentContact];
    let caller = "+4915112345678";
    let body = json!({ "channel": "phone", "network": "sms", "external_id": ext(),
        "from": caller, "text": "call me back" });
    let id = h
        .store
        .ingest(&inbound(body), t0())
        .await
        .expect("ingest")
        .conversation_id;
    let resolved_at = t0() + Duration::minutes(5);
    h.store.resolve(&id, resolved_at).await.expect("resolve");
    let later = resolved_at + Duration::seconds(61);
    assert_eq!(archiving::sweep(&app, later).await.expect("sweep"), 1);

    pg.stop();
    let read = h.store.conversation(&id).await;
    assert!(matches!(read, Err(StoreError::Unavailable(_))), "{read:?}");
    let call = calls::incoming(
        &app,
        "CA-1",
        caller,
        "+18005550000",
        &CallHints::default(),
        later,
    )
    .await
    .expect("the call is decided");
    assert_eq!(call.decision, CallDecision::Ivr, "{call:?}");
}

/// Sam wrote by chat and Tina by e-mail, then a message proved them one person: answers
/// the survivor's open conversation and the other's, which joined it.
pub async fn merged_pair(store: &Arc<dyn Store>) -> (ConversationId, ConversationId) {
    let say = |channel: &str, from: &str, text: &str, ids: serde_json::Value| {
        inbound(
            json!({ "channel": channel, "external_id": ext(), "from": from,
            "text": text, "identities": ids }),
        )
    };
    let at = |m: i64| t0() + Duration::minutes(m);
    let first = say("chat", "visitor-sam", "hello from chat", json!([]));
    let sam = store
        .ingest(&first, at(0))
        .await
        .expect("sam")
        .conversation_id;
    let second = say("email", "tina@example.com", "hello by mail", json!([]));
    let tina = store
        .ingest(&second, at(1))
        .await
        .expect("tina")
        .conversation_id;
    let proof = json!([{ "kind": "chat", "value": "visitor-sam" }]);
    let third = say("email", "tina@example.com", "I am also visitor-sam", proof);
    let joined = store
        .ingest(&third, at(2))
        .await
        .expect("merge")
        .conversation_id;
    // The older customer survives; the other's open conversation joined theirs.
    let other = if joined == tina { sam } else { tina };
    (joined, other)
}

/// A merged pair archived, then deleted: both conversations go, from both customers'
/// lists (the survivor's names the merged-in one too) and from the archive.
async fn merged_conversations_are_deleted_together(kind: &str) {
    let pg = PostgresServer::start();
    let (h, app) = archiving_app_with(kind, &pg, &[DELETE_AFTER]).await;
    let (open, other) = merged_pair(&h.store).await;
    let resolved_at = t0() + Duration::hours(1);
    h.store.resolve(&open, resolved_at).await.expect("resolve");
    let after = |s: i64| resolved_at + Duration::seconds(s);
    archiving::sweep(&app, after(61)).await.expect("archive");
    let deleted = deletion::sweep(&app, after(121)).await.expect("delete");
    assert_eq!(deleted, 2, "the conversation and the one merged into it");
    for id in [&open, &other] {
        assert!(
            h.store.conversation(id).await.expect("read").is_none(),
            "{id} gone"
        );
        let archived = app.archive.as_ref().expect("archive").get(id).await;
        assert!(
            archived.expect("archive").is_none(),
            "{id} gone from the archive"
        );
    }
    // Left with nothing, idle that long: erased, the one merged into them with them.
    for customer in [open.customer(), other.customer()] {
        let view = h.store.customer(customer).await.expect("read");
        assert!(view.is_none(), "{customer} erased: {view:?}");
    }
    let erasure = h.store.erasure(open.customer()).await.expect("read");
    let erasure = erasure.expect("the survivor's erasure");
    assert_eq!(erasure.state, ErasureState::Done);
    assert_eq!(erasure.merged_customer_ids, vec![other.customer().clone()]);
}

const DELETE_AFTER: (&str, &str) = ("SWITCHBOARD_RETENTION__DELETE_AFTER_SECS", "120");

/// Archived a minute after resolution, deleted two minutes after it: gone from Redis, from
/// the archive and from the customer's list; the customer and their newer conversation
/// stay.
async fn archived_conversations_are_deleted_after_delete_after(kind: &str) {
    let pg = PostgresServer::start();
    let (h, app) = archiving_app_with(kind, &pg, &[DELETE_AFTER]).await;
    let old = conversation_of(&h.store, "ann", 3, t0()).await;
    let resolved_at = t0() + Duration::hours(1);
    h.store.resolve(&old, resolved_at).await.expect("resolve");
    let after = |s: i64| resolved_at + Duration::seconds(s);
    assert_eq!(archiving::sweep(&app, after(61)).await.expect("archive"), 1);
    let newer = conversation_of(&h.store, "ann", 1, after(90)).await;
    assert_ne!(newer, old);
    assert_eq!(
        deletion::sweep(&app, after(119)).await.expect("delete"),
        0,
        "not yet"
    );
    assert_eq!(deletion::sweep(&app, after(121)).await.expect("delete"), 1);
    assert!(
        h.store.conversation(&old).await.expect("read").is_none(),
        "gone"
    );
    let archive = app.archive.as_ref().expect("archive");
    assert!(
        archive.get(&old).await.expect("archive").is_none(),
        "gone from the archive"
    );
    let customer = h
        .store
        .customer(old.customer())
        .await
        .expect("read")
        .expect("stays");
    assert_eq!(customer.conversation_ids, vec![newer.clone()]);
    assert!(h.store.conversation(&newer).await.expect("read").is_some());
    assert_eq!(
        deletion::sweep(&app, after(200)).await.expect("delete"),
        0,
        "once"
    );
}

/// No archive: the store's due list hands out the customers, and the conversations go
/// from the store alone.
async fn conversations_are_deleted_without_an_archive_too(kind: &str) {
    let h = match kind {
        "memory" => Harness::memory(),
        "redis" => Harness::redis(),
        _ => Harness::cluster(),
    };
    h.store
        .finalize_format(NEWEST, t0())
        .await
        .expect("finalized");
    let settings = test_settings(
        None,
        &[
            DELETE_AFTER,
            ("SWITCHBOARD_INGEST__REOPEN_WINDOW_SECS", "60"),
        ],
    );
    let app = app_state(&settings, h.store.clone()).expect("app");
    let old = conversation_of(&h.store, "bo", 3, t0()).await;
    let resolved_at = t0() + Duration::hours(1);
    h.store.resolve(&old, resolved_at).await.expect("resolve");
    let at = |s: i64| resolved_at + Duration::seconds(s);
    assert_eq!(
        deletion::sweep(&app, at(119)).await.expect("delete"),
        0,
        "not yet"
    );
    assert_eq!(deletion::sweep(&app, at(121)).await.expect("delete"), 1);
    assert!(h.store.conversation(&old).await.expect("read").is_none());
    let erased = h.store.customer(old.customer()).await.expect("read");
    assert!(
        erased.is_none(),
        "left with nothing, idle that long: erased"
    );
    let again = conversation_of(&h.store, "bo", 1, at(130)).await;
    assert_ne!(again.customer(), old.customer(), "a new customer starts");
}
