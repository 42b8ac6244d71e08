//! Routing rules (CONTRACT rules 2-4) against both stores, and capacity under a race of
//! two replicas on one Redis.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;
use serde_json::json;
use switchboard::domain::{
    AgentProfile, Capacity, Channel, Decision, PerChannel, Presence, Queue, Receipt, RouteReason,
};
use switchboard::store::{
    RedisStore, SavedAgent, Store, StorePolicy, TransferOutcome, TransferTarget,
};

use crate::helpers::{agent_id as id, ext, inbound, t0, Harness, RedisServer};

both_stores!(
    a_first_contact_gets_a_personal_agent_and_is_assigned,
    new_customers_spread_over_the_smallest_portfolios,
    the_same_customer_on_another_channel_stays_with_their_agent,
    after_resolving_the_next_message_reaches_the_same_agent,
    with_the_personal_agent_offline_it_falls_back_and_the_owner_stays,
    a_full_personal_agent_is_waited_for_then_freed_capacity_goes_to_them,
    an_expired_sticky_wait_falls_back_to_the_least_loaded_agent,
    with_nobody_online_it_queues_and_an_agent_coming_online_drains_in_order,
    no_agent_is_ever_over_capacity,
    presence_of_an_unknown_agent_is_refused_and_profiles_update_in_place,
    transfers_move_capacity_and_the_third_goes_to_the_supervisor,
    a_transfer_to_a_full_or_offline_agent_is_refused_and_changes_nothing,
    the_first_reply_is_marked_first,
    an_agent_offline_past_the_grace_period_hands_its_conversations_back,
    removing_an_agent_reroutes_its_work_and_its_customers_get_a_new_personal_agent,
    a_retry_after_resolve_answers_the_first_real_route,
    a_removed_personal_agent_added_again_is_a_stranger_to_their_old_customers,
    a_customer_queued_overnight_gets_the_agent_who_took_them_as_personal_agent,
    with_one_agent_online_and_one_offline_the_new_customers_manager_is_the_online_one,
    with_the_smallest_portfolio_full_a_new_customer_goes_at_once_to_a_colleague_with_room,
    an_agent_an_ownerless_customer_is_transferred_to_becomes_their_personal_agent,
);

fn profile(agent: &str, chat: u32) -> AgentProfile {
    let capacity = Capacity {
        chat,
        ..Capacity::default()
    };
    AgentProfile::new(
        id(agent),
        format!("Agent {agent}"),
        vec!["support".into()],
        capacity,
    )
    .expect("profile")
}

async fn agent_online(h: &Harness, agent: &str, chat: u32) {
    h.store
        .put_agent(&profile(agent, chat), t0())
        .await
        .expect("put agent");
    h.store
        .set_presence(&id(agent), Presence::Online, t0())
        .await
        .expect("presence")
        .expect("known");
}

async fn chat(h: &Harness, from: &str, at: DateTime<Utc>) -> Receipt {
    let body = json!({ "channel": "chat", "network": null, "external_id": ext(), "from": from, "text": "hi" });
    h.store.ingest(&inbound(body), at).await.expect("ingest")
}

fn assigned_to(r: &Receipt, agent: &str, reason: RouteReason) {
    assert_eq!(r.route.decision, Decision::Assigned, "{r:?}");
    assert_eq!(r.route.agent_id.as_deref(), Some(agent), "{r:?}");
    assert_eq!(r.route.reason, reason, "{r:?}");
}

async fn load(h: &Harness, agent: &str) -> u32 {
    h.store
        .agent(&id(agent))
        .await
        .expect("read")
        .expect("agent")
        .load["chat"]
}

async fn a_first_contact_gets_a_personal_agent_and_is_assigned(h: Harness) {
    agent_online(&h, "a", 3).await;
    agent_online(&h, "b", 3).await;
    let r = chat(&h, "visitor-1", t0()).await;
    assigned_to(&r, "a", RouteReason::NewPersonalAgent);
    let customer = h
        .store
        .customer(&r.customer_id)
        .await
        .expect("read")
        .expect("customer");
    assert_eq!(customer.personal_agent_id.as_deref(), Some("a"));
    let a = h.store.agent(&id("a")).await.expect("read").expect("agent");
    assert_eq!((a.portfolio, a.load["chat"]), (1, 1));
    let conv = h
        .store
        .conversation(&r.conversation_id)
        .await
        .expect("read")
        .expect("conv");
    assert_eq!(conv.agent_id.as_deref(), Some("a"));
}

