//! A chatty customer's idempotency records (#33): Redis scans a small hash's listpack on
//! every lookup, so a customer's records hash becomes a hash table once they may number
//! 64 — after 64 messages of one conversation, or at an opening once they number 64 across
//! many — while a light customer's stays a compact listpack; retries are answered as
//! duplicates before and after.

use chrono::Duration;
use serde_json::json;
use switchboard::domain::{CustomerId, Receipt};
use switchboard::store::StorePolicy;

use crate::helpers::{inbound, t0, Harness};

fn encoding(url: &str, customer: &CustomerId) -> String {
    let client = ::redis::Client::open(url).expect("client");
    let mut conn = client.get_connection().expect("connection");
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg(format!("*:c:{{{customer}}}:dx"))
        .query(&mut conn)
        .expect("keys");
    assert_eq!(keys.len(), 1, "{keys:?}");
    ::redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(&keys[0])
        .query(&mut conn)
        .expect("encoding")
}

async fn write(h: &Harness, from: &str, key: &str, minutes: i64) -> Receipt {
    let body = json!({ "channel": "chat", "external_id": key, "from": from, "text": "hello" });
    h.store
        .ingest(&inbound(body), t0() + Duration::minutes(minutes))
        .await
        .expect("ingest")
}

#[tokio::test]
async fn a_chatty_customers_records_become_a_table_and_a_light_ones_stay_a_listpack() {
    let h = Harness::redis();
    let url = h.redis_url().expect("own server");
    let light = write(&h, "visitor-light", "l-0", 0).await;
    for i in 1..10 {
        write(&h, "visitor-light", &format!("l-{i}"), i).await;
    }
    assert_eq!(encoding(&url, &light.customer_id), "listpack");

    let chatty = write(&h, "visitor-chatty", "c-0", 0).await;
    for i in 1..63 {
        write(&h, "visitor-chatty", &format!("c-{i}"), i).await;
    }
    assert_eq!(
        encoding(&url, &chatty.customer_id),
        "listpack",
        "63 messages"
    );
    let last = write(&h, "visitor-chatty", "c-63", 63).await;
    assert_eq!(
        encoding(&url, &chatty.customer_id),
        "hashtable",
        "the 64th message of the conversation"
    );
    for (key, first) in [("c-0", &chatty), ("c-63", &last)] {
        let again = write(&h, "visitor-chatty", key, 70).await;
        assert!(again.duplicate, "{key} is a duplicate");
        assert_eq!(again.message_id, first.message_id);
    }
}

#[tokio::test]
async fn records_across_many_conversations_become_a_table_at_an_opening() {
    // A shop integration: a conversation per order, each resolved, the next one opened
    // after the reopen window (a minute here, so the records stay within the dedup ttl).
    let h = Harness::redis_with(StorePolicy {
        reopen_window: Duration::minutes(1),
        ..StorePolicy::default()
    });
    let url = h.redis_url().expect("own server");
    let mut first = None;
    for order in 0..32 {
        let at = order * 10;
        let one = write(&h, "shop-7", &format!("o-{order}-a"), at).await;
        write(&h, "shop-7", &format!("o-{order}-b"), at + 1).await;
        h.store
            .resolve(&one.conversation_id, t0() + Duration::minutes(at + 2))
            .await
            .expect("resolve");
        first.get_or_insert(one);
    }
    let first = first.expect("orders");
    assert_eq!(encoding(&url, &first.customer_id), "listpack", "64 records");
    let next = write(&h, "shop-7", "o-32-a", 320).await;
    assert_ne!(
        next.conversation_id, first.conversation_id,
        "a new conversation"
    );
    assert_eq!(
        encoding(&url, &first.customer_id),
        "hashtable",
        "the next opening"
    );
    let again = write(&h, "shop-7", "o-0-a", 321).await;
    assert!(
        again.duplicate,
        "the first order's message is still a duplicate"
    );
}
