//! The personal-manager practices, over HTTP on both stores: ratings and the
//! satisfaction index.

use serde_json::{json, Value};

use crate::helpers::{message, spawn_app, test_settings, RedisServer, TestApp};

/// Runs `check` against an app on the embedded store and on a real Redis.
async fn on_both_stores<F, Fut>(check: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let redis = RedisServer::start();
    for url in [None, Some(redis.url())] {
        check(spawn_app(test_settings(url.as_deref(), &[])).await).await;
    }
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn ratings_from_resolve_and_surveys_make_the_agents_and_customers_index() {
    on_both_stores(|app| async move {
        app.agent_online("a").await;
        let r = app.ingest(&message("chat", None, "visitor-1", "hi")).await;
        let conv = r["conversation_id"].as_str().unwrap_or_default().to_owned();
        let cid = r["customer_id"].as_str().unwrap_or_default().to_owned();
        let resolved = app
            .admin_post(
                &format!("/v1/conversations/{conv}/resolve"),
                &json!({ "csat": 5 }),
            )
            .await;
        assert_eq!(resolved.status(), 200);
        // The survey sent afterwards: rated 3, then retried by the survey tool.
        let path = format!("/v1/conversations/{conv}/rating");
        let survey = json!({ "rating": 3, "source": "survey" });
        let first = app.adapter_post(&path, &survey).await;
        assert_eq!(first.status(), 201);
        let first: Value = first.json().await.expect("json");
        assert_eq!(first["agent_id"], "a", "the agent who served it");
        let again = app
            .adapter_post(&path, &json!({ "rating": 1, "source": "survey" }))
            .await;
        assert_eq!(again.status(), 200);
        assert_eq!(
            again.json::<Value>().await.expect("json")["duplicate"],
            true
        );

        let index = json!({ "ratings": 2, "index": 4.0, "satisfied": 0.5 });
        assert_eq!(app.admin_json("/v1/agents/a").await["satisfaction"], index);
        assert_eq!(
            app.admin_json(&format!("/v1/customers/{cid}")).await["satisfaction"],
            index
        );
        let text = app.metrics().await;
        for (rating, n) in [("5", 1.0), ("3", 1.0), ("1", 0.0)] {
            let series =
                format!("switchboard_csat_responses_total{{channel=\"chat\",rating=\"{rating}\"}}");
            assert_eq!(sample(&text, &series), Some(n), "{series}");
        }

        for (why, body, status) in [
            ("rating 6", json!({ "rating": 6 }), 400),
            ("rating 0", json!({ "rating": 0, "source": "sms" }), 400),
            (
                "bad source",
                json!({ "rating": 4, "source": "Survey Monkey" }),
                400,
            ),
        ] {
            assert_eq!(
                app.adapter_post(&path, &body).await.status(),
                status,
                "{why}"
            );
        }
        let unknown = format!("/v1/conversations/{cid}-99/rating");
        assert_eq!(
            app.adapter_post(&unknown, &json!({ "rating": 4 }))
                .await
                .status(),
            404
        );
        let unauthenticated = app
            .client
            .post(format!("{}{path}", app.address))
            .json(&json!({ "rating": 4 }))
            .send()
            .await
            .expect("sent");
        assert_eq!(unauthenticated.status(), 401);
    })
    .await;
}