async fn new_customers_spread_over_the_smallest_portfolios(h: Harness) {
    for agent in ["a", "b", "c"] {
        agent_online(&h, agent, 5).await;
    }
    let mut owners = Vec::new();
    for i in 0..6 {
        let r = chat(&h, &format!("visitor-{i}"), t0()).await;
        owners.push(r.route.agent_id.expect("assigned"));
    }
    for agent in ["a", "b", "c"] {
        let view = h
            .store
            .agent(&id(agent))
            .await
            .expect("read")
            .expect("agent");
        assert_eq!(view.portfolio, 2, "{agent}: {owners:?}");
    }
}

async fn the_same_customer_on_another_channel_stays_with_their_agent(h: Harness) {
    agent_online(&h, "a", 3).await;
    let mut first = json!({ "channel": "chat", "external_id": ext(), "from": "v-9", "text": "hi" });
    first["identities"] = json!([{ "kind": "email", "value": "nine@x.io" }]);
    let r = h.store.ingest(&inbound(first), t0()).await.expect("ingest");
    agent_online(&h, "b", 3).await;
    let mail =
        json!({ "channel": "email", "external_id": ext(), "from": "nine@x.io", "text": "also" });
    let again = h.store.ingest(&inbound(mail), t0()).await.expect("ingest");
    assert_eq!(again.conversation_id, r.conversation_id);
    assigned_to(&again, "a", RouteReason::AlreadyAssigned);
    assert_eq!(load(&h, "a").await, 1, "one conversation, one unit");
}

async fn after_resolving_the_next_message_reaches_the_same_agent(h: Harness) {
    agent_online(&h, "a", 3).await;
    agent_online(&h, "b", 3).await;
    let r = chat(&h, "loyal", t0()).await;
    assigned_to(&r, "a", RouteReason::NewPersonalAgent);
    h.store
        .resolve(&r.conversation_id, t0())
        .await
        .expect("resolve");
    assert_eq!(load(&h, "a").await, 0, "resolving gives the unit back");
    chat(&h, "someone-else", t0()).await; // b now has a customer too
    let back = chat(&h, "loyal", t0() + Duration::days(5)).await;
    assert_ne!(
        back.conversation_id, r.conversation_id,
        "a new conversation"
    );
    assigned_to(&back, "a", RouteReason::PersonalAgent);
}

async fn with_the_personal_agent_offline_it_falls_back_and_the_owner_stays(h: Harness) {
    agent_online(&h, "a", 3).await;
    let r = chat(&h, "v-off", t0()).await;
    h.store
        .resolve(&r.conversation_id, t0())
        .await
        .expect("resolve");
    agent_online(&h, "b", 3).await;
    h.store
        .set_presence(&id("a"), Presence::Offline, t0())
        .await
        .expect("presence");
    let next = chat(&h, "v-off", t0() + Duration::days(4)).await;
    assigned_to(&next, "b", RouteReason::Fallback);
    let customer = h
        .store
        .customer(&r.customer_id)
        .await
        .expect("read")
        .expect("customer");
    assert_eq!(
        customer.personal_agent_id.as_deref(),
        Some("a"),
        "fallback never changes the owner"
    );
}

/// v-2 is a's customer (served once, resolved); then v-1 becomes a's customer too and
/// a, with room for one chat, is full. Answers v-1's receipt.
async fn customer_of_a_who_is_now_busy(h: &Harness) -> Receipt {
    let v2 = chat(h, "v-2", t0()).await;
    assigned_to(&v2, "a", RouteReason::NewPersonalAgent);
    h.store
        .resolve(&v2.conversation_id, t0())
        .await
        .expect("resolve");
    let v1 = chat(h, "v-1", t0()).await;
    assigned_to(&v1, "a", RouteReason::NewPersonalAgent);
    v1
}

async fn a_full_personal_agent_is_waited_for_then_freed_capacity_goes_to_them(h: Harness) {
    agent_online(&h, "a", 1).await;
    let first = customer_of_a_who_is_now_busy(&h).await;
    agent_online(&h, "b", 1).await;
    let waiting = chat(&h, "v-2", t0() + Duration::days(10)).await;
    assert_eq!(waiting.route.decision, Decision::Queued);
    assert_eq!(
        waiting.route.reason,
        RouteReason::WaitingForPersonalAgent,
        "b is free, but a is theirs"
    );
    h.store
        .resolve(&first.conversation_id, t0() + Duration::days(10))
        .await
        .expect("resolve");
    let conv = h
        .store
        .conversation(&waiting.conversation_id)
        .await
        .expect("read")
        .expect("conv");
    assert_eq!(
        conv.agent_id.as_deref(),
        Some("a"),
        "the freed unit went to their waiting customer"
    );
    assert_eq!(load(&h, "b").await, 0);
}

