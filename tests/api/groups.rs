//! Routing groups (CONTRACT "Routing groups") on all three stores: agents serve only
//! their group, a customer belongs to their personal agent's group, queues and gauges
//! per group, moves of agents, and transfers across groups that move the conversation,
//! the capacity and the events exactly once.

use serde_json::json;
use switchboard::domain::{Channel, Decision, Presence, Queue, Receipt, RouteReason};
use switchboard::store::{EventKind, ResolveOutcome, StoreError, TransferOutcome, TransferTarget};

use crate::helpers::{agent_id as id, ext, group_profile, inbound, t0, Harness};

both_stores!(
    an_agent_serves_only_the_conversations_of_their_group,
    a_customer_stays_in_their_personal_agents_group,
    a_group_without_agents_queues_its_customers_and_the_gauges_sum_the_groups,
    only_an_idle_agent_moves_to_another_group,
    a_cross_group_transfer_moves_conversation_capacity_and_events_once,
);

async fn online(h: &Harness, agent: &str, group: &str) {
    h.store
        .put_agent(&group_profile(agent, group), t0())
        .await
        .expect("put agent");
    h.store
        .set_presence(&id(agent), Presence::Online, t0())
        .await
        .expect("presence")
        .expect("known");
}

async fn chat(h: &Harness, from: &str, group: Option<&str>) -> Receipt {
    let body = json!({ "channel": "chat", "external_id": ext(), "from": from, "text": "hi", "group": group });
    h.store.ingest(&inbound(body), t0()).await.expect("ingest")
}

async fn load(h: &Harness, agent: &str) -> u32 {
    let view = h
        .store
        .agent(&id(agent))
        .await
        .expect("read")
        .expect("agent");
    view.load.get("chat").copied().unwrap_or(0)
}

fn assigned(r: &Receipt, agent: &str) {
    assert_eq!(r.route.decision, Decision::Assigned, "{r:?}");
    assert_eq!(r.route.agent_id.as_deref(), Some(agent), "{r:?}");
}

async fn an_agent_serves_only_the_conversations_of_their_group(h: Harness) {
    online(&h, "ann", "default").await;
    online(&h, "sam", "sales").await;
    let sales = chat(&h, "visitor-1", Some("sales")).await;
    assigned(&sales, "sam");
    assert_eq!(sales.route.reason, RouteReason::NewPersonalAgent);
    let plain = chat(&h, "visitor-2", None).await;
    assigned(&plain, "ann");
    let sam = h.store.agent(&id("sam")).await.expect("read").expect("sam");
    assert_eq!(sam.group.as_str(), "sales");
    assert_eq!(sam.portfolio, 1);
    let all: Vec<String> = h
        .store
        .agents()
        .await
        .expect("list")
        .into_iter()
        .map(|a| format!("{}@{}", a.id, a.group))
        .collect();
    assert_eq!(all, ["ann@default", "sam@sales"]);
}

async fn a_customer_stays_in_their_personal_agents_group(h: Harness) {
    online(&h, "ann", "default").await;
    online(&h, "sam", "sales").await;
    let first = chat(&h, "visitor-1", Some("sales")).await;
    assigned(&first, "sam");
    let resolved = h
        .store
        .resolve(&first.conversation_id, t0())
        .await
        .expect("resolve");
    assert!(matches!(resolved, ResolveOutcome::Resolved(_)));
    // Reopened through another inbox: still their own agent, in their group.
    let again = chat(&h, "visitor-1", Some("support")).await;
    assigned(&again, "sam");
    assert_eq!(again.route.reason, RouteReason::PersonalAgent);
    let customer = h
        .store
        .customer(&first.customer_id)
        .await
        .expect("read")
        .expect("customer");
    assert_eq!(customer.personal_agent_id.as_deref(), Some("sam"));
}

