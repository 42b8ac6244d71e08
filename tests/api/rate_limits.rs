//! Rate limits are per caller and shared by every replica (counted in Redis).

use serde_json::Value;

use crate::helpers::{message, spawn_app, test_settings, RedisServer};

#[tokio::test]
async fn an_adapter_over_its_limit_gets_429_with_retry_after_on_every_replica() {
    let redis = RedisServer::start();
    let limit = [("SWITCHBOARD_RATE_LIMIT__ADAPTER_PER_SEC", "5")];
    let one = spawn_app(test_settings(Some(&redis.url()), &limit)).await;
    let two = spawn_app(test_settings(Some(&redis.url()), &limit)).await;
    let mut answers = Vec::new();
    for i in 0..12 {
        let app = if i % 2 == 0 { &one } else { &two };
        let r = app
            .post_message(&message("chat", None, &format!("v-{i}"), "hi"))
            .await;
        answers.push((r.status().as_u16(), r.headers().get("retry-after").cloned()));
        if r.status() == 429 {
            let problem: Value = r.json().await.expect("problem");
            assert_eq!(problem["status"], 429);
        }
    }
    let accepted = answers.iter().filter(|(s, _)| *s == 202).count();
    assert_eq!(accepted, 5, "one budget for both replicas: {answers:?}");
    assert!(answers
        .iter()
        .filter(|(s, _)| *s == 429)
        .all(|(_, retry)| retry.as_ref().is_some_and(|v| v == "1")));
    let metrics = one.metrics().await;
    assert!(
        metrics.contains(r#"switchboard_rate_limited_total{caller="adapter"}"#),
        "{metrics}"
    );
    // The next window has a fresh budget.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = one
        .post_message(&message("chat", None, "v-late", "hi"))
        .await;
    assert_eq!(again.status(), 202);
}

#[tokio::test]
async fn replicas_spending_leased_budgets_together_never_admit_more_than_the_limit() {
    let redis = RedisServer::start();
    // A limit of 100 is leased 5 at a time: one count in Redis per 5 requests a replica.
    let limit = [("SWITCHBOARD_RATE_LIMIT__ADAPTER_PER_SEC", "100")];
    let one = spawn_app(test_settings(Some(&redis.url()), &limit)).await;
    let two = spawn_app(test_settings(Some(&redis.url()), &limit)).await;
    // All at once, so the test stays inside one window however slow the machine is.
    let requests = (0..140).map(|i| {
        let app = if i % 2 == 0 { &one } else { &two };
        let request = app
            .client
            .post(format!("{}/v1/messages", app.address))
            .bearer_auth(crate::helpers::ADAPTER_TOKEN)
            .json(&message("chat", None, &format!("lease-{i}"), "hi"));
        async move { request.send().await.expect("sent").status().as_u16() }
    });
    let statuses = futures_util::future::join_all(requests).await;
    let accepted = statuses.iter().filter(|s| **s == 202).count();
    assert_eq!(accepted, 100, "the whole budget, and not one more");
}

#[tokio::test]
async fn a_concurrent_burst_under_the_limit_is_never_refused() {
    let redis = RedisServer::start();
    let limit = [("SWITCHBOARD_RATE_LIMIT__ADAPTER_PER_SEC", "1000")];
    let app = spawn_app(test_settings(Some(&redis.url()), &limit)).await;
    // 64 requests at once all find no lease and race to take one; 64 < 1000.
    let burst = (0..64).map(|i| {
        let body = message("chat", None, &format!("burst-{i}"), "hi");
        let request = app
            .client
            .post(format!("{}/v1/messages", app.address))
            .bearer_auth(crate::helpers::ADAPTER_TOKEN)
            .json(&body);
        async move { request.send().await.expect("sent").status().as_u16() }
    });
    let statuses = futures_util::future::join_all(burst).await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
}