async fn an_expired_sticky_wait_falls_back_to_the_least_loaded_agent(h: Harness) {
    agent_online(&h, "a", 1).await;
    customer_of_a_who_is_now_busy(&h).await;
    let waiting = chat(&h, "v-2", t0()).await;
    assert_eq!(waiting.route.reason, RouteReason::WaitingForPersonalAgent);
    agent_online(&h, "b", 1).await;
    let early = h
        .store
        .fire_timers(t0() + Duration::seconds(59))
        .await
        .expect("timers");
    assert!(early.is_empty(), "the chat sticky wait is 60 s");
    let fired = h
        .store
        .fire_timers(t0() + Duration::seconds(61))
        .await
        .expect("timers");
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].agent_id.as_str(), "b");
    assert_eq!(fired[0].reason, RouteReason::Fallback);
    assert_eq!(fired[0].waited, Duration::seconds(61));
    assert!(
        h.store
            .fire_timers(t0() + Duration::seconds(62))
            .await
            .expect("timers")
            .is_empty(),
        "claimed once"
    );
    let conv = h
        .store
        .conversation(&waiting.conversation_id)
        .await
        .expect("read")
        .expect("conv");
    assert_eq!(conv.agent_id.as_deref(), Some("b"));
    let owner = h
        .store
        .customer(&waiting.customer_id)
        .await
        .expect("read")
        .expect("customer");
    assert_eq!(owner.personal_agent_id.as_deref(), Some("a"));
}

async fn with_nobody_online_it_queues_and_an_agent_coming_online_drains_in_order(h: Harness) {
    h.store
        .put_agent(&profile("a", 2), t0())
        .await
        .expect("put");
    let first = chat(&h, "q-1", t0()).await;
    let second = chat(&h, "q-2", t0() + Duration::seconds(1)).await;
    let third = chat(&h, "q-3", t0() + Duration::seconds(2)).await;
    for r in [&first, &second, &third] {
        assert_eq!(r.route.decision, Decision::Queued);
        assert_eq!(r.route.reason, RouteReason::NoAgentAvailable);
        assert_eq!(r.route.queue.map(|q| q.as_str()), Some("chat"));
    }
    let made = h
        .store
        .set_presence(&id("a"), Presence::Online, t0() + Duration::seconds(10))
        .await
        .expect("presence")
        .expect("known");
    let convs: Vec<_> = made.iter().map(|a| a.conversation_id.clone()).collect();
    assert_eq!(
        convs,
        vec![
            first.conversation_id.clone(),
            second.conversation_id.clone()
        ],
        "oldest first, up to capacity"
    );
    assert_eq!(made[0].waited, Duration::seconds(10));
    h.store
        .resolve(&first.conversation_id, t0() + Duration::seconds(20))
        .await
        .expect("resolve");
    let conv = h
        .store
        .conversation(&third.conversation_id)
        .await
        .expect("read")
        .expect("conv");
    assert_eq!(
        conv.agent_id.as_deref(),
        Some("a"),
        "freed capacity drains the queue at once"
    );
}

async fn no_agent_is_ever_over_capacity(h: Harness) {
    agent_online(&h, "a", 2).await;
    agent_online(&h, "b", 1).await;
    let mut receipts = Vec::new();
    for i in 0..8 {
        receipts.push(chat(&h, &format!("cap-{i}"), t0()).await);
    }
    let fired = h
        .store
        .fire_timers(t0() + Duration::minutes(5))
        .await
        .expect("timers");
    assert!(fired.is_empty(), "nobody had room");
    assert_eq!(load(&h, "a").await, 2);
    assert_eq!(load(&h, "b").await, 1);
    let assigned = receipts
        .iter()
        .filter(|r| r.route.decision == Decision::Assigned)
        .count();
    assert_eq!(assigned, 3);
}

