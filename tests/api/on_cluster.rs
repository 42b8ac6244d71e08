//! The HTTP service on a real Redis Cluster (3 masters + 3 replicas): the contract's
//! flows end to end, where every script and pipeline must keep its keys in one slot.

use serde_json::{json, Value};

use crate::helpers::{cluster_nodes, message, spawn_app, test_settings, TestApp, ADAPTER_TOKEN};

async fn app() -> TestApp {
    spawn_app(test_settings(Some(cluster_nodes()), &[])).await
}

#[tokio::test]
async fn on_a_cluster_one_person_on_three_channels_is_one_conversation_with_their_agent() {
    let app = app().await;
    app.agent_online("a").await;
    let first = app
        .ingest(&message("phone", Some("sms"), "+1 415 555 0100", "hi"))
        .await;
    assert_eq!(first["route"]["reason"], "new_personal_agent", "{first}");
    let mut email = message("email", None, "Jane@Example.com", "order?");
    email["identities"] = json!([{ "kind": "phone", "value": "(415) 555-0100" }]);
    let second = app.ingest(&email).await;
    let third = app
        .ingest(&message(
            "social",
            Some("whatsapp"),
            "14155550100",
            "still there?",
        ))
        .await;
    for r in [&second, &third] {
        assert_eq!(r["conversation_id"], first["conversation_id"]);
        assert_eq!(r["route"]["agent_id"], "a");
    }
    let retry = app.post_message(&email).await;
    let retry: Value = retry.json().await.expect("json");
    assert_eq!(retry["duplicate"], true);
    let conv = app
        .admin_json(&format!(
            "/v1/conversations/{}",
            first["conversation_id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(conv["messages"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn on_a_cluster_a_queue_drains_when_capacity_frees_and_gauges_are_read() {
    let app = app().await;
    app.admin_put(
        "/v1/agents/a",
        &json!({ "name": "A", "capacity": { "chat": 1 } }),
    )
    .await;
    app.admin_put("/v1/agents/a/presence", &json!({ "presence": "online" }))
        .await;
    let held = app.ingest(&message("chat", None, "v-1", "hi")).await;
    let waiting = app.ingest(&message("chat", None, "v-2", "hi")).await;
    assert_eq!(waiting["route"]["decision"], "queued", "{waiting}");
    let conv = held["conversation_id"].as_str().unwrap_or_default();
    let resolved = app
        .admin_post(&format!("/v1/conversations/{conv}/resolve"), &json!({}))
        .await;
    assert_eq!(resolved.status(), 200);
    let next = waiting["conversation_id"].as_str().unwrap_or_default();
    let view = app.admin_json(&format!("/v1/conversations/{next}")).await;
    assert_eq!(
        view["agent_id"], "a",
        "the freed unit took the waiting chat"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("switchboard_queue_depth{queue=\"chat\"} 0"),
        "{metrics}"
    );
    let calls = app
        .client
        .post(format!("{}/v1/calls", app.address))
        .bearer_auth(ADAPTER_TOKEN)
        .json(&json!({ "external_id": "CA-c1", "from": "anonymous", "to": "+18005550000" }))
        .send()
        .await
        .expect("sent");
    assert_eq!(calls.status(), 200, "call records and rate limits work too");
}

#[tokio::test]
async fn after_a_promoted_replica_with_an_empty_script_cache_requests_still_succeed() {
    let app = app().await;
    app.agent_online("a").await;
    app.ingest(&message("chat", None, "v-noscript", "before"))
        .await;
    // A replica promoted by a failover has no scripts cached: every node forgets them.
    for node in cluster_nodes().split(',') {
        let client = redis::Client::open(node).expect("node url");
        let mut conn = client.get_connection().expect("node");
        redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query::<()>(&mut conn)
            .expect("script flush");
    }
    let after = app
        .ingest(&message("chat", None, "v-noscript", "after"))
        .await;
    assert_eq!(after["route"]["agent_id"], "a", "{after}");
    let agent = app.admin_json("/v1/agents/a").await;
    assert_eq!(agent["load"]["chat"], 1, "routing scripts reloaded too");
}

fn cli(port: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", port])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The port of the master serving `slot`, from `CLUSTER NODES`.
fn master_of(any_port: &str, slot: u16) -> String {
    for line in cli(any_port, &["cluster", "nodes"]).lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if !f[2].contains("master") || f[2].contains("fail") {
            continue;
        }
        for range in &f[8..] {
            let (lo, hi) = range.split_once('-').unwrap_or((range, range));
            if let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) {
                if (lo..=hi).contains(&slot) {
                    return f[1].split(['@', ':']).nth(1).unwrap_or("").to_owned();
                }
            }
        }
    }
    panic!("no master serves slot {slot}");
}

#[tokio::test]
async fn on_a_cluster_four_routing_groups_route_on_more_than_one_master() {
    let prefix = format!("tg{}", uuid::Uuid::new_v4().simple());
    let settings = test_settings(
        Some(cluster_nodes()),
        &[("SWITCHBOARD_REDIS__KEY_PREFIX", prefix.as_str())],
    );
    let app = spawn_app(settings).await;
    let groups = [("a", "default"), ("b", "sales"), ("c", "es"), ("d", "vip")];
    for (agent, group) in groups {
        app.admin_put(
            &format!("/v1/agents/{agent}"),
            &json!({ "name": agent, "group": group }),
        )
        .await;
        app.admin_put(
            &format!("/v1/agents/{agent}/presence"),
            &json!({ "presence": "online" }),
        )
        .await;
        let mut msg = message("chat", None, &format!("visitor-{group}"), "hi");
        msg["group"] = json!(group);
        let r = app.ingest(&msg).await;
        assert_eq!(r["route"]["agent_id"], agent, "{r}");
    }
    let any = cluster_nodes()
        .split(',')
        .next()
        .and_then(|n| n.rsplit(':').next())
        .unwrap_or_default()
        .to_owned();
    let mut masters = std::collections::BTreeSet::new();
    for (agent, group) in groups {
        let tag = match group {
            "default" => "{rt}".to_owned(),
            g => format!("{{rt:{g}}}"),
        };
        let key = format!("{prefix}:rt:{tag}:a:{agent}");
        let slot: u16 = cli(&any, &["cluster", "keyslot", &key])
            .parse()
            .expect("slot");
        let master = master_of(&any, slot);
        let in_slot = cli(
            &master,
            &["cluster", "getkeysinslot", &slot.to_string(), "10000"],
        );
        let ours: Vec<&str> = in_slot.lines().filter(|k| k.starts_with(&prefix)).collect();
        assert!(
            ours.contains(&key.as_str()),
            "{key} not on {master}: {ours:?}"
        );
        let dbsize = cli(&master, &["dbsize"]);
        println!("group {group}: slot {slot} on master :{master} (dbsize {dbsize}), {} keys of this test there", ours.len());
        masters.insert(master);
    }
    assert!(masters.len() >= 2, "all groups on one master: {masters:?}");
}
