//! A portfolio counts the customers whose personal agent the agent is: when two customers
//! turn out to be one person and merge, the count follows (the losing agent's drops, the
//! winner counts the one customer once), on every store.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use switchboard::domain::{AgentId, AgentProfile, Capacity, CustomerId, Presence};

use crate::helpers::{ext, inbound, Harness};

both_stores!(
    two_customers_of_one_agent_merged_count_once_in_their_portfolio,
    a_merge_takes_the_customer_out_of_the_losing_agents_portfolio,
);

fn t0() -> DateTime<Utc> {
    "2026-11-22T10:00:00Z".parse().expect("time")
}

fn id(s: &str) -> AgentId {
    s.parse().expect("agent id")
}

async fn online(h: &Harness, agent: &str) {
    let profile =
        AgentProfile::new(id(agent), agent.into(), vec![], Capacity::default()).expect("profile");
    h.store.put_agent(&profile, t0()).await.expect("put agent");
    h.store
        .set_presence(&id(agent), Presence::Online, t0())
        .await
        .expect("presence")
        .expect("known");
}

async fn portfolio(h: &Harness, agent: &str) -> u64 {
    let view = h
        .store
        .agent(&id(agent))
        .await
        .expect("read")
        .expect("agent");
    view.portfolio
}

/// A first e-mail from `from`; answers the customer and their personal agent.
async fn first_mail(h: &Harness, from: &str, at: DateTime<Utc>) -> (CustomerId, String) {
    let body = json!({ "channel": "email", "network": null, "external_id": ext(), "from": from, "text": "hi" });
    let r = h.store.ingest(&inbound(body), at).await.expect("ingest");
    (r.customer_id, r.route.agent_id.expect("assigned"))
}

/// A message from `from` that also names `other`: the two customers are one person.
async fn proof(h: &Harness, from: &str, other: &str, at: DateTime<Utc>) -> CustomerId {
    let body = json!({ "channel": "email", "network": null, "external_id": ext(), "from": from,
        "identities": [{ "kind": "email", "value": other }], "text": "it's me" });
    h.store
        .ingest(&inbound(body), at)
        .await
        .expect("ingest")
        .customer_id
}

async fn two_customers_of_one_agent_merged_count_once_in_their_portfolio(h: Harness) {
    online(&h, "a").await;
    let (older, a1) = first_mail(&h, "home@x.io", t0()).await;
    let (_, a2) = first_mail(&h, "work@x.io", t0() + Duration::seconds(1)).await;
    assert_eq!((a1.as_str(), a2.as_str()), ("a", "a"));
    assert_eq!(portfolio(&h, "a").await, 2);
    let survivor = proof(&h, "work@x.io", "home@x.io", t0() + Duration::seconds(2)).await;
    assert_eq!(survivor, older, "merged into the older");
    assert_eq!(portfolio(&h, "a").await, 1, "one person, counted once");
}

async fn a_merge_takes_the_customer_out_of_the_losing_agents_portfolio(h: Harness) {
    online(&h, "a").await;
    online(&h, "b").await;
    let (_, first) = first_mail(&h, "home@x.io", t0()).await;
    let (_, second) = first_mail(&h, "work@x.io", t0() + Duration::seconds(1)).await;
    assert_ne!(first, second, "the smallest portfolio takes the second");
    assert_eq!(
        (portfolio(&h, &first).await, portfolio(&h, &second).await),
        (1, 1)
    );
    proof(&h, "work@x.io", "home@x.io", t0() + Duration::seconds(2)).await;
    // The survivor (the older) keeps their personal agent; the other no longer counts them.
    assert_eq!(portfolio(&h, &first).await, 1);
    assert_eq!(portfolio(&h, &second).await, 0);
    // A retried proof changes nothing more.
    proof(&h, "work@x.io", "home@x.io", t0() + Duration::seconds(3)).await;
    assert_eq!(
        (portfolio(&h, &first).await, portfolio(&h, &second).await),
        (1, 0)
    );
}