async fn presence_of_an_unknown_agent_is_refused_and_profiles_update_in_place(h: Harness) {
    assert!(h
        .store
        .set_presence(&id("ghost"), Presence::Online, t0())
        .await
        .expect("call")
        .is_none());
    let created = h
        .store
        .put_agent(&profile("a", 1), t0())
        .await
        .expect("put")
        .created;
    assert!(created);
    h.store
        .set_presence(&id("a"), Presence::Online, t0())
        .await
        .expect("presence");
    chat(&h, "p-1", t0()).await;
    let SavedAgent { view, created, .. } = h
        .store
        .put_agent(&profile("a", 4), t0())
        .await
        .expect("put");
    assert!(!created);
    assert_eq!(view.presence, Presence::Online, "an update keeps presence");
    assert_eq!(
        (view.load["chat"], view.capacity.chat, view.portfolio),
        (1, 4, 1)
    );
    let all = h.store.agents().await.expect("list");
    assert_eq!(all.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_racing_for_a_few_slots_assign_exactly_that_many() {
    let server = RedisServer::start();
    let prefix = format!("race{}", uuid::Uuid::new_v4().simple());
    let replica = || -> Arc<dyn Store> {
        Arc::new(
            RedisStore::connect(&server.url(), &prefix, StorePolicy::default()).expect("store"),
        )
    };
    let (one, two) = (replica(), replica());
    for agent in ["a", "b"] {
        one.put_agent(&profile(agent, 3), t0()).await.expect("put");
        two.set_presence(&id(agent), Presence::Online, t0())
            .await
            .expect("presence");
    }
    let tasks = (0..40).map(|i| {
        let store = if i % 2 == 0 { one.clone() } else { two.clone() };
        tokio::spawn(async move {
            let body = json!({ "channel": "chat", "external_id": ext(), "from": format!("race-{i}"), "text": "hi" });
            store.ingest(&inbound(body), t0()).await
        })
    });
    let receipts: Vec<Receipt> = join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("task").expect("ingest"))
        .collect();
    let assigned: Vec<&Receipt> = receipts
        .iter()
        .filter(|r| r.route.decision == Decision::Assigned)
        .collect();
    assert_eq!(assigned.len(), 6, "2 agents x 3 chat slots");
    let convs: HashSet<_> = assigned.iter().map(|r| r.conversation_id.clone()).collect();
    assert_eq!(convs.len(), 6, "no conversation assigned twice");
    for agent in ["a", "b"] {
        let view = one.agent(&id(agent)).await.expect("read").expect("agent");
        assert_eq!(view.load["chat"], 3, "{agent} exactly at capacity");
    }
    let fired = two
        .fire_timers(t0() + Duration::minutes(2))
        .await
        .expect("timers");
    assert!(fired.is_empty(), "still no room anywhere");
}

async fn transfers_move_capacity_and_the_third_goes_to_the_supervisor(h: Harness) {
    use switchboard::store::{TransferOutcome, TransferTarget};
    agent_online(&h, "a", 3).await;
    agent_online(&h, "b", 3).await;
    agent_online(&h, "c", 3).await;
    let r = chat(&h, "hot-potato", t0()).await;
    assigned_to(&r, "a", RouteReason::NewPersonalAgent);
    let moved = h
        .store
        .transfer(
            &r.conversation_id,
            &TransferTarget::Agent(id("b")),
            None,
            t0(),
        )
        .await
        .expect("transfer");
    let TransferOutcome::Transferred {
        route, transfers, ..
    } = moved
    else {
        panic!("{moved:?}")
    };
    assert_eq!((route.agent_id.as_deref(), transfers), (Some("b"), 1));
    assert_eq!(
        (load(&h, "a").await, load(&h, "b").await),
        (0, 1),
        "capacity moved"
    );
    h.store
        .transfer(
            &r.conversation_id,
            &TransferTarget::Agent(id("c")),
            None,
            t0(),
        )
        .await
        .expect("transfer");
    let third = h
        .store
        .transfer(
            &r.conversation_id,
            &TransferTarget::Agent(id("a")),
            None,
            t0(),
        )
        .await
        .expect("transfer");
    let TransferOutcome::Transferred {
        route, transfers, ..
    } = third
    else {
        panic!("{third:?}")
    };
    assert_eq!(transfers, 3);
    assert_eq!(route.decision, Decision::Queued);
    assert_eq!(
        route.queue.map(|q| q.as_str()),
        Some("supervisor"),
        "more than two transfers"
    );
    assert_eq!(
        (
            load(&h, "a").await,
            load(&h, "b").await,
            load(&h, "c").await
        ),
        (0, 0, 0)
    );
    let conv = h
        .store
        .conversation(&r.conversation_id)
        .await
        .expect("read")
        .expect("conv");
    assert_eq!(
        (conv.agent_id, conv.queue.map(|q| q.as_str())),
        (None, Some("supervisor"))
    );
    h.store
        .resolve(&r.conversation_id, t0())
        .await
        .expect("resolve");
    let after = h
        .store
        .transfer(
            &r.conversation_id,
            &TransferTarget::Queue(Queue::Channel(Channel::Chat)),
            None,
            t0(),
        )
        .await
        .expect("transfer");
    assert_eq!(after, TransferOutcome::NotRouted);
}

async fn a_transfer_to_a_full_or_offline_agent_is_refused_and_changes_nothing(h: Harness) {
    use switchboard::store::{TransferOutcome, TransferTarget};
    agent_online(&h, "a", 3).await;
    agent_online(&h, "b", 1).await;
    h.store
        .put_agent(&profile("off", 3), t0())
        .await
        .expect("put");
    let first = chat(&h, "t-1", t0()).await; // a
    let second = chat(&h, "t-2", t0()).await; // b
    assigned_to(&second, "b", RouteReason::NewPersonalAgent);
    for target in ["b", "off", "ghost"] {
        let got = h
            .store
            .transfer(
                &first.conversation_id,
                &TransferTarget::Agent(id(target)),
                None,
                t0(),
            )
            .await
            .expect("transfer");
        assert_eq!(got, TransferOutcome::AgentUnavailable, "{target}");
    }
    assert_eq!(load(&h, "a").await, 1);
    let queued = h
        .store
        .transfer(
            &first.conversation_id,
            &TransferTarget::Queue(Queue::Channel(Channel::Chat)),
            None,
            t0(),
        )
        .await
        .expect("transfer");
    let TransferOutcome::Transferred {
        route, assignments, ..
    } = queued
    else {
        panic!("{queued:?}")
    };
    // Sent to the queue, it goes to whoever has room: only a does (b is full, "off" offline).
    assert_eq!(route.agent_id.as_deref(), Some("a"));
    assert_eq!(assignments.len(), 1);
    assert_eq!(
        (assignments[0].agent_id.as_str(), assignments[0].reason),
        ("a", RouteReason::Fallback)
    );
}

async fn the_first_reply_is_marked_first(h: Harness) {
    use switchboard::domain::{Direction, EntryKind, Message, MessageId};
    use switchboard::store::ReplyOutcome;
    agent_online(&h, "a", 3).await;
    let r = chat(&h, "needs-answer", t0()).await;
    let reply = |kind: EntryKind, text: &str| Message {
        id: MessageId::generate(),
        direction: Direction::Out,
        channel: switchboard::domain::Channel::Chat,
        network: None,
        from: "a".into(),
        text: text.into(),
        subject: None,
        external_id: None,
        at: t0() + Duration::seconds(30),
        received_at: t0() + Duration::seconds(30),
        kind,
        delivery: None,
    };
    let note = h
        .store
        .add_reply(
            &r.conversation_id,
            &reply(EntryKind::Note, "internal"),
            t0(),
        )
        .await
        .expect("reply");
    assert_eq!(
        note,
        ReplyOutcome::Stored { first: false },
        "a note is not a response"
    );
    let first = h
        .store
        .add_reply(
            &r.conversation_id,
            &reply(EntryKind::Message, "hello!"),
            t0(),
        )
        .await
        .expect("reply");
    assert_eq!(first, ReplyOutcome::Stored { first: true });
    let second = h
        .store
        .add_reply(&r.conversation_id, &reply(EntryKind::Message, "more"), t0())
        .await
        .expect("reply");
    assert_eq!(second, ReplyOutcome::Stored { first: false });
    let conv = h
        .store
        .conversation(&r.conversation_id)
        .await
        .expect("read")
        .expect("conv");
    let texts: Vec<&str> = conv.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["hi", "internal", "hello!", "more"]);
    assert_eq!(conv.messages[2].direction, Direction::Out);
    let missing = format!("{}-99", r.customer_id).parse().expect("id");
    assert_eq!(
        h.store
            .add_reply(&missing, &reply(EntryKind::Message, "x"), t0())
            .await
            .expect("reply"),
        ReplyOutcome::NotFound
    );
}

