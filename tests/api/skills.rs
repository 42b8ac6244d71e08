//! Languages and skills (CONTRACT "Routing groups, languages and skills"), on every
//! store: who becomes the personal agent, who covers a conversation its owner does not
//! fit, how requirements relax over time, and which queued work a freed agent takes.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use switchboard::domain::{
    AgentProfile, Capacity, Decision, Presence, Receipt, Requirements, RouteReason, Skills,
};
use switchboard::routing::Fit;

use crate::helpers::{
    agent_id as id, ext, inbound, message, spawn_app, t0, test_settings, Harness,
};

both_stores!(
    a_spanish_speaking_new_customer_gets_a_spanish_speaking_personal_agent,
    a_conversation_needing_more_skill_than_its_owner_has_goes_to_a_fitting_colleague,
    requirements_relax_to_any_level_then_to_anyone,
    a_freed_agent_passes_over_queued_work_they_do_not_fit,
    an_admin_setting_requirements_sends_a_queued_conversation_to_a_fitting_agent,
);

/// An agent with chat capacity 3, these languages and skills, online (or not).
async fn agent(h: &Harness, name: &str, languages: &[&str], skills: Value, online: bool) {
    let skills: Skills = serde_json::from_value(skills).expect("skills");
    let languages: Vec<String> = languages.iter().map(|l| l.to_string()).collect();
    let profile = AgentProfile::new(id(name), name.into(), vec![], Capacity::default())
        .expect("profile")
        .with_skills(skills, &languages)
        .expect("skills");
    h.store.put_agent(&profile, t0()).await.expect("put");
    if online {
        h.store
            .set_presence(&id(name), Presence::Online, t0())
            .await
            .expect("presence")
            .expect("known");
    }
}

/// A chat message, with whatever routing fields `extra` adds.
async fn chat(h: &Harness, from: &str, extra: Value, at: DateTime<Utc>) -> Receipt {
    let mut body = json!({ "channel": "chat", "external_id": ext(), "from": from, "text": "hola" });
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    h.store.ingest(&inbound(body), at).await.expect("ingest")
}

fn assigned_to(r: &Receipt, agent: &str, reason: RouteReason) {
    assert_eq!(r.route.decision, Decision::Assigned, "{r:?}");
    assert_eq!(r.route.agent_id.as_deref(), Some(agent), "{r:?}");
    assert_eq!(r.route.reason, reason, "{r:?}");
}

async fn resolve(h: &Harness, r: &Receipt) {
    h.store
        .resolve(&r.conversation_id, t0())
        .await
        .expect("resolve");
}

async fn agent_of(h: &Harness, r: &Receipt) -> Option<String> {
    let conv = h
        .store
        .conversation(&r.conversation_id)
        .await
        .expect("read");
    conv.expect("conversation").agent_id.map(|a| a.to_string())
}

async fn personal_agent_of(h: &Harness, r: &Receipt) -> Option<String> {
    let customer = h.store.customer(&r.customer_id).await.expect("read");
    customer
        .expect("customer")
        .personal_agent_id
        .map(|a| a.to_string())
}

async fn a_spanish_speaking_new_customer_gets_a_spanish_speaking_personal_agent(h: Harness) {
    agent(&h, "ann", &["en"], json!({}), true).await;
    agent(&h, "sofia", &["es", "en"], json!({}), true).await;
    // Sofia already manages someone: by portfolio alone Ann would be chosen.
    let other = chat(&h, "someone", json!({}), t0()).await;
    assigned_to(&other, "ann", RouteReason::NewPersonalAgent);
    let busy = chat(&h, "someone-else", json!({}), t0()).await;
    assigned_to(&busy, "sofia", RouteReason::NewPersonalAgent);

    let first = chat(&h, "maria", json!({"language": "es-MX"}), t0()).await;
    assigned_to(&first, "sofia", RouteReason::NewPersonalAgent);
    assert_eq!(
        personal_agent_of(&h, &first).await.as_deref(),
        Some("sofia")
    );
    resolve(&h, &first).await;

    // Days later, from a channel that does not know her language: she is remembered as
    // a Spanish speaker, and her own agent (who fits) takes her again.
    let later = t0() + Duration::days(5);
    let next = chat(&h, "maria", json!({}), later).await;
    assert_ne!(next.conversation_id, first.conversation_id);
    assigned_to(&next, "sofia", RouteReason::PersonalAgent);
}

