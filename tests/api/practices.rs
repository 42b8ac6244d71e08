//! The personal-manager practices, over HTTP on both stores: ratings and the
//! satisfaction index, complaints.

use serde_json::{json, Value};

use crate::helpers::{message, on_both_stores, TestApp};

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

#[tokio::test]
async fn a_complaint_goes_ahead_of_routine_work_sends_calls_past_the_menu_and_closes_on_resolve() {
    on_both_stores(|app| async move {
        app.agent_online("a").await;
        // Older routine work already waits in the supervisor queue.
        let routine = app.ingest(&message("chat", None, "v-routine", "hi")).await;
        let routine = routine["conversation_id"].as_str().unwrap_or_default().to_owned();
        let to_supervisor = json!({ "to_queue": "supervisor", "note": "needs a lead" });
        app.admin_post(&format!("/v1/conversations/{routine}/transfer"), &to_supervisor)
            .await;
        // A customer known by chat and phone, served and resolved earlier.
        let mut hello = message("chat", None, "v-jane", "hello");
        hello["identities"] = json!([{ "kind": "phone", "value": "+1 415 555 0142" }]);
        let earlier = app.ingest(&hello).await;
        let cid = earlier["customer_id"].as_str().unwrap_or_default().to_owned();
        let earlier = earlier["conversation_id"].as_str().unwrap_or_default().to_owned();
        app.admin_post(&format!("/v1/conversations/{earlier}/resolve"), &json!({}))
            .await;

        // The widget's "complain to a manager" button, clicked and retried.
        let click = json!({ "text": "Nobody answered my e-mail", "channel": "chat", "external_id": "click-1" });
        let path = format!("/v1/customers/{cid}/complaints");
        let raised = app.adapter_post(&path, &click).await;
        assert_eq!(raised.status(), 201);
        let conv = raised.json::<Value>().await.expect("json")["conversation_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let retried = app.adapter_post(&path, &click).await;
        assert_eq!(retried.json::<Value>().await.expect("json")["conversation_id"], conv.as_str());

        let queue = app.admin_json("/v1/queues/supervisor").await;
        let order: Vec<&str> = queue
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|q| q["conversation_id"].as_str())
            .collect();
        assert_eq!(order, vec![conv.as_str(), routine.as_str()], "ahead of routine work");
        assert_eq!(queue[0]["priority"], 9);
        let view = app.admin_json(&format!("/v1/conversations/{conv}")).await;
        let timeline = view["messages"].to_string();
        assert!(timeline.contains("[complaint] Nobody answered my e-mail"), "{timeline}");
        let customer = app.admin_json(&format!("/v1/customers/{cid}")).await;
        assert_eq!(customer["open_complaint_conversation_id"], conv.as_str());
        let text = app.metrics().await;
        let raised = r#"switchboard_complaints_total{channel="chat",source="button"}"#;
        assert_eq!(sample(&text, raised), Some(1.0), "counted once");

        // Their next call skips the menu because of the complaint.
        let call = json!({ "external_id": "CA-complaint", "from": "+14155550142", "to": "+18005550000" });
        let call: Value = app.adapter_post("/v1/calls", &call).await.json().await.expect("json");
        assert_ne!(call["decision"], "ivr", "{call}");
        let bypass = r#"switchboard_ivr_bypass_total{reason="open_complaint"}"#;
        assert_eq!(sample(&app.metrics().await, bypass), Some(1.0));

        // Resolving the conversation closes the complaint.
        app.admin_post(&format!("/v1/conversations/{conv}/resolve"), &json!({}))
            .await;
        let customer = app.admin_json(&format!("/v1/customers/{cid}")).await;
        assert_eq!(customer["open_complaint_conversation_id"], Value::Null);
    })
    .await;
}