async fn an_agent_offline_past_the_grace_period_hands_its_conversations_back(h: Harness) {
    agent_online(&h, "a", 3).await;
    let r = chat(&h, "held", t0()).await;
    assigned_to(&r, "a", RouteReason::NewPersonalAgent);
    agent_online(&h, "b", 3).await;
    h.store
        .set_presence(&id("a"), Presence::Offline, t0())
        .await
        .expect("presence");
    assert!(
        h.store
            .fire_timers(t0() + Duration::seconds(119))
            .await
            .expect("timers")
            .is_empty(),
        "the grace is 2 minutes"
    );
    // Back and gone again: the grace runs from the first time it went offline... and a
    // return cancels it, so a new absence starts a new grace.
    h.store
        .set_presence(&id("a"), Presence::Online, t0() + Duration::seconds(100))
        .await
        .expect("presence");
    h.store
        .set_presence(&id("a"), Presence::Offline, t0() + Duration::seconds(110))
        .await
        .expect("presence");
    assert!(h
        .store
        .fire_timers(t0() + Duration::seconds(200))
        .await
        .expect("timers")
        .is_empty());
    let made = h
        .store
        .fire_timers(t0() + Duration::seconds(231))
        .await
        .expect("timers");
    assert_eq!(made.len(), 1);
    assert_eq!(
        (made[0].agent_id.as_str(), made[0].reason),
        ("b", RouteReason::Fallback)
    );
    assert_eq!((load(&h, "a").await, load(&h, "b").await), (0, 1));
    let owner = h
        .store
        .customer(&r.customer_id)
        .await
        .expect("read")
        .expect("customer");
    assert_eq!(
        owner.personal_agent_id.as_deref(),
        Some("a"),
        "the owner stays"
    );
}