async fn a_conversation_needing_more_skill_than_its_owner_has_goes_to_a_fitting_colleague(
    h: Harness,
) {
    agent(&h, "ann", &[], json!({"billing": 1}), true).await;
    let first = chat(&h, "v-1", json!({}), t0()).await;
    assigned_to(&first, "ann", RouteReason::NewPersonalAgent);
    resolve(&h, &first).await;
    agent(&h, "bob", &[], json!({"billing": 4, "refunds": 2}), true).await;

    let later = t0() + Duration::days(5);
    let dispute = chat(&h, "v-1", json!({"skills": {"billing": 3}}), later).await;
    assigned_to(&dispute, "bob", RouteReason::Fallback);
    assert_eq!(
        personal_agent_of(&h, &dispute).await.as_deref(),
        Some("ann"),
        "the owner stays the owner"
    );
    let told = h
        .store
        .agent_events(&id("ann"), "0-0", 100)
        .await
        .expect("events");
    let covered = told.last().expect("an event");
    assert_eq!(
        covered.kind,
        switchboard::routing::EventKind::ConversationCovered
    );
    assert_eq!(covered.conversation_id, dispute.conversation_id);
    assert_eq!(covered.other_agent.as_deref(), Some("bob"));
}

async fn requirements_relax_to_any_level_then_to_anyone(h: Harness) {
    // Chat relaxes to any level after 60 s and to anyone after 180 s (the defaults).
    agent(&h, "ann", &[], json!({}), true).await;
    let first = chat(&h, "v-1", json!({}), t0()).await;
    assigned_to(&first, "ann", RouteReason::NewPersonalAgent);
    resolve(&h, &first).await;
    agent(&h, "cat", &[], json!({"billing": 1}), false).await;

    let asked = chat(&h, "v-1", json!({"skills": {"billing": 3}}), t0()).await;
    assert_eq!(asked.route.decision, Decision::Queued, "{asked:?}");
    assert_eq!(asked.route.reason, RouteReason::NoAgentAvailable);
    let fire = |secs| h.store.fire_timers(t0() + Duration::seconds(secs));
    assert!(fire(59).await.expect("timers").is_empty());
    // Any level of billing: Cat (billing 1) would fit, but she is offline.
    assert!(
        fire(61).await.expect("timers").is_empty(),
        "nobody fits yet"
    );
    // Anyone: Ann, the customer's own agent, who has no billing at all.
    let made = fire(181).await.expect("timers");
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].agent_id.as_str(), "ann");
    assert_eq!(made[0].reason, RouteReason::PersonalAgent);
    assert_eq!(made[0].fit, Fit::Unmet);
    assert!(fire(400).await.expect("timers").is_empty(), "relaxed once");

    // A new customer becomes Cat's (the smaller portfolio), later asks for billing 3:
    // Cat's billing 1 is not enough at first, and is once any level will do.
    h.store
        .set_presence(&id("cat"), Presence::Online, t0())
        .await
        .expect("presence")
        .expect("known");
    let second = chat(&h, "v-2", json!({}), t0()).await;
    assigned_to(&second, "cat", RouteReason::NewPersonalAgent);
    resolve(&h, &second).await;
    let start = t0() + Duration::seconds(1000);
    let asked = chat(&h, "v-2", json!({"skills": {"billing": 3}}), start).await;
    assert_eq!(asked.route.decision, Decision::Queued, "{asked:?}");
    let made = h
        .store
        .fire_timers(start + Duration::seconds(61))
        .await
        .expect("timers");
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].agent_id.as_str(), "cat");
    assert_eq!(made[0].reason, RouteReason::PersonalAgent);
    assert_eq!(made[0].fit, Fit::Relaxed);
}

