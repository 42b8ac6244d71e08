//! What the desk and the wall read, over HTTP on both stores: an agent's list of the
//! conversations they hold, the floor, and what a supervisor's token may and may not do.

use serde_json::{json, Value};

use crate::helpers::{
    agent_jwt, message, on_both_stores, spawn_app, test_settings, TestApp, AGENT_JWT_SECRET,
};

fn supervisor_jwt(agent: &str) -> String {
    let id = agent.parse().expect("agent id");
    let hour = std::time::Duration::from_secs(3600);
    switchboard::http::auth::agent_token(AGENT_JWT_SECRET, &id, true, hour).expect("jwt")
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app
        .client
        .request(method, format!("{}{path}", app.address))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("sent")
}

async fn json_of(r: reqwest::Response) -> Value {
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.expect("json")
}

fn conversation_of(receipt: &Value) -> String {
    receipt["conversation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn an_agents_list_is_what_they_hold_newest_first_with_what_waits_for_an_answer() {
    on_both_stores(|app| async move {
        app.agent_online("a").await;
        let jane = app.ingest(&message("chat", None, "visitor-1", "hi")).await;
        let omar = app
            .ingest(&message("email", None, "omar@example.com", "hello"))
            .await;
        app.ingest(&message("chat", None, "visitor-1", "still there?"))
            .await;
        let (jane, omar) = (conversation_of(&jane), conversation_of(&omar));
        let list = json_of(app.agent_get("a", "/v1/agents/a/conversations").await).await;
        let ids: Vec<&str> = list
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|i| i["conversation_id"].as_str())
            .collect();
        assert_eq!(ids, [jane.as_str(), omar.as_str()], "newest activity first");
        assert_eq!(list[0]["unread"], 2);
        assert_eq!(list[0]["preview"], "still there?");
        assert_eq!(list[1]["unread"], 1);
        assert_eq!(list[0]["covering"], false);

        let token = agent_jwt("a");
        let reply = json!({ "text": "Here!" });
        let path = format!("/v1/conversations/{jane}/messages");
        let r = call(&app, reqwest::Method::POST, &token, &path, Some(reply)).await;
        assert_eq!(r.status(), 201);
        let path = format!("/v1/conversations/{omar}/resolve");
        let r = call(&app, reqwest::Method::POST, &token, &path, None).await;
        assert_eq!(r.status(), 200);
        let list = json_of(app.agent_get("a", "/v1/agents/a/conversations").await).await;
        assert_eq!(
            list.as_array().map(Vec::len),
            Some(1),
            "resolved ones leave"
        );
        assert_eq!(list[0]["unread"], 0, "answered");

        app.admin_put("/v1/agents/b", &json!({ "name": "b" })).await;
        let other = app.agent_get("b", "/v1/agents/a/conversations").await;
        assert_eq!(
            other.status(),
            403,
            "another agent's list is not theirs to read"
        );
        let missing = app.admin_get("/v1/agents/nobody/conversations").await;
        assert_eq!(missing.status(), 404);
    })
    .await;
}