async fn removing_an_agent_reroutes_its_work_and_its_customers_get_a_new_personal_agent(
    h: Harness,
) {
    agent_online(&h, "a", 3).await;
    let r = chat(&h, "orphan", t0()).await;
    agent_online(&h, "b", 3).await;
    let made = h
        .store
        .delete_agent(&id("a"), t0())
        .await
        .expect("delete")
        .expect("known");
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].agent_id.as_str(), "b");
    assert!(h.store.agent(&id("a")).await.expect("read").is_none());
    assert!(h
        .store
        .delete_agent(&id("a"), t0())
        .await
        .expect("delete")
        .is_none());
    let customer = h
        .store
        .customer(&r.customer_id)
        .await
        .expect("read")
        .expect("customer");
    assert_eq!(
        customer.personal_agent_id, None,
        "a removed agent is nobody's personal agent"
    );
    h.store
        .resolve(&r.conversation_id, t0())
        .await
        .expect("resolve");
    let next = chat(&h, "orphan", t0() + Duration::days(5)).await;
    assigned_to(&next, "b", RouteReason::NewPersonalAgent);
    let customer = h
        .store
        .customer(&r.customer_id)
        .await
        .expect("read")
        .expect("customer");
    assert_eq!(customer.personal_agent_id.as_deref(), Some("b"));
}

fn tiered_policy() -> StorePolicy {
    let mut policy = StorePolicy::default();
    let vip = PerChannel {
        phone: Duration::seconds(60),
        email: Duration::hours(8),
        chat: Duration::seconds(300),
        social: Duration::minutes(20),
    };
    policy.tier_sticky_waits.insert("vip".into(), vip);
    policy
}