#[tokio::test]
async fn a_rating_of_two_raises_a_complaint() {
    on_both_stores(|app| async move {
        app.agent_online("a").await;
        let r = app
            .ingest(&message("email", None, "jane@x.io", "my order"))
            .await;
        let conv = r["conversation_id"].as_str().unwrap_or_default().to_owned();
        let cid = r["customer_id"].as_str().unwrap_or_default().to_owned();
        let resolved = app
            .admin_post(
                &format!("/v1/conversations/{conv}/resolve"),
                &json!({ "csat": 2 }),
            )
            .await;
        assert_eq!(resolved.status(), 200);
        let customer = app.admin_json(&format!("/v1/customers/{cid}")).await;
        let complaint = customer["open_complaint_conversation_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(!complaint.is_empty(), "{customer}");
        let queue = app.admin_json("/v1/queues/supervisor").await;
        assert_eq!(queue[0]["conversation_id"], complaint.as_str());
        let text = app.metrics().await;
        let raised = r#"switchboard_complaints_total{channel="email",source="rating"}"#;
        assert_eq!(sample(&text, raised), Some(1.0));
    })
    .await;
}

#[tokio::test]
async fn the_widget_shows_the_customers_manager_card() {
    on_both_stores(|app| async move {
        let ann = json!({ "name": "Ann Lee", "card": {
            "title": "Your personal manager",
            "photo_url": "https://cdn.example.com/ann.jpg",
            "direct": { "phone": "+1 415 555 0100", "email": "ann@example.com" } } });
        assert_eq!(app.admin_put("/v1/agents/ann", &ann).await.status(), 201);
        app.admin_put("/v1/agents/ann/presence", &json!({ "presence": "online" }))
            .await;
        let r = app.ingest(&message("chat", None, "visitor-5", "hi")).await;
        let cid = r["customer_id"].as_str().unwrap_or_default().to_owned();
        let path = format!("/v1/customers/{cid}/manager");
        let card = app
            .client
            .get(format!("{}{path}", app.address))
            .bearer_auth(crate::helpers::ADAPTER_TOKEN)
            .send()
            .await
            .expect("sent");
        assert_eq!(card.status(), 200);
        let card: Value = card.json().await.expect("json");
        assert_eq!(
            card,
            json!({ "agent_id": "ann", "name": "Ann Lee", "title": "Your personal manager",
                    "photo_url": "https://cdn.example.com/ann.jpg",
                    "direct": { "phone": "+1 415 555 0100", "email": "ann@example.com" },
                    "available": true })
        );
        app.admin_put("/v1/agents/ann/presence", &json!({ "presence": "offline" }))
            .await;
        assert_eq!(app.admin_json(&path).await["available"], false);
        // A stranger has no manager yet; a photo must be https.
        let nobody = app
            .admin_get("/v1/customers/00000000000000000000000000000000/manager")
            .await;
        assert_eq!(nobody.status(), 404);
        let http_photo = json!({ "name": "Bob", "card": { "photo_url": "http://x/bob.jpg" } });
        assert_eq!(
            app.admin_put("/v1/agents/bob", &http_photo).await.status(),
            400
        );
    })
    .await;
}

#[tokio::test]
async fn an_adapter_reads_a_conversations_deadlines_to_tell_the_customer() {
    on_both_stores(|app| async move {
        let r = app
            .ingest(&message("email", None, "jane@x.io", "my order"))
            .await;
        let conv = r["conversation_id"].as_str().unwrap_or_default().to_owned();
        let path = format!("/v1/conversations/{conv}/deadlines");
        let read = |app: &TestApp, path: String| {
            app.client
                .get(format!("{}{path}", app.address))
                .bearer_auth(crate::helpers::ADAPTER_TOKEN)
                .send()
        };
        let due = read(&app, path.clone()).await.expect("sent");
        assert_eq!(due.status(), 200);
        let due: Value = due.json().await.expect("json");
        let first: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(due["first_response_due"].clone()).expect("a time");
        let resolution: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(due["resolution_due"].clone()).expect("a time");
        assert!(
            first > chrono::Utc::now() && resolution > chrono::Utc::now(),
            "{due}"
        );
        let view = app.admin_json(&format!("/v1/conversations/{conv}")).await;
        assert_eq!(view["deadlines"], due, "the read model shows the same");
        app.admin_post(&format!("/v1/conversations/{conv}/resolve"), &json!({}))
            .await;
        assert_eq!(read(&app, path).await.expect("sent").status(), 404);
    })
    .await;
}

#[tokio::test]
async fn a_follow_up_is_scheduled_by_the_first_resolution_and_set_or_cancelled_by_staff() {
    on_both_stores(|app| async move {
        app.agent_online("a").await;
        let r = app.ingest(&message("chat", None, "visitor-7", "hi")).await;
        let conv = r["conversation_id"].as_str().unwrap_or_default().to_owned();
        let cid = r["customer_id"].as_str().unwrap_or_default().to_owned();
        app.admin_post(&format!("/v1/conversations/{conv}/resolve"), &json!({}))
            .await;
        let customer = app.admin_json(&format!("/v1/customers/{cid}")).await;
        let due: chrono::DateTime<chrono::Utc> =
            serde_json::from_value(customer["follow_up_due"].clone()).expect("scheduled");
        let in_a_month = chrono::Utc::now() + chrono::Duration::days(30);
        assert!((due - in_a_month).num_seconds().abs() < 60, "{due}");

        let path = format!("/v1/customers/{cid}/follow-up");
        let when = json!({ "due_at": "2027-01-15T10:00:00Z" });
        let set = app.agent_put("a", &path, &when).await;
        assert_eq!(set.status(), 200);
        let customer = app.admin_json(&format!("/v1/customers/{cid}")).await;
        assert_eq!(customer["follow_up_due"], "2027-01-15T10:00:00Z");
        let cancel = || {
            app.client
                .delete(format!("{}{path}", app.address))
                .bearer_auth(crate::helpers::ADMIN_TOKEN)
                .send()
        };
        assert_eq!(cancel().await.expect("sent").status(), 204);
        assert_eq!(cancel().await.expect("sent").status(), 404, "nothing left");
        let unknown = "/v1/customers/00000000000000000000000000000000/follow-up";
        assert_eq!(app.admin_put(unknown, &when).await.status(), 404);
        assert_eq!(
            app.admin_put(&path, &json!({ "due_at": "soon" }))
                .await
                .status(),
            400
        );
    })
    .await;
}
