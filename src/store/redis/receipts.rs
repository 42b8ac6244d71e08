//! The idempotency record of an ingested message, in the customer's `:dx` hash: under
//! the digest of its idempotency key (`field`), `<expiry ms>|<record>` with the record
//! `<message id>|<conversation>|<repeat 0/1><decision a/q>|<agent>|<queue>|<reason code>`:
//! the message id in its compact form (`codec::compact_id`), the conversation as its
//! sequence number alone when it is the hash owner's (`merge_in.lua` writes the customer
//! in when it copies records to another customer). A customer's records then stay under
//! Redis's 64-byte listpack limit, so Redis keeps them in one listpack instead of a hash
//! table: about 75 instead of 190 bytes per message. Flat, so `ingest.lua` writes it
//! with a string join. Records of earlier versions (under the plain key, with the full
//! conversation id and reason names, or as JSON) are still read.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::domain::{ConversationId, CustomerId, Decision, Queue, Receipt, Route, RouteReason};
use crate::store::StoreError;

use super::codec::{compact_id, corrupt, expand_id};

/// The queue versions up to 0.1.0 named in the record they wrote before routing decided
/// (a queue that never existed); it reads as none.
const PLACEHOLDER_QUEUE: &str = "default";

/// The record's field: 96 bits of SHA-256 of the idempotency key, as 16 characters. Two
/// keys of one customer share a field with a chance of about n²/2⁹⁷ for n records.
pub(super) fn field(idempotency_key: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..12])
}

/// A customer's records hash lives `ttl + ttl / SLACK_PARTS` past the write that last
/// pushed its expiry, and that push covers the customer's writes for the next
/// `ttl / SLACK_PARTS` (`dxt` in the customer's hash): each record outlives its own
/// `ttl`, and a customer writing often costs one `PEXPIRE` per slack, not per message.
pub const SLACK_PARTS: i64 = 64;

/// How many records a customer's hash may hold before `ingest.lua` makes it a hash table
/// (`as_table`): past this, Redis's scan of a listpack on every lookup costs more than
/// the table's memory saves.
pub const TABLE_AT: i64 = 64;

/// The field of the record that makes a records hash a table: its value is longer than
/// `hash-max-listpack-value`; no digest (`field`) is ever this.
pub const TABLE_FIELD: &str = "~table";

/// How long a records hash lives past the write that pushed its expiry.
pub(super) fn hash_lifetime_ms(ttl_ms: i64) -> i64 {
    ttl_ms + ttl_ms / SLACK_PARTS
}

/// One character per reason. Exhaustive, so a new reason cannot be stored without one.
pub(super) fn reason_code(reason: RouteReason) -> char {
    match reason {
        RouteReason::PersonalAgent => 'p',
        RouteReason::NewPersonalAgent => 'n',
        RouteReason::AlreadyAssigned => 'a',
        RouteReason::Fallback => 'f',
        RouteReason::NoAgentAvailable => 'q',
        RouteReason::WaitingForPersonalAgent => 'w',
    }
}

fn reason_of(code: &str) -> Result<RouteReason, StoreError> {
    RouteReason::ALL
        .into_iter()
        .find(|r| code.len() == 1 && code.starts_with(reason_code(*r)))
        .ok_or_else(|| StoreError::Corrupt(format!("reason code {code}")))
}

/// The record of `receipt`, whose conversation is the owner's of the hash it goes to.
pub(super) fn encode(receipt: &Receipt) -> String {
    let r = &receipt.route;
    let decision = match r.decision {
        Decision::Assigned => 'a',
        Decision::Queued => 'q',
    };
    format!(
        "{}|{}|{}{decision}|{}|{}|{}",
        compact_id(&receipt.message_id),
        receipt.conversation_id.seq(),
        u8::from(receipt.repeat_contact),
        r.agent_id.as_ref().map_or("", |a| a.as_str()),
        r.queue.map_or("", Queue::as_str),
        reason_code(r.reason),
    )
}