#[tokio::test]
async fn a_supervisor_watches_the_floor_and_works_its_queue_but_is_no_admin() {
    on_both_stores(|app| async move {
        // Nobody online: the complaint waits in the supervisor queue.
        let r = app
            .ingest(&message("chat", None, "visitor-9", "third time"))
            .await;
        let conv = conversation_of(&r);
        let customer = r["customer_id"].as_str().unwrap_or_default().to_owned();
        let complained = app
            .admin_post(
                &format!("/v1/customers/{customer}/complaints"),
                &json!({ "text": "nobody answers", "channel": "chat" }),
            )
            .await;
        assert!(complained.status().is_success());
        let sue = supervisor_jwt("sue");
        let get = reqwest::Method::GET;
        for agent in ["a", "sue"] {
            app.admin_put(&format!("/v1/agents/{agent}"), &json!({ "name": agent }))
                .await;
        }

        let plain = call(&app, get.clone(), &agent_jwt("a"), "/v1/floor", None).await;
        assert_eq!(plain.status(), 403, "a plain agent does not see the floor");
        let floor = json_of(call(&app, get.clone(), &sue, "/v1/floor", None).await).await;
        let supervisor = floor["queues"]
            .as_array()
            .and_then(|q| q.iter().find(|q| q["queue"] == "supervisor"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(supervisor["depth"], 1);
        assert_eq!(
            floor["open_complaints"][0]["conversation_id"],
            conv.as_str()
        );
        assert_eq!(
            floor["waiting_longest"][0]["conversation_id"],
            conv.as_str()
        );

        let path = format!("/v1/conversations/{conv}");
        let read = call(&app, get.clone(), &sue, &path, None).await;
        assert_eq!(read.status(), 200, "supervisors read every conversation");
        let hidden = call(&app, get.clone(), &agent_jwt("a"), &path, None).await;
        assert_eq!(hidden.status(), 404);
        for path in ["/v1/agents", "/v1/queues/supervisor"] {
            let r = call(&app, get.clone(), &sue, path, None).await;
            assert_eq!(r.status(), 200, "{path}");
        }
        let put = call(
            &app,
            reqwest::Method::PUT,
            &sue,
            "/v1/agents/sue",
            Some(json!({ "name": "Sue" })),
        )
        .await;
        assert_eq!(put.status(), 403, "no admin rights");

        // Working the supervisor queue: Sue hands the complaint to an agent.
        app.agent_online("a").await;
        let path = format!("/v1/conversations/{conv}/transfer");
        let to_a = json!({ "to_agent": "a", "note": "handle with care" });
        let moved = call(&app, reqwest::Method::POST, &sue, &path, Some(to_a)).await;
        assert_eq!(moved.status(), 200);
        let list = json_of(app.agent_get("a", "/v1/agents/a/conversations").await).await;
        assert_eq!(list[0]["conversation_id"], conv.as_str());
        // Now it is Ann's: the supervisor may read it, no longer act on it.
        let again = json!({ "to_queue": "chat" });
        let refused = call(&app, reqwest::Method::POST, &sue, &path, Some(again)).await;
        assert_eq!(refused.status(), 404);
        let read = call(&app, get, &sue, "/v1/agents/a/conversations", None).await;
        assert_eq!(read.status(), 200, "supervisors read any agent's list");
    })
    .await;
}

#[tokio::test]
async fn a_call_record_says_how_long_the_menu_and_the_call_took_to_whoever_may_read_it() {
    on_both_stores(|app| async move {
        app.agent_online("a").await;
        let call =
            json!({ "external_id": "CA-menu-1", "from": "+442079460000", "to": "+18005550199" });
        let first = json_of(app.adapter_post("/v1/calls", &call).await).await;
        assert_eq!(first["decision"], "ivr", "a stranger meets the menu");
        for event in ["agent_requested", "answered", "hung_up"] {
            let path = "/v1/calls/CA-menu-1/events";
            let r = app.adapter_post(path, &json!({ "event": event })).await;
            assert_eq!(r.status(), 200, "{event}");
        }
        let read = json_of(app.agent_get("a", "/v1/calls/CA-menu-1").await).await;
        let at = |field: &str| -> chrono::DateTime<chrono::Utc> {
            read[field]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("{field} in {read}"))
        };
        assert!(at("menu_entered_at") <= at("menu_left_at"));
        assert!(at("menu_left_at") <= at("answered_at"));
        assert!(at("answered_at") <= at("ended_at"));
        // Tokens must name an agent that exists: b does, but serves nobody here.
        app.admin_put("/v1/agents/b", &json!({ "name": "b" })).await;
        let other = app.agent_get("b", "/v1/calls/CA-menu-1").await;
        assert_eq!(other.status(), 404, "not a conversation b may read");
        assert_eq!(app.admin_get("/v1/calls/CA-menu-1").await.status(), 200);
        assert_eq!(app.admin_get("/v1/calls/CA-nope").await.status(), 404);
    })
    .await;
}

#[tokio::test]
async fn the_desk_pages_are_served_with_a_strict_policy_and_answer_only_get() {
    let app = spawn_app(test_settings(None, &[])).await;
    for path in ["/desk", "/desk/supervisor", "/desk/assets/desk.js"] {
        let page = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("get");
        assert_eq!(page.status(), 200, "{path}");
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap_or_default();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        let post = app
            .client
            .post(format!("{}{path}", app.address))
            .send()
            .await
            .expect("post");
        assert_eq!(post.status(), 405, "{path}");
        assert_eq!(post.headers()["allow"], "GET");
    }
    let missing = app.admin_get("/desk/assets/nope.js").await;
    assert_eq!(missing.status(), 404);
}