async fn a_vip_waits_longer_for_their_agent_and_queues_first(h: Harness) {
    agent_online(&h, "a", 1).await;
    // Both are a's customers (served once each), the vip one a vip.
    for customer in ["standard", "vip"] {
        let r = chat(&h, customer, t0()).await;
        assigned_to(&r, "a", RouteReason::NewPersonalAgent);
        if customer == "vip" {
            h.store
                .set_tier(&r.customer_id, "vip")
                .await
                .expect("tier")
                .expect("customer");
        }
        h.store
            .resolve(&r.conversation_id, t0())
            .await
            .expect("resolve");
    }
    chat(&h, "first", t0()).await; // a is full from now on
                                   // Both write again: reopened, waiting for a.
    let standard = chat(&h, "standard", t0()).await;
    let vip = chat(&h, "vip", t0()).await;
    assert_eq!(vip.route.reason, RouteReason::WaitingForPersonalAgent);
    assert_eq!(standard.route.reason, RouteReason::WaitingForPersonalAgent);
    // Nobody else is online: expired waits join the queue.
    h.store
        .fire_timers(t0() + Duration::seconds(61))
        .await
        .expect("timers");
    let s = h
        .store
        .conversation(&standard.conversation_id)
        .await
        .expect("read")
        .expect("conv");
    let v = h
        .store
        .conversation(&vip.conversation_id)
        .await
        .expect("read")
        .expect("conv");
    assert_eq!(
        s.route.as_ref().map(|r| r.reason),
        Some(RouteReason::NoAgentAvailable),
        "60 s for standard chat"
    );
    assert_eq!(
        v.route.as_ref().map(|r| r.reason),
        Some(RouteReason::WaitingForPersonalAgent),
        "300 s for vip chat"
    );
    h.store
        .fire_timers(t0() + Duration::seconds(302))
        .await
        .expect("timers");
    // b comes online with room for one: the vip, though queued later, goes first.
    h.store
        .put_agent(&profile("b", 1), t0())
        .await
        .expect("put");
    let made = h
        .store
        .set_presence(&id("b"), Presence::Online, t0() + Duration::seconds(400))
        .await
        .expect("presence")
        .expect("known");
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].conversation_id, vip.conversation_id);
}

#[tokio::test]
async fn a_vip_waits_longer_and_queues_first_in_memory() {
    a_vip_waits_longer_for_their_agent_and_queues_first(Harness::memory_with(tiered_policy()))
        .await;
}

#[tokio::test]
async fn a_vip_waits_longer_and_queues_first_in_redis() {
    a_vip_waits_longer_for_their_agent_and_queues_first(Harness::redis_with(tiered_policy())).await;
}

async fn a_retry_after_resolve_answers_the_first_real_route(h: Harness) {
    let message = |ext: &str, from: &str| {
        inbound(json!({ "channel": "chat", "external_id": ext, "from": from, "text": "hi" }))
    };
    // Queued first (nobody online), then drained, resolved and retried.
    let queued = h
        .store
        .ingest(&message("q-1", "v-q"), t0())
        .await
        .expect("ingest");
    assert_eq!(queued.route.decision, Decision::Queued, "{queued:?}");
    agent_online(&h, "a", 3).await;
    let first = h
        .store
        .ingest(&message("r-1", "v-r"), t0())
        .await
        .expect("ingest");
    assigned_to(&first, "a", RouteReason::NewPersonalAgent);
    let second = h
        .store
        .ingest(&message("r-2", "v-r"), t0())
        .await
        .expect("ingest");
    assigned_to(&second, "a", RouteReason::AlreadyAssigned);
    let later = t0() + Duration::minutes(1);
    for conv in [&queued.conversation_id, &first.conversation_id] {
        h.store.resolve(conv, later).await.expect("resolve");
    }
    for (ext, from, original) in [
        ("q-1", "v-q", &queued),
        ("r-1", "v-r", &first),
        ("r-2", "v-r", &second),
    ] {
        let retry = h
            .store
            .ingest(&message(ext, from), later)
            .await
            .expect("retry");
        assert!(retry.duplicate, "{ext}");
        assert_eq!(retry.route, original.route, "{ext}: the first real route");
    }
}

async fn a_removed_personal_agent_added_again_is_a_stranger_to_their_old_customers(h: Harness) {
    agent_online(&h, "a", 3).await;
    let first = chat(&h, "v-old", t0()).await;
    assigned_to(&first, "a", RouteReason::NewPersonalAgent);
    h.store
        .resolve(&first.conversation_id, t0())
        .await
        .expect("resolve");
    h.store.delete_agent(&id("a"), t0()).await.expect("delete");
    let alone = chat(&h, "v-old", t0() + Duration::minutes(1)).await;
    assert_eq!(
        alone.route.reason,
        RouteReason::NoAgentAvailable,
        "{alone:?}"
    );
    // (Resolved before anyone comes back: whoever took it would become their manager.)
    h.store
        .resolve(&alone.conversation_id, t0() + Duration::minutes(1))
        .await
        .expect("resolve");
    // An agent created again under the same id is a new person: the old customers, who
    // lost their personal agent at the removal, do not get them back by the id alone.
    agent_online(&h, "a", 3).await;
    let customer = h
        .store
        .customer(&first.customer_id)
        .await
        .expect("read")
        .expect("customer");
    assert_eq!(customer.personal_agent_id, None);
    let a = h.store.agent(&id("a")).await.expect("read").expect("agent");
    assert_eq!(a.portfolio, 0, "nobody's personal agent yet");
}

