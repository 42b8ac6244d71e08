//! Long timelines page (CONTRACT "Long timelines page"): the newest 200 entries unless
//! asked otherwise, `before` walks back, `earlier` says whether older entries exist.

use serde_json::Value;

use crate::helpers::{
    ext, message, on_both_stores, spawn_app, test_settings, RedisServer, TestApp,
};

/// `n` chat messages from one customer, in order; their ids and the conversation.
async fn chatty_customer(app: &TestApp, n: usize) -> (String, Vec<String>) {
    let mut ids = Vec::with_capacity(n);
    let mut conv = String::new();
    for i in 0..n {
        let mut body = message("chat", None, "pager-1", &format!("message {i}"));
        body["external_id"] = Value::String(ext());
        let receipt = app.ingest(&body).await;
        conv = receipt["conversation_id"]
            .as_str()
            .expect("conv")
            .to_owned();
        ids.push(receipt["message_id"].as_str().expect("id").to_owned());
    }
    (conv, ids)
}

fn ids_of(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn a_long_timeline_pages_back_with_every_entry_once_in_order() {
    let redis = RedisServer::start();
    for url in [None, Some(redis.url())] {
        // 3,000 messages at once would pass the adapter's rate limit.
        let unlimited = [("SWITCHBOARD_RATE_LIMIT__ADAPTER_PER_SEC", "0")];
        let app = spawn_app(test_settings(url.as_deref(), &unlimited)).await;
        let (conv, sent) = chatty_customer(&app, 3000).await;
        let first = app.admin_json(&format!("/v1/conversations/{conv}")).await;
        assert_eq!(ids_of(&first).len(), 200);
        assert_eq!(first["earlier"], true);
        let mut pages = vec![ids_of(&first)];
        let mut earlier = first["earlier"] == true;
        while earlier {
            let oldest = pages
                .last()
                .and_then(|p| p.first())
                .cloned()
                .expect("entry");
            let page = app
                .admin_json(&format!(
                    "/v1/conversations/{conv}?limit=700&before={oldest}"
                ))
                .await;
            assert!(ids_of(&page).len() <= 700);
            earlier = page["earlier"] == true;
            pages.push(ids_of(&page));
        }
        let walked: Vec<String> = pages.into_iter().rev().flatten().collect();
        assert_eq!(walked, sent, "every entry once, oldest first");
        let whole = app
            .admin_json(&format!(
                "/v1/conversations/{conv}?limit=1000&before={}",
                sent[1000]
            ))
            .await;
        assert_eq!(ids_of(&whole), sent[..1000]);
        assert_eq!(whole["earlier"], false);
    }
}

#[tokio::test]
async fn a_bad_page_is_a_clear_400() {
    on_both_stores(|app| async move {
        let (conv, _) = chatty_customer(&app, 3).await;
        let other = app.ingest(&message("chat", None, "pager-2", "hi")).await;
        let foreign = other["message_id"].as_str().expect("id");
        for query in [
            "limit=0".to_owned(),
            "limit=1001".to_owned(),
            "limit=x".to_owned(),
            "before=not-an-id".to_owned(),
            format!("before={foreign}"),
        ] {
            let r = app
                .admin_get(&format!("/v1/conversations/{conv}?{query}"))
                .await;
            assert_eq!(r.status(), 400, "{query}");
            let ct = r.headers()["content-type"]
                .to_str()
                .unwrap_or_default()
                .to_owned();
            assert_eq!(ct, "application/problem+json", "{query}");
        }
        let small = app.admin_json(&format!("/v1/conversations/{conv}")).await;
        assert_eq!(ids_of(&small).len(), 3);
        assert_eq!(small["earlier"], false);
    })
    .await;
}
