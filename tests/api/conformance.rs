//! One suite, two stores: every check runs against the in-memory store and against a
//! real Redis, so the two keep exactly the same semantics.

use std::time::Duration as StdDuration;

use chrono::Duration;
use serde_json::json;
use switchboard::domain::{ConversationState, CustomerId, Direction};
use switchboard::store::ResolveOutcome;

use crate::helpers::{ext, inbound, normaliser, t0, Harness};

both_stores!(
    a_first_message_creates_a_customer_and_an_open_conversation,
    one_persons_addresses_in_every_form_land_in_one_conversation,
    a_retried_message_is_a_duplicate_with_the_first_receipt,
    the_same_external_id_on_another_channel_is_a_new_message,
    an_idempotency_record_expires_after_its_ttl,
    a_message_inside_the_reopen_window_reopens_as_a_repeat_contact,
    a_message_after_the_reopen_window_starts_a_new_conversation,
    two_customers_proven_one_merge_into_the_older,
    a_merge_is_idempotent,
    a_merge_into_a_customer_without_an_open_conversation_opens_one,
    a_retry_after_a_merge_is_still_a_duplicate,
    the_timeline_is_ordered_by_when_messages_happened,
    unknown_ids_find_nothing_and_resolve_twice_conflicts,
);

fn msg(channel: &str, network: Option<&str>, from: &str) -> serde_json::Value {
    json!({ "channel": channel, "network": network, "external_id": ext(), "from": from, "text": format!("from {from}") })
}

/// Lets the clock move so customer ids made next compare greater.
async fn tick() {
    tokio::time::sleep(StdDuration::from_millis(3)).await;
}

