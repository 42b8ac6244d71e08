//! A portfolio counts the customers whose personal agent the agent is: when two customers
//! turn out to be one person and merge, the count follows (the losing agent's drops, the
//! winner counts the one customer once), on every store.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use switchboard::domain::{AgentProfile, Capacity, CustomerId, Presence, RouteReason};

use crate::helpers::{agent_id as id, ext, inbound, t0, Harness};

both_stores!(
    two_customers_of_one_agent_merged_count_once_in_their_portfolio,
    a_merge_takes_the_customer_out_of_the_losing_agents_portfolio,
    an_agent_created_again_is_a_stranger_even_to_customers_who_did_not_write_between,
    a_merge_never_counts_out_a_customer_of_an_agents_earlier_life,
);

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
    (
        r.customer_id,
        r.route.agent_id.expect("assigned").to_string(),
    )
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

async fn personal_agent(h: &Harness, customer: &CustomerId) -> Option<String> {
    let view = h.store.customer(customer).await.expect("read");
    view.expect("customer")
        .personal_agent_id
        .map(|a| a.to_string())
}

async fn recreate(h: &Harness, agent: &str, at: DateTime<Utc>) {
    h.store.delete_agent(&id(agent), at).await.expect("delete");
    online(h, agent).await;
}

/// Removed and created again under the same id before their old customer writes: a new
/// person, whom nothing but the id links to the customer (the stores used to find the id
/// alive again and hand the customer back, counted in nobody's portfolio).
async fn an_agent_created_again_is_a_stranger_even_to_customers_who_did_not_write_between(
    h: Harness,
) {
    online(&h, "a").await;
    let (customer, _) = first_mail(&h, "home@x.io", t0()).await;
    let open = h.store.customer(&customer).await.expect("read").expect("c");
    let conv = open.open_conversation_id.expect("open");
    h.store.resolve(&conv, t0()).await.expect("resolve");
    recreate(&h, "a", t0() + Duration::seconds(1)).await;
    assert_eq!(personal_agent(&h, &customer).await, None);
    assert_eq!(portfolio(&h, "a").await, 0);
    let body = json!({ "channel": "email", "network": null, "external_id": ext(),
        "from": "home@x.io", "text": "again" });
    let again = h
        .store
        .ingest(&inbound(body), t0() + Duration::seconds(2))
        .await
        .expect("ingest");
    assert_eq!(
        again.route.reason,
        RouteReason::NewPersonalAgent,
        "{again:?}"
    );
    assert_eq!(personal_agent(&h, &customer).await.as_deref(), Some("a"));
    assert_eq!(portfolio(&h, "a").await, 1);
}

/// A merged customer whose personal agent was removed and created again since was never
/// in the new life's portfolio, so the merge takes nothing out of it.
async fn a_merge_never_counts_out_a_customer_of_an_agents_earlier_life(h: Harness) {
    online(&h, "a").await;
    online(&h, "b").await;
    let (_, first) = first_mail(&h, "home@x.io", t0()).await;
    let (_, second) = first_mail(&h, "work@x.io", t0() + Duration::seconds(1)).await;
    assert_eq!((first.as_str(), second.as_str()), ("a", "b"));
    recreate(&h, "b", t0() + Duration::seconds(2)).await;
    let (_, third) = first_mail(&h, "third@x.io", t0() + Duration::seconds(3)).await;
    assert_eq!(third, "b", "the new b has the smallest portfolio");
    assert_eq!(portfolio(&h, "b").await, 1);
    proof(&h, "work@x.io", "home@x.io", t0() + Duration::seconds(4)).await;
    assert_eq!(portfolio(&h, "b").await, 1, "third@ is still b's");
    assert_eq!(portfolio(&h, "a").await, 1);
}