async fn a_group_without_agents_queues_its_customers_and_the_gauges_sum_the_groups(h: Harness) {
    online(&h, "ann", "default").await;
    let billing = chat(&h, "visitor-1", Some("billing")).await;
    assert_eq!(billing.route.decision, Decision::Queued, "{billing:?}");
    assert_eq!(
        load(&h, "ann").await,
        0,
        "another group's agent never takes it"
    );
    h.store
        .put_agent(&group_profile("bob", "billing"), t0())
        .await
        .expect("put");
    let sales = chat(&h, "visitor-2", Some("sales")).await;
    assert_eq!(sales.route.decision, Decision::Queued, "{sales:?}");
    let snapshot = h.store.snapshot().await.expect("snapshot");
    let chat_depth = |queues: &[switchboard::store::QueueStat]| {
        queues
            .iter()
            .find(|q| q.queue == Queue::Channel(Channel::Chat))
            .map_or(0, |q| q.depth)
    };
    assert_eq!(chat_depth(&snapshot.queues), 2, "{snapshot:?}");
    let by_group = |g: &str| chat_depth(&snapshot.by_group[&g.parse().expect("group")]);
    assert_eq!(
        (by_group("billing"), by_group("sales")),
        (1, 1),
        "{snapshot:?}"
    );
    assert_eq!((snapshot.online, snapshot.offline), (1, 1), "{snapshot:?}");
    let drained = h
        .store
        .set_presence(&id("bob"), Presence::Online, t0())
        .await
        .expect("presence")
        .expect("known");
    let taken: Vec<_> = drained.iter().map(|a| a.conversation_id.clone()).collect();
    assert_eq!(taken, vec![billing.conversation_id]);
}

async fn only_an_idle_agent_moves_to_another_group(h: Harness) {
    online(&h, "ann", "default").await;
    assigned(&chat(&h, "visitor-1", None).await, "ann");
    let refused = h
        .store
        .put_agent(&group_profile("ann", "sales"), t0())
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let ann = h.store.agent(&id("ann")).await.expect("read").expect("ann");
    assert_eq!((ann.group.as_str(), ann.portfolio), ("default", 1));

    h.store
        .put_agent(&group_profile("zed", "default"), t0())
        .await
        .expect("put");
    let moved = h
        .store
        .put_agent(&group_profile("zed", "sales"), t0())
        .await
        .expect("move");
    assert!(!moved.created, "a move is an update");
    assert_eq!(moved.view.group.as_str(), "sales");
    h.store
        .set_presence(&id("zed"), Presence::Online, t0())
        .await
        .expect("presence")
        .expect("known");
    assigned(&chat(&h, "visitor-2", Some("sales")).await, "zed");
    // Nothing of zed is left behind in the default group.
    assigned(&chat(&h, "visitor-3", None).await, "ann");
    let snapshot = h.store.snapshot().await.expect("snapshot");
    assert_eq!(snapshot.online, 2, "{snapshot:?}");
}

async fn a_cross_group_transfer_moves_conversation_capacity_and_events_once(h: Harness) {
    online(&h, "ann", "default").await;
    online(&h, "sam", "sales").await;
    let r = chat(&h, "visitor-1", None).await;
    assigned(&r, "ann");
    let conv = r.conversation_id.clone();
    let outcome = h
        .store
        .transfer(&conv, &TransferTarget::Agent(id("sam")), None, t0())
        .await
        .expect("transfer");
    let TransferOutcome::Transferred {
        route, transfers, ..
    } = outcome
    else {
        panic!("not transferred: {outcome:?}");
    };
    assert_eq!(route.agent_id.as_deref(), Some("sam"));
    assert_eq!(transfers, 1);
    assert_eq!((load(&h, "ann").await, load(&h, "sam").await), (0, 1));
    let events = h
        .store
        .agent_events(&id("sam"), "0-0", 100)
        .await
        .expect("events");
    let transferred: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::ConversationTransferred && e.conversation_id == conv)
        .collect();
    assert_eq!(transferred.len(), 1, "{events:?}");
    // The customer writes again: it is sam's, with no new routing.
    let next = chat(&h, "visitor-1", None).await;
    assigned(&next, "sam");
    assert_eq!(next.route.reason, RouteReason::AlreadyAssigned);
    let view = h
        .store
        .conversation(&conv)
        .await
        .expect("read")
        .expect("conv");
    assert_eq!(view.agent_id.as_deref(), Some("sam"));
    // Resolving frees sam's unit, in sales.
    h.store.resolve(&conv, t0()).await.expect("resolve");
    assert_eq!((load(&h, "ann").await, load(&h, "sam").await), (0, 0));
    // To a full or offline agent of another group: refused, nothing moves.
    let r2 = chat(&h, "visitor-2", None).await;
    assigned(&r2, "ann");
    h.store
        .set_presence(&id("sam"), Presence::Offline, t0())
        .await
        .expect("presence");
    let refused = h
        .store
        .transfer(
            &r2.conversation_id,
            &TransferTarget::Agent(id("sam")),
            None,
            t0(),
        )
        .await
        .expect("transfer");
    assert!(
        matches!(refused, TransferOutcome::AgentUnavailable),
        "{refused:?}"
    );
    assert_eq!(load(&h, "ann").await, 1);
}
