//! A customer's erasure (CONTRACT "Erasure"), on the embedded store, one Redis and the
//! 3+3 cluster, each with a real archive: a customer who wrote on every channel, called,
//! rated, complained, was transferred with a note, got a reply and has a follow-up, with
//! a customer merged into them and a conversation archived, is erased; then a scan of
//! every key and value under the deployment's prefix on every node and of every archive
//! row finds none of their identities or texts, and their ids only in the audit trail
//! and the erasure's own record; agents' event replay carries none of it; the agents'
//! load is what they still hold; and a replica that had cached the phone number starts
//! a new customer for it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{
    agent_jwt, cluster_nodes, message, spawn_app, test_settings, ApiClient, PostgresServer,
    RedisServer,
};
use crate::traces::{archive_text, contains, event_replay, redis_entries, wait_archived};

on_every_store!(an_erased_customer_leaves_no_trace);

/// A fresh marker: what the scans look for.
fn marker(what: &str) -> String {
    format!("{what}-{}", Uuid::new_v4().simple())
}

/// A fresh phone number (a fictional US block, valid for libphonenumber).
fn phone() -> String {
    format!("+1415555{:04}", Uuid::new_v4().as_u128() % 10_000)
}

/// What a customer left behind, to be erased.
pub struct Trail {
    pub customer: String,
    /// The customer merged into them.
    pub merged: String,
    pub phone: String,
    /// Every identity and text they wrote, or that was written about them.
    pub markers: Vec<String>,
    /// Their conversations.
    pub conversations: Vec<String>,
}

/// Settings every erasure test shares: a quick archive move, and an adapter that never
/// answers (the reply waits in the outbox).
pub fn erasure_env(pg: &PostgresServer) -> Vec<(&'static str, String)> {
    vec![
        ("SWITCHBOARD_ARCHIVE__URL", pg.url()),
        ("SWITCHBOARD_RETENTION__ARCHIVE_AFTER_SECS", "1".into()),
        ("SWITCHBOARD_INGEST__REOPEN_WINDOW_SECS", "1".into()),
        ("SWITCHBOARD_OUTBOUND_URL", "http://127.0.0.1:9/send".into()),
        ("SWITCHBOARD_OUTBOUND_SECRET", "outbound-secret".into()),
        ("SWITCHBOARD_OUTBOUND__FIRST_BACKOFF_MS", "60000".into()),
    ]
}