async fn a_freed_agent_passes_over_queued_work_they_do_not_fit(h: Harness) {
    let spanish = chat(&h, "maria", json!({"language": "es"}), t0()).await;
    let anyone = chat(&h, "john", json!({}), t0() + Duration::seconds(1)).await;
    for r in [&spanish, &anyone] {
        assert_eq!(r.route.reason, RouteReason::NoAgentAvailable, "{r:?}");
    }
    agent(&h, "ann", &["en"], json!({}), true).await;
    let john = agent_of(&h, &anyone).await;
    assert_eq!(john.as_deref(), Some("ann"), "the next one she fits");
    assert_eq!(
        agent_of(&h, &spanish).await,
        None,
        "Maria waits for a Spanish speaker"
    );
    agent(&h, "sofia", &["es"], json!({}), true).await;
    assert_eq!(agent_of(&h, &spanish).await.as_deref(), Some("sofia"));
    assert_eq!(
        personal_agent_of(&h, &spanish).await.as_deref(),
        Some("sofia")
    );
}

async fn an_admin_setting_requirements_sends_a_queued_conversation_to_a_fitting_agent(h: Harness) {
    agent(&h, "ann", &[], json!({}), true).await;
    agent(&h, "bob", &[], json!({"billing": 3}), true).await;
    let first = chat(&h, "v-1", json!({}), t0()).await;
    assigned_to(&first, "ann", RouteReason::NewPersonalAgent);
    resolve(&h, &first).await;
    let asked = chat(&h, "v-1", json!({"skills": {"billing": 5}}), t0()).await;
    assert_eq!(
        asked.route.reason,
        RouteReason::NoAgentAvailable,
        "{asked:?}"
    );
    let needs = skills(json!({"billing": 3}));
    let made = h
        .store
        .set_requirements(&asked.conversation_id, &needs, t0())
        .await
        .expect("set")
        .expect("routed");
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].agent_id.as_str(), "bob");
    assert_eq!(made[0].fit, Fit::Met);
    let view = h
        .store
        .conversation(&asked.conversation_id)
        .await
        .expect("read")
        .expect("conversation");
    assert_eq!(view.needs, vec!["s:billing:3".to_owned()]);
    resolve(&h, &asked).await;
    let gone = h
        .store
        .set_requirements(&asked.conversation_id, &needs, t0())
        .await
        .expect("set");
    assert!(gone.is_none(), "a resolved conversation is not routed");
}

fn skills(levels: Value) -> Requirements {
    Requirements {
        language: None,
        skills: serde_json::from_value(levels).expect("skills"),
    }
}

#[tokio::test]
async fn requirements_are_set_over_http_by_the_holder_or_an_admin_and_checked() {
    let app = spawn_app(test_settings(None, &[])).await;
    app.agent_online("a").await;
    let r = app.ingest(&message("chat", None, "visitor-9", "hi")).await;
    let conv = r["conversation_id"].as_str().unwrap_or_default().to_owned();
    let path = format!("/v1/conversations/{conv}/requirements");
    let set = app
        .agent_put(
            "a",
            &path,
            &json!({ "language": "es-ES", "skills": { "billing": 2 } }),
        )
        .await;
    assert_eq!(set.status(), 200);
    let view: Value = set.json().await.expect("json");
    assert_eq!(view["needs"], json!(["l:es", "s:billing:2"]));
    assert_eq!(view["agent_id"], "a", "the holder keeps it");
    for bad in [
        json!({ "language": "Spanish" }),
        json!({ "skills": { "billing": 9 } }),
    ] {
        assert_eq!(app.admin_put(&path, &bad).await.status(), 400, "{bad}");
    }
    app.admin_put("/v1/agents/b", &json!({ "name": "b" })).await;
    assert_eq!(
        app.agent_put("b", &path, &json!({})).await.status(),
        404,
        "not b's conversation"
    );
    app.admin_post(&format!("/v1/conversations/{conv}/resolve"), &json!({}))
        .await;
    assert_eq!(app.admin_put(&path, &json!({})).await.status(), 409);
}