async fn a_first_message_creates_a_customer_and_an_open_conversation(h: Harness) {
    let receipt = h
        .store
        .ingest(&inbound(msg("email", None, "Jane@Example.com")), t0())
        .await
        .expect("ingest");
    assert!(!receipt.duplicate);
    let customer = h
        .store
        .customer(&receipt.customer_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        customer.open_conversation_id.as_ref(),
        Some(&receipt.conversation_id)
    );
    assert_eq!(
        customer.conversation_ids,
        vec![receipt.conversation_id.clone()]
    );
    assert_eq!(customer.identities.len(), 1);
    assert_eq!(customer.identities[0].key(), "email:jane@example.com");
    let conv = h
        .store
        .conversation(&receipt.conversation_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(conv.state, ConversationState::Open);
    assert_eq!(conv.messages.len(), 1);
    assert_eq!(conv.messages[0].direction, Direction::In);
    assert_eq!(conv.messages[0].from, "jane@example.com");
    assert_eq!(conv.customer.id, receipt.customer_id);
}

async fn one_persons_addresses_in_every_form_land_in_one_conversation(h: Harness) {
    let first = h
        .store
        .ingest(
            &inbound(msg("phone", Some("sms"), "+1 (415) 555-0100")),
            t0(),
        )
        .await
        .expect("ingest");
    let mut vouched = msg("chat", None, "visitor-42");
    vouched["identities"] = json!([{ "kind": "email", "value": "Jane.Doe@Example.com" }, { "kind": "phone", "value": "4155550100" }]);
    let later = [
        msg("phone", Some("voice"), "4155550100"),
        msg("phone", Some("sms"), "415-555-0100"),
        msg("social", Some("whatsapp"), "14155550100"),
        vouched,
        msg("email", None, "  JANE.DOE@example.COM "),
    ];
    for (i, body) in later.into_iter().enumerate() {
        let r = h
            .store
            .ingest(&inbound(body), t0() + Duration::seconds(i as i64 + 1))
            .await
            .expect("ingest");
        assert_eq!(r.customer_id, first.customer_id, "message {i}");
        assert_eq!(r.conversation_id, first.conversation_id, "message {i}");
    }
    let conv = h
        .store
        .conversation(&first.conversation_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(conv.messages.len(), 6);
    let keys: Vec<String> = conv.customer.identities.iter().map(|i| i.key()).collect();
    for expected in [
        "phone:+14155550100",
        "email:jane.doe@example.com",
        "chat:visitor-42",
        "whatsapp:+14155550100",
    ] {
        assert!(
            keys.contains(&expected.to_string()),
            "{expected} in {keys:?}"
        );
    }
    let n = normaliser();
    for key in [
        "whatsapp:14155550100",
        "chat:visitor-42",
        "email:jane.doe@EXAMPLE.com",
    ] {
        let found = h
            .store
            .customer_by_identity(&n.parse_key(key).expect("key"))
            .await
            .expect("read");
        assert_eq!(
            found.map(|c| c.id),
            Some(first.customer_id.clone()),
            "{key}"
        );
    }
}

async fn a_retried_message_is_a_duplicate_with_the_first_receipt(h: Harness) {
    let body = msg("email", None, "a@example.com");
    let first = h
        .store
        .ingest(&inbound(body.clone()), t0())
        .await
        .expect("ingest");
    let retry = h
        .store
        .ingest(&inbound(body), t0() + Duration::minutes(5))
        .await
        .expect("ingest");
    assert!(retry.duplicate);
    assert_eq!(retry.message_id, first.message_id);
    assert_eq!(retry.customer_id, first.customer_id);
    assert_eq!(retry.conversation_id, first.conversation_id);
    assert_eq!(retry.route, first.route);
    let conv = h
        .store
        .conversation(&first.conversation_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(conv.messages.len(), 1, "the retry stored nothing");
}

async fn the_same_external_id_on_another_channel_is_a_new_message(h: Harness) {
    let mut sms = msg("phone", Some("sms"), "4155550100");
    sms["external_id"] = json!("SM123");
    let mut wa = msg("social", Some("whatsapp"), "14155550100");
    wa["external_id"] = json!("SM123");
    let a = h.store.ingest(&inbound(sms), t0()).await.expect("ingest");
    let b = h.store.ingest(&inbound(wa), t0()).await.expect("ingest");
    assert!(!b.duplicate);
    assert_ne!(a.message_id, b.message_id);
    assert_eq!(
        a.conversation_id, b.conversation_id,
        "same number, same conversation"
    );
}

async fn an_idempotency_record_expires_after_its_ttl(h: Harness) {
    let body = msg("chat", None, "v-1");
    let first = h
        .store
        .ingest(&inbound(body.clone()), t0())
        .await
        .expect("ingest");
    let within = h
        .store
        .ingest(
            &inbound(body.clone()),
            t0() + Duration::days(7) - Duration::seconds(1),
        )
        .await
        .expect("ingest");
    assert!(within.duplicate);
    let after = h
        .store
        .ingest(
            &inbound(body),
            t0() + Duration::days(7) + Duration::seconds(1),
        )
        .await
        .expect("ingest");
    assert!(!after.duplicate);
    assert_ne!(after.message_id, first.message_id);
}

async fn a_message_inside_the_reopen_window_reopens_as_a_repeat_contact(h: Harness) {
    let first = h
        .store
        .ingest(&inbound(msg("email", None, "r@example.com")), t0())
        .await
        .expect("ingest");
    let resolved = t0() + Duration::hours(1);
    assert_eq!(
        h.store
            .resolve(&first.conversation_id, resolved)
            .await
            .expect("resolve"),
        ResolveOutcome::Resolved(vec![])
    );
    let customer = h
        .store
        .customer(&first.customer_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(customer.open_conversation_id, None);
    let again = h
        .store
        .ingest(&inbound(msg("phone", Some("sms"), "4155550177")), resolved)
        .await
        .expect("ingest");
    assert_ne!(again.customer_id, first.customer_id, "a different person");
    let back = h
        .store
        .ingest(
            &inbound(msg("email", None, "R@example.com")),
            resolved + Duration::hours(71),
        )
        .await
        .expect("ingest");
    assert!(back.repeat_contact, "counted as a repeat contact");
    assert_eq!(back.conversation_id, first.conversation_id);
    let conv = h
        .store
        .conversation(&first.conversation_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(conv.state, ConversationState::Open);
    assert_eq!(conv.repeat_contacts, 1);
    assert_eq!(conv.resolved_at, None);
}

async fn a_message_after_the_reopen_window_starts_a_new_conversation(h: Harness) {
    let first = h
        .store
        .ingest(&inbound(msg("email", None, "n@example.com")), t0())
        .await
        .expect("ingest");
    h.store
        .resolve(&first.conversation_id, t0())
        .await
        .expect("resolve");
    let later = h
        .store
        .ingest(
            &inbound(msg("email", None, "n@example.com")),
            t0() + Duration::hours(73),
        )
        .await
        .expect("ingest");
    assert_eq!(later.customer_id, first.customer_id);
    assert_ne!(later.conversation_id, first.conversation_id);
    let customer = h
        .store
        .customer(&first.customer_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        customer.conversation_ids,
        vec![first.conversation_id.clone(), later.conversation_id.clone()]
    );
    let old = h
        .store
        .conversation(&first.conversation_id)
        .await
        .expect("read")
        .expect("still readable");
    assert_eq!(old.state, ConversationState::Resolved);
    assert_eq!(old.messages.len(), 1);
}

async fn two_customers_proven_one_merge_into_the_older(h: Harness) {
    let older = h
        .store
        .ingest(&inbound(msg("email", None, "old@example.com")), t0())
        .await
        .expect("ingest");
    tick().await;
    let younger = h
        .store
        .ingest(
            &inbound(msg("phone", Some("sms"), "4155550111")),
            t0() + Duration::seconds(1),
        )
        .await
        .expect("ingest");
    assert_ne!(older.customer_id, younger.customer_id);
    let mut proof = msg("chat", None, "visitor-9");
    proof["identities"] = json!([{ "kind": "email", "value": "old@example.com" }, { "kind": "phone", "value": "+14155550111" }]);
    let merged = h
        .store
        .ingest(&inbound(proof), t0() + Duration::seconds(2))
        .await
        .expect("ingest");
    assert_eq!(
        merged.customer_id, older.customer_id,
        "the older customer survives"
    );
    assert_eq!(
        merged.conversation_id, older.conversation_id,
        "its open conversation wins"
    );
    let conv = h
        .store
        .conversation(&older.conversation_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        conv.messages.len(),
        3,
        "the younger's message joined the timeline"
    );
    assert_eq!(
        conv.merged_conversation_ids,
        vec![younger.conversation_id.clone()]
    );
    let mut channels: Vec<_> = conv.channels.iter().map(|c| c.as_str()).collect();
    channels.sort();
    assert_eq!(channels, ["chat", "email", "phone"]);
    let survivor = h
        .store
        .customer(&younger.customer_id)
        .await
        .expect("read")
        .expect("resolves");
    assert_eq!(
        survivor.id, older.customer_id,
        "the younger id finds the survivor"
    );
    assert_eq!(survivor.conversation_ids.len(), 2);
    let by_phone = h
        .store
        .customer_by_identity(&normaliser().parse_key("phone:4155550111").expect("key"))
        .await
        .expect("read");
    assert_eq!(by_phone.map(|c| c.id), Some(older.customer_id.clone()));
    let old_conv = h
        .store
        .conversation(&younger.conversation_id)
        .await
        .expect("read")
        .expect("readable");
    assert_eq!(old_conv.state, ConversationState::Resolved);
    assert_eq!(old_conv.customer.id, older.customer_id);
}

async fn a_merge_is_idempotent(h: Harness) {
    let a = h
        .store
        .ingest(&inbound(msg("email", None, "a@x.io")), t0())
        .await
        .expect("ingest");
    tick().await;
    let b = h
        .store
        .ingest(&inbound(msg("email", None, "b@x.io")), t0())
        .await
        .expect("ingest");
    let mut proof = msg("email", None, "a@x.io");
    proof["identities"] = json!([{ "kind": "email", "value": "b@x.io" }]);
    for i in 0..3 {
        let mut again = proof.clone();
        again["external_id"] = json!(format!("proof-{i}"));
        let r = h
            .store
            .ingest(&inbound(again), t0() + Duration::seconds(i))
            .await
            .expect("ingest");
        assert_eq!(r.customer_id, a.customer_id);
    }
    let customer = h
        .store
        .customer(&a.customer_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(customer.identities.len(), 2);
    assert_eq!(
        customer.conversation_ids,
        vec![a.conversation_id.clone(), b.conversation_id.clone()]
    );
    let conv = h
        .store
        .conversation(&a.conversation_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(conv.messages.len(), 5, "2 firsts + 3 proofs, nothing twice");
    assert_eq!(conv.merged_conversation_ids.len(), 1);
}

async fn a_merge_into_a_customer_without_an_open_conversation_opens_one(h: Harness) {
    let older = h
        .store
        .ingest(&inbound(msg("email", None, "closed@x.io")), t0())
        .await
        .expect("ingest");
    h.store
        .resolve(&older.conversation_id, t0())
        .await
        .expect("resolve");
    tick().await;
    let younger = h
        .store
        .ingest(
            &inbound(msg("chat", None, "visitor-1")),
            t0() + Duration::days(10),
        )
        .await
        .expect("ingest");
    let mut proof = msg("chat", None, "visitor-1");
    proof["identities"] = json!([{ "kind": "email", "value": "closed@x.io" }]);
    let r = h
        .store
        .ingest(&inbound(proof), t0() + Duration::days(10))
        .await
        .expect("ingest");
    assert_eq!(r.customer_id, older.customer_id);
    assert_ne!(
        r.conversation_id, older.conversation_id,
        "the resolved one stays closed"
    );
    assert_ne!(r.conversation_id, younger.conversation_id);
    let conv = h
        .store
        .conversation(&r.conversation_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        conv.messages.len(),
        2,
        "the younger's open timeline came along"
    );
    let customer = h
        .store
        .customer(&older.customer_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        customer.open_conversation_id,
        Some(r.conversation_id.clone())
    );
    assert_eq!(customer.conversation_ids.len(), 3);
}

async fn a_retry_after_a_merge_is_still_a_duplicate(h: Harness) {
    let older = h
        .store
        .ingest(&inbound(msg("email", None, "o@x.io")), t0())
        .await
        .expect("ingest");
    tick().await;
    let first_of_younger = msg("phone", Some("sms"), "4155550122");
    let younger = h
        .store
        .ingest(&inbound(first_of_younger.clone()), t0())
        .await
        .expect("ingest");
    let mut proof = msg("email", None, "o@x.io");
    proof["identities"] = json!([{ "kind": "phone", "value": "4155550122" }]);
    h.store.ingest(&inbound(proof), t0()).await.expect("ingest");
    let retry = h
        .store
        .ingest(&inbound(first_of_younger), t0() + Duration::hours(1))
        .await
        .expect("ingest");
    assert!(
        retry.duplicate,
        "the provider's retry must not store the message twice"
    );
    assert_eq!(retry.message_id, younger.message_id);
    assert_eq!(
        retry.conversation_id, younger.conversation_id,
        "the retry names the conversation the message went to"
    );
    let conv = h
        .store
        .conversation(&older.conversation_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(conv.messages.len(), 3);
}

async fn the_timeline_is_ordered_by_when_messages_happened(h: Harness) {
    let mut late = msg("email", None, "t@x.io");
    late["sent_at"] = json!("2026-11-22T09:30:00Z");
    let mut early = msg("phone", Some("sms"), "4155550133");
    early["identities"] = json!([{ "kind": "email", "value": "t@x.io" }]);
    early["sent_at"] = json!("2026-11-22T09:00:00Z");
    let a = h.store.ingest(&inbound(late), t0()).await.expect("ingest");
    h.store.ingest(&inbound(early), t0()).await.expect("ingest");
    h.store
        .ingest(
            &inbound(msg("email", None, "t@x.io")),
            t0() + Duration::seconds(1),
        )
        .await
        .expect("ingest");
    let conv = h
        .store
        .conversation(&a.conversation_id)
        .await
        .expect("read")
        .expect("exists");
    let at: Vec<String> = conv.messages.iter().map(|m| m.at.to_rfc3339()).collect();
    let mut sorted = at.clone();
    sorted.sort();
    assert_eq!(at, sorted);
    assert_eq!(conv.messages[0].channel.as_str(), "phone");
}

async fn unknown_ids_find_nothing_and_resolve_twice_conflicts(h: Harness) {
    let nobody = CustomerId::generate();
    assert!(h.store.customer(&nobody).await.expect("read").is_none());
    let unknown = normaliser().parse_key("email:ghost@x.io").expect("key");
    assert!(h
        .store
        .customer_by_identity(&unknown)
        .await
        .expect("read")
        .is_none());
    let conv = format!("{nobody}-1").parse().expect("id");
    assert!(h.store.conversation(&conv).await.expect("read").is_none());
    assert_eq!(
        h.store.resolve(&conv, t0()).await.expect("resolve"),
        ResolveOutcome::NotFound
    );
    let r = h
        .store
        .ingest(&inbound(msg("chat", None, "v-77")), t0())
        .await
        .expect("ingest");
    assert_eq!(
        h.store
            .resolve(&r.conversation_id, t0())
            .await
            .expect("resolve"),
        ResolveOutcome::Resolved(vec![])
    );
    assert_eq!(
        h.store
            .resolve(&r.conversation_id, t0())
            .await
            .expect("resolve"),
        ResolveOutcome::AlreadyResolved
    );
    h.store.ping().await.expect("ping");
}