/// A customer with something in every place a customer fills: ann is their personal
/// agent, bob exists to be transferred to.
pub async fn leave_a_trail(api: &ApiClient) -> Trail {
    api.agent_online("ann").await;
    api.agent_online("bob").await;
    let (visitor, mail, merged_mail, number) = (
        marker("visitor"),
        format!("{}@example.com", marker("mail")),
        format!("{}@example.com", marker("merged")),
        phone(),
    );
    let mut markers = vec![visitor.clone(), mail.clone(), merged_mail.clone()];
    let mut text = |what: &str| {
        let t = marker(what);
        markers.push(t.clone());
        t
    };
    let (first, name) = (text("first"), text("name"));
    let mut chat = message("chat", None, &visitor, &first);
    chat["display_name"] = json!(name);
    let receipt = api.ingest(&chat).await;
    let customer = receipt["customer_id"]
        .as_str()
        .expect("customer")
        .to_owned();
    let archived = receipt["conversation_id"].as_str().expect("id").to_owned();
    // A reply whose delivery still waits in the outbox when its conversation is archived.
    let old_reply = api
        .admin_post(
            &format!("/v1/conversations/{archived}/messages"),
            &json!({ "text": text("old-reply") }),
        )
        .await;
    assert_eq!(old_reply.status(), 201);
    let resolved = api
        .admin_post(
            &format!("/v1/conversations/{archived}/resolve"),
            &json!({ "csat": 4 }),
        )
        .await;
    assert!(resolved.status().is_success(), "{}", resolved.status());
    wait_archived(api, &archived).await;

    // A second conversation on every channel, a call, a reply, a transfer's note.
    let mut mail_in = message("email", None, &mail, &text("mail-text"));
    mail_in["subject"] = json!(text("subject"));
    mail_in["identities"] = json!([{ "kind": "chat", "value": visitor }]);
    let open = api.ingest(&mail_in).await;
    assert_eq!(
        open["customer_id"],
        customer.as_str(),
        "stitched by the visitor id"
    );
    let conv = open["conversation_id"].as_str().expect("id").to_owned();
    let mut sms = message("phone", Some("sms"), &number, &text("sms"));
    sms["identities"] = json!([{ "kind": "email", "value": mail }]);
    api.ingest(&sms).await;
    let mut whatsapp = message("social", Some("whatsapp"), &number, &text("whatsapp"));
    whatsapp["identities"] = json!([{ "kind": "email", "value": mail }]);
    assert_eq!(
        api.ingest(&whatsapp).await["customer_id"],
        customer.as_str()
    );
    let other = api
        .ingest(&message("email", None, &merged_mail, &text("merged-text")))
        .await;
    let merged = other["customer_id"].as_str().expect("customer").to_owned();
    assert_ne!(merged, customer);
    let mut proof = message("chat", None, &visitor, &text("proof"));
    proof["identities"] = json!([{ "kind": "email", "value": merged_mail }]);
    assert_eq!(api.ingest(&proof).await["customer_id"], customer.as_str());
    let sid = text("CA");
    let called = api
        .adapter_post(
            "/v1/calls",
            &json!({ "external_id": sid, "from": number, "to": "+18005550000" }),
        )
        .await;
    assert_eq!(called.status(), 200);
    // The personal agent's own reply, from their desk.
    let reply = api
        .client
        .post(format!("{}/v1/conversations/{conv}/messages", api.address))
        .bearer_auth(agent_jwt("ann"))
        .json(&json!({ "text": text("reply") }))
        .send()
        .await
        .expect("sent");
    assert_eq!(reply.status(), 201);
    let note = text("note");
    let moved = api
        .admin_post(
            &format!("/v1/conversations/{conv}/transfer"),
            &json!({ "to_agent": "bob", "note": note }),
        )
        .await;
    assert_eq!(moved.status(), 200, "{:?}", moved.text().await);
    let complaint = api
        .admin_post(
            &format!("/v1/customers/{customer}/complaints"),
            &json!({ "text": text("complaint"), "channel": "chat" }),
        )
        .await;
    assert!(complaint.status().is_success(), "{}", complaint.status());
    let follow_up = api
        .admin_put(
            &format!("/v1/customers/{customer}/follow-up"),
            &json!({ "due_at": "2099-01-01T09:00:00Z" }),
        )
        .await;
    assert!(follow_up.status().is_success(), "{}", follow_up.status());
    let rated = api
        .adapter_post(
            &format!("/v1/conversations/{conv}/rating"),
            &json!({ "rating": 5, "source": "survey" }),
        )
        .await;
    assert!(rated.status().is_success(), "{}", rated.status());
    markers.push(number.clone());
    markers.push(number.trim_start_matches('+').to_owned());
    Trail {
        customer,
        merged,
        phone: number,
        markers,
        conversations: vec![archived, conv],
    }
}

/// Erases the customer and waits until the erasure is done; answers its id.
pub async fn erase(api: &ApiClient, customer: &str) -> String {
    let accepted = api.admin_delete(&format!("/v1/customers/{customer}")).await;
    assert_eq!(accepted.status(), 202);
    let body: Value = accepted.json().await.expect("json");
    let id = body["erasure_id"].as_str().expect("erasure id").to_owned();
    wait_done(api, &id).await;
    id
}