/// The receipt a record in `owner`'s hash stands for.
pub(super) fn decode(
    raw: &str,
    duplicate: bool,
    owner: &CustomerId,
) -> Result<Receipt, StoreError> {
    if raw.starts_with('{') {
        let mut json: serde_json::Value = serde_json::from_str(raw).map_err(corrupt)?;
        if json["route"]["queue"] == PLACEHOLDER_QUEUE {
            json["route"]["queue"] = serde_json::Value::Null;
        }
        let receipt: Receipt = serde_json::from_value(json).map_err(corrupt)?;
        return Ok(Receipt {
            duplicate,
            ..receipt
        });
    }
    let parts: Vec<&str> = raw.split('|').collect();
    let (message, conversation, repeat, decision, agent, queue, reason) = match parts.as_slice() {
        [m, c, flags, a, q, r] if flags.len() == 2 => {
            let (repeat, decision) = flags.split_at(1);
            (*m, *c, repeat, decision, *a, *q, reason_of(r)?)
        }
        [m, c, repeat, decision, a, q, r] => (
            *m,
            *c,
            *repeat,
            *decision,
            *a,
            *q,
            r.parse().map_err(corrupt)?,
        ),
        _ => return Err(StoreError::Corrupt(format!("receipt record {raw}"))),
    };
    let conversation: ConversationId = match conversation.parse::<u64>() {
        Ok(seq) => ConversationId::new(owner.clone(), seq),
        Err(_) => conversation.parse().map_err(corrupt)?,
    };
    let some = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    Ok(Receipt {
        message_id: expand_id(message)
            .ok_or_else(|| StoreError::Corrupt(format!("message id {message}")))?,
        customer_id: conversation.customer().clone(),
        conversation_id: conversation,
        duplicate,
        route: Route {
            decision: match decision {
                "a" | "assigned" => Decision::Assigned,
                "q" | "queued" => Decision::Queued,
                other => return Err(StoreError::Corrupt(format!("decision {other}"))),
            },
            agent_id: some(agent)
                .map(|a| a.parse())
                .transpose()
                .map_err(corrupt)?,
            queue: some(queue)
                .filter(|q| q != PLACEHOLDER_QUEUE)
                .map(|q| q.parse())
                .transpose()
                .map_err(corrupt)?,
            reason,
        },
        repeat_contact: repeat == "1",
        auto_reply: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Channel, MessageId};

    fn receipt(route: Route) -> Receipt {
        let customer = CustomerId::generate();
        Receipt {
            message_id: MessageId::generate(),
            conversation_id: ConversationId::new(customer.clone(), 7),
            customer_id: customer,
            duplicate: false,
            route,
            repeat_contact: true,
            auto_reply: None,
        }
    }

    #[test]
    fn a_record_reads_back_as_the_receipt_it_was_made_of() {
        let assigned = receipt(Route {
            decision: Decision::Assigned,
            agent_id: Some("ann".parse().expect("id")),
            queue: None,
            reason: RouteReason::AlreadyAssigned,
        });
        let queued = receipt(Route::queued(Queue::Channel(Channel::Chat)));
        for r in [assigned, queued] {
            let owner = r.customer_id.clone();
            assert_eq!(decode(&encode(&r), false, &owner).expect("decodes"), r);
            let dup = decode(&encode(&r), true, &owner).expect("decodes");
            assert!(dup.duplicate);
        }
    }

    #[test]
    fn a_typical_record_fits_a_listpack_entry() {
        let r = receipt(Route {
            decision: Decision::Assigned,
            agent_id: Some("agent-68".parse().expect("id")),
            queue: None,
            reason: RouteReason::AlreadyAssigned,
        });
        // With its `<expiry ms>|` prefix, under Redis's hash-max-listpack-value (64).
        assert!(14 + encode(&r).len() <= 64, "{}", encode(&r));
        assert_eq!(field("chat:-:some-external-id").len(), 16);
        assert_ne!(field("chat:-:a"), field("chat:-:b"));
    }

    #[test]
    fn records_of_earlier_versions_are_still_read() {
        let r = receipt(Route::queued(Queue::Channel(Channel::Email)));
        let owner = CustomerId::generate();
        let json = serde_json::to_string(&r).expect("json");
        assert_eq!(decode(&json, false, &owner).expect("decodes"), r);
        let flat = format!(
            "{}|{}|1|queued||email|no_agent_available",
            r.message_id.as_str(),
            r.conversation_id
        );
        assert_eq!(decode(&flat, false, &owner).expect("decodes"), r);
        assert!(decode("garbage", false, &owner).is_err());
    }

    #[test]
    fn the_placeholder_queue_of_0_1_0_reads_as_none_and_no_other_unknown_queue_does() {
        let owner = CustomerId::generate();
        let id = compact_id(&MessageId::generate());
        let code = reason_code(RouteReason::NoAgentAvailable);
        let record = |queue: &str| format!("{id}|3|0q||{queue}|{code}");
        let placeholder = decode(&record("default"), false, &owner).expect("reads");
        assert_eq!(placeholder.route.queue, None);
        assert!(decode(&record("nowhere"), false, &owner).is_err());
    }

    #[test]
    fn every_reason_has_its_own_code() {
        for reason in RouteReason::ALL {
            assert_eq!(
                reason_of(&reason_code(reason).to_string()).expect("code"),
                reason
            );
        }
    }
}
