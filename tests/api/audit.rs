//! The audit trail (CONTRACT "Audit"), on the embedded store and on a real Redis: the
//! desk's read of a conversation by its agent, an admin's read and export of a customer,
//! agent changes and an admin's resolve are listed in order with actor, target and request
//! id, never a text; the trail pages with `after`, and only admins read it.

use serde_json::{json, Value};

use crate::helpers::{agent_jwt, message, on_both_stores, TestApp};

#[tokio::test]
async fn the_trail_lists_reads_exports_redactions_erasures_and_changes_and_pages_with_after() {
    on_both_stores(|app| async move { lists_and_pages(app).await }).await;
}

async fn lists_and_pages(app: TestApp) {
    app.agent_online("ann").await;
    let marker = format!("secret-{}", uuid::Uuid::new_v4());
    let receipt = app
        .ingest(&message(
            "chat",
            None,
            "visitor-a1",
            &format!("hello {marker}"),
        ))
        .await;
    let conv = receipt["conversation_id"]
        .as_str()
        .expect("conversation")
        .to_owned();
    let customer = receipt["customer_id"]
        .as_str()
        .expect("customer")
        .to_owned();
    let desk_read = app
        .agent_get("ann", &format!("/v1/conversations/{conv}"))
        .await;
    assert_eq!(desk_read.status(), 200);
    let desk_view: Value = desk_read.json().await.expect("json");
    let entry = desk_view["messages"][0]["id"]
        .as_str()
        .expect("entry")
        .to_owned();
    let refused = app
        .agent_get("bob", &format!("/v1/conversations/{conv}"))
        .await;
    assert_ne!(refused.status(), 200, "another agent reads nothing");
    assert_eq!(
        app.admin_get(&format!("/v1/customers/{customer}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.admin_get(&format!("/v1/customers/{customer}/export"))
            .await
            .status(),
        200
    );
    let resolved = app
        .admin_post(&format!("/v1/conversations/{conv}/resolve"), &json!({}))
        .await;
    assert_eq!(resolved.status(), 200);
    let redacted = app
        .admin_post(
            &format!("/v1/conversations/{conv}/messages/{entry}/redact"),
            &json!({}),
        )
        .await;
    assert_eq!(redacted.status(), 200);
    let erased = app.admin_delete(&format!("/v1/customers/{customer}")).await;
    assert_eq!(erased.status(), 202);

    let whole = app.admin_json("/v1/audit?limit=100").await;
    let entries = whole["entries"].as_array().expect("entries").clone();
    let acts: Vec<(String, String, String)> = entries
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("actor"), s("action"), s("target"))
        })
        .collect();
    let expected = [
        ("admin", "agent.update", "ann"),
        ("agent:ann", "conversation.read", conv.as_str()),
        ("admin", "customer.read", customer.as_str()),
        ("admin", "customer.export", customer.as_str()),
        ("admin", "conversation.resolve", conv.as_str()),
        ("admin", "message.redact", entry.as_str()),
        ("admin", "customer.erase", customer.as_str()),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(acts, expected, "{whole}");
    assert!(
        entries
            .iter()
            .all(|e| e["request_id"].as_str().is_some_and(|r| r.len() >= 32)
                && e["at"].as_str().is_some()),
        "{whole}"
    );
    assert!(!whole.to_string().contains(&marker), "no text in the trail");
    assert!(
        !whole.to_string().contains("visitor-a1"),
        "no identity in the trail"
    );

    // Pages of two, each after the page before, are the whole trail in order.
    let mut paged: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/audit?limit=2&after={a}"),
            None => "/v1/audit?limit=2".to_owned(),
        };
        let page = app.admin_json(&path).await;
        let got = page["entries"].as_array().expect("entries").clone();
        if got.is_empty() {
            assert_eq!(
                page["next"].as_str(),
                after.as_deref(),
                "an empty page keeps the cursor"
            );
            break;
        }
        assert_eq!(page["next"], got[got.len() - 1]["id"]);
        after = page["next"].as_str().map(str::to_owned);
        paged.extend(got);
    }
    assert_eq!(paged, entries);
}

#[tokio::test]
async fn only_admins_read_the_trail_and_bad_cursors_are_400() {
    on_both_stores(|app| async move {
        app.agent_online("ann").await;
        let agent = app
            .client
            .get(format!("{}/v1/audit", app.address))
            .bearer_auth(agent_jwt("ann"))
            .send()
            .await
            .expect("sent");
        assert_eq!(agent.status(), 403);
        for bad in ["after=yesterday", "limit=0", "limit=1001", "after=1-x"] {
            let r = app.admin_get(&format!("/v1/audit?{bad}")).await;
            assert_eq!(r.status(), 400, "{bad}");
            assert_eq!(r.headers()["content-type"], "application/problem+json");
        }
    })
    .await;
}

on_every_store!(older_entries_move_to_the_archive_and_the_trail_still_pages_whole);

/// With an archive (real PostgreSQL), on the embedded store, one Redis and the cluster:
/// entries older than a minute move there and leave the store; the trail pages across
/// both tiers in one order, and a page begun before a move misses nothing after it.
async fn older_entries_move_to_the_archive_and_the_trail_still_pages_whole(kind: &str) {
    use switchboard::app::audit::{self, Auditor};
    use switchboard::app::Actor;
    use switchboard::domain::AuditAction;

    let pg = crate::helpers::PostgresServer::start();
    let (h, app) = crate::archiving::archiving_app(kind, &pg).await;
    let by = Auditor::of(&Actor::Admin, Some("req-1".into()));
    for n in 0..5 {
        audit::record(&app, &by, AuditAction::CustomerRead, &format!("c{n}"))
            .await
            .expect("recorded");
    }
    let first_page = audit::page(&app, None, 2).await.expect("page");
    let cursor = first_page[1].id.clone();
    let later = chrono::Utc::now() + chrono::Duration::minutes(2);
    let moved = audit::move_to_archive(&app, later).await.expect("moved");
    assert_eq!(moved, 5);
    assert!(
        h.store
            .audit_entries(None, 100)
            .await
            .expect("read")
            .is_empty(),
        "gone from the store"
    );
    let archived = app
        .archive
        .as_ref()
        .expect("archive")
        .audit_after(None, 100)
        .await
        .expect("read");
    assert_eq!(archived.len(), 5);
    assert_eq!(
        audit::move_to_archive(&app, later).await.expect("again"),
        0,
        "moved once"
    );
    for n in 5..8 {
        audit::record(&app, &by, AuditAction::ConversationRead, &format!("v{n}"))
            .await
            .expect("recorded");
    }

    // The page begun before the move goes on after it, into the store's newer entries.
    let mut targets: Vec<String> = first_page.iter().map(|e| e.target.clone()).collect();
    let mut after = Some(cursor);
    loop {
        let page = audit::page(&app, after.as_deref(), 2).await.expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        targets.extend(page.iter().map(|e| e.target.clone()));
    }
    let expected: Vec<String> = (0..5)
        .map(|n| format!("c{n}"))
        .chain((5..8).map(|n| format!("v{n}")))
        .collect();
    assert_eq!(targets, expected);
    let whole = audit::page(&app, None, 1000).await.expect("page");
    assert_eq!(whole.len(), 8);
    assert!(whole
        .iter()
        .all(|e| e.request_id.as_deref() == Some("req-1") && e.actor == "admin"));
}