async fn personal_agent_of(h: &Harness, r: &Receipt) -> Option<String> {
    let customer = h.store.customer(&r.customer_id).await.expect("read");
    customer
        .expect("customer")
        .personal_agent_id
        .map(|a| a.to_string())
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

async fn a_customer_queued_overnight_gets_the_agent_who_took_them_as_personal_agent(h: Harness) {
    let night = chat(&h, "v-1", t0()).await;
    assert_eq!(
        night.route.reason,
        RouteReason::NoAgentAvailable,
        "{night:?}"
    );
    assert_eq!(personal_agent_of(&h, &night).await, None);
    // Morning: b comes online and takes the queued customer, who is b's from now on.
    h.store
        .put_agent(&profile("b", 3), t0())
        .await
        .expect("put");
    let made = h
        .store
        .set_presence(&id("b"), Presence::Online, t0() + Duration::hours(8))
        .await
        .expect("presence")
        .expect("known");
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].reason, RouteReason::NewPersonalAgent);
    assert_eq!(personal_agent_of(&h, &night).await.as_deref(), Some("b"));
    assert_eq!(portfolio(&h, "b").await, 1);
    h.store
        .resolve(&night.conversation_id, t0() + Duration::hours(9))
        .await
        .expect("resolve");
    // Their next conversation goes to b, though a colleague is idler.
    agent_online(&h, "a", 3).await;
    let next = chat(&h, "v-1", t0() + Duration::days(10)).await;
    assigned_to(&next, "b", RouteReason::PersonalAgent);
}

async fn with_one_agent_online_and_one_offline_the_new_customers_manager_is_the_online_one(
    h: Harness,
) {
    h.store
        .put_agent(&profile("a", 3), t0())
        .await
        .expect("put"); // offline
    agent_online(&h, "b", 3).await;
    let r = chat(&h, "v-1", t0()).await;
    assigned_to(&r, "b", RouteReason::NewPersonalAgent);
    assert_eq!(personal_agent_of(&h, &r).await.as_deref(), Some("b"));
    assert_eq!((portfolio(&h, "a").await, portfolio(&h, "b").await), (0, 1));
}

async fn with_the_smallest_portfolio_full_a_new_customer_goes_at_once_to_a_colleague_with_room(
    h: Harness,
) {
    agent_online(&h, "a", 1).await;
    agent_online(&h, "b", 3).await;
    assigned_to(
        &chat(&h, "v-1", t0()).await,
        "a",
        RouteReason::NewPersonalAgent,
    );
    assigned_to(
        &chat(&h, "v-2", t0()).await,
        "b",
        RouteReason::NewPersonalAgent,
    );
    assigned_to(
        &chat(&h, "v-3", t0()).await,
        "b",
        RouteReason::NewPersonalAgent,
    );
    // a has the smaller portfolio (1 to 2) but no room: the newcomer does not wait for a.
    let r = chat(&h, "v-4", t0()).await;
    assigned_to(&r, "b", RouteReason::NewPersonalAgent);
    assert_eq!(personal_agent_of(&h, &r).await.as_deref(), Some("b"));
}

async fn an_agent_an_ownerless_customer_is_transferred_to_becomes_their_personal_agent(h: Harness) {
    let r = chat(&h, "v-1", t0()).await;
    assert_eq!(r.route.reason, RouteReason::NoAgentAvailable);
    // Parked with the supervisor (nobody drains that queue), then handed to b.
    let parked = h
        .store
        .transfer(
            &r.conversation_id,
            &TransferTarget::Queue(Queue::Supervisor),
            None,
            t0(),
        )
        .await
        .expect("transfer");
    assert!(
        matches!(parked, TransferOutcome::Transferred { .. }),
        "{parked:?}"
    );
    agent_online(&h, "b", 3).await;
    let outcome = h
        .store
        .transfer(
            &r.conversation_id,
            &TransferTarget::Agent(id("b")),
            None,
            t0(),
        )
        .await
        .expect("transfer");
    let TransferOutcome::Transferred { assignments, .. } = outcome else {
        panic!("not transferred: {outcome:?}");
    };
    assert_eq!(assignments.len(), 1, "{assignments:?}");
    assert_eq!(assignments[0].reason, RouteReason::NewPersonalAgent);
    assert_eq!(personal_agent_of(&h, &r).await.as_deref(), Some("b"));
    assert_eq!(portfolio(&h, "b").await, 1);
}