pub async fn wait_done(api: &ApiClient, erasure: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = api.admin_get(&format!("/v1/erasures/{erasure}")).await;
        if status.status() == 200 {
            let status: Value = status.json().await.expect("json");
            if status["state"] == "done" {
                return status;
            }
        }
        assert!(
            Instant::now() < deadline,
            "erasure {erasure} never finished"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every key under `prefix` with its value, on every node of `urls` (comma-separated).
pub fn redis_under(urls: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    for url in urls.split(',') {
        let client = ::redis::Client::open(url).expect("client");
        let mut conn = client.get_connection().expect("connection");
        // A cluster's replicas answer reads too; a plain server ignores the flag.
        let _: Result<(), _> = ::redis::cmd("READONLY").query(&mut conn);
        for (key, value) in redis_entries(&mut conn, &format!("{prefix}:*")) {
            all.push((String::from_utf8_lossy(&key).into_owned(), value));
        }
    }
    all
}

/// A customer-side feed shard may name the erased customers only in the erasure's own
/// notice (`switchboard.customer.erased`: its id `<customer>/erased`, its subject and its
/// data, which names the merged customer once), however often a resumed erasure wrote it.
fn assert_only_the_notice(key: &str, value: &[u8], trail: &Trail) {
    let text = String::from_utf8_lossy(value);
    let notices = text.matches(&format!("{}/erased", trail.customer)).count();
    assert_eq!(
        text.matches(trail.customer.as_str()).count(),
        3 * notices,
        "{} outside its erasure notice in {key}",
        trail.customer
    );
    assert_eq!(
        text.matches(trail.merged.as_str()).count(),
        notices,
        "{} outside the erasure notice in {key}",
        trail.merged
    );
}

/// What no store may hold after the erasure: the markers anywhere; the customers' ids
/// anywhere but their erasure records and the audit trail.
pub fn assert_no_trace(trail: &Trail, redis: &[(String, Vec<u8>)], archive: &str, prefix: &str) {
    for (key, value) in redis {
        for m in &trail.markers {
            assert!(!key.contains(m.as_str()), "{m} in the key {key}");
            assert!(!contains(value, m), "{m} in {key}");
        }
        let allowed = key.ends_with(":erasure") || key == &format!("{prefix}:audit");
        if key.starts_with(&format!("{prefix}:fd:")) && key.ends_with(":feed") {
            assert_only_the_notice(key, value, trail);
            continue;
        }
        for id in [&trail.customer, &trail.merged] {
            if !allowed {
                assert!(!key.contains(id.as_str()), "{id} in the key {key}");
                assert!(!contains(value, id), "{id} in {key}");
            }
        }
    }
    for m in &trail.markers {
        assert!(!archive.contains(m.as_str()), "{m} in the archive");
    }
    for line in archive.lines() {
        let audit = line.contains("customer.") || line.contains("conversation.");
        for id in [&trail.customer, &trail.merged] {
            assert!(
                audit || !line.contains(id.as_str()),
                "{id} in the archive: {line}"
            );
        }
    }
}

async fn an_erased_customer_leaves_no_trace(kind: &str) {
    let pg = PostgresServer::start();
    let server = (kind == "redis").then(RedisServer::start);
    let url = match kind {
        "redis" => Some(server.as_ref().expect("server").url()),
        "cluster" => Some(cluster_nodes().to_owned()),
        _ => None,
    };
    let prefix = format!("t{}", Uuid::new_v4().simple());
    let mut env = erasure_env(&pg);
    env.push(("SWITCHBOARD_REDIS__KEY_PREFIX", prefix.clone()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app(test_settings(url.as_deref(), &env)).await;
    let trail = leave_a_trail(&app).await;
    // Another replica that knows the customer by their phone (its identity cache).
    let replica = match url.as_deref() {
        Some(url) => Some(spawn_app(test_settings(Some(url), &env)).await),
        None => None,
    };
    if let Some(replica) = &replica {
        let known = replica
            .ingest(&message("phone", Some("sms"), &trail.phone, "cached"))
            .await;
        assert_eq!(known["customer_id"], trail.customer.as_str());
    }
    let bystander = app
        .ingest(&message("chat", None, "visitor-bystander", "still here"))
        .await;

    let erasure = erase(&app, &trail.customer).await;
    let again = app
        .admin_delete(&format!("/v1/customers/{}", trail.customer))
        .await;
    assert_eq!(
        again.status(),
        202,
        "a second request answers the same erasure"
    );
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["erasure_id"], erasure.as_str());
    let through_merged = app
        .admin_delete(&format!("/v1/customers/{}", trail.merged))
        .await;
    assert_eq!(through_merged.status(), 202);

    for path in [
        format!("/v1/customers/{}", trail.customer),
        format!("/v1/customers/{}", trail.merged),
        format!("/v1/conversations/{}", trail.conversations[0]),
        format!("/v1/conversations/{}", trail.conversations[1]),
    ] {
        assert_eq!(app.admin_get(&path).await.status(), 404, "{path}");
    }
    let events = [
        event_replay(&app, "ann").await,
        event_replay(&app, "bob").await,
    ];
    for (agent, replay) in ["ann", "bob"].iter().zip(&events) {
        for m in trail.markers.iter().chain([&trail.customer, &trail.merged]) {
            assert!(
                !replay.contains(m.as_str()),
                "{m} in {agent}'s event replay"
            );
        }
    }
    assert_load_is_what_they_hold(&app, "ann").await;
    assert_load_is_what_they_hold(&app, "bob").await;
    let redis = match &url {
        Some(url) => redis_under(url, &prefix),
        None => Vec::new(),
    };
    assert_no_trace(&trail, &redis, &archive_text(&pg.url()).await, &prefix);

    // The erased phone number starts a new customer, on a replica that had cached it too.
    let writer = replica.as_ref().map_or(&*app, |r| &**r);
    let fresh = writer
        .ingest(&message("phone", Some("sms"), &trail.phone, "hello again"))
        .await;
    assert_ne!(fresh["customer_id"], trail.customer.as_str());
    assert_ne!(fresh["customer_id"], bystander["customer_id"]);
    let trail_log = app.admin_json("/v1/audit?limit=1000").await.to_string();
    assert!(trail_log.contains("customer.erase"), "{trail_log}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("switchboard_erasures_total 1"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("erasures"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// An agent's load is what they hold now: the erased customer's conversations freed
/// their units.
async fn assert_load_is_what_they_hold(api: &ApiClient, agent: &str) {
    let view = api.admin_json(&format!("/v1/agents/{agent}")).await;
    let load: u64 = view["load"]
        .as_object()
        .expect("load")
        .values()
        .map(|n| n.as_u64().expect("count"))
        .sum();
    let held = api
        .admin_json(&format!("/v1/agents/{agent}/conversations"))
        .await;
    let held = held
        .as_array()
        .or_else(|| held["conversations"].as_array())
        .map_or(0, Vec::len);
    assert_eq!(load, held as u64, "{agent}: {view}");
}

#[tokio::test]
async fn only_an_admin_erases_only_a_known_customer_and_only_once_every_replica_can() {
    let redis = RedisServer::start();
    let app = crate::helpers::spawn_app_unfinalized(test_settings(Some(&redis.url()), &[])).await;
    let receipt = app
        .ingest(&message("chat", None, "visitor-early", "hello"))
        .await;
    let customer = receipt["customer_id"]
        .as_str()
        .expect("customer")
        .to_owned();
    let path = format!("/v1/customers/{customer}");
    let early = app.admin_delete(&path).await;
    assert_eq!(
        early.status(),
        409,
        "a 0.1.0 replica could still route to them"
    );
    assert_eq!(early.headers()["content-type"], "application/problem+json");
    assert_eq!(
        app.admin_get(&path).await.status(),
        200,
        "nothing was erased"
    );

    let finalized = app
        .admin_post("/v1/storage-format/finalize", &json!({}))
        .await;
    assert_eq!(finalized.status(), 200);
    app.agent_online("ann").await;
    let agent = app
        .client
        .delete(format!("{}{path}", app.address))
        .bearer_auth(crate::helpers::agent_jwt("ann"))
        .send()
        .await
        .expect("sent");
    assert_eq!(agent.status(), 403, "an agent never erases");
    for unknown in [
        "/v1/customers/c_nobody",
        "/v1/customers/01a2507c7670767095a483729052418e",
    ] {
        assert_eq!(app.admin_delete(unknown).await.status(), 404, "{unknown}");
    }
    for unknown in [
        "/v1/erasures/er-01a2507c7670767095a483729052418e",
        "/v1/erasures/nope",
    ] {
        assert_eq!(app.admin_get(unknown).await.status(), 404, "{unknown}");
    }
    let erasure = erase(&app, &customer).await;
    let status = app.admin_json(&format!("/v1/erasures/{erasure}")).await;
    assert_eq!(status["state"], "done");
    assert_eq!(status["customer_id"], customer.as_str());
    assert_eq!(
        status["conversation_ids"],
        json!([receipt["conversation_id"]])
    );
    assert!(status["done_at"].is_string(), "{status}");
}
