//! The idempotency record of an ingested message, as stored in the customer's `:dx`
//! hash after `<expiry ms>|`: `<message id>|<conversation id>|<repeat 0/1>|<decision>|
//! <agent>|<queue>|<reason>`. Flat, so `ingest.lua` writes it with a string join instead
//! of a JSON encoder; records written as JSON by earlier versions are still read.

use crate::domain::{ConversationId, Decision, MessageId, Receipt, Route};
use crate::store::StoreError;

use super::codec::corrupt;

/// The record of `receipt` (without its expiry).
pub(super) fn encode(receipt: &Receipt) -> String {
    let r = &receipt.route;
    let decision = match r.decision {
        Decision::Assigned => "assigned",
        Decision::Queued => "queued",
    };
    format!(
        "{}|{}|{}|{decision}|{}|{}|{}",
        receipt.message_id.as_str(),
        receipt.conversation_id,
        u8::from(receipt.repeat_contact),
        r.agent_id.as_deref().unwrap_or(""),
        r.queue.as_deref().unwrap_or(""),
        r.reason.as_str(),
    )
}

/// The receipt a record stands for.
pub(super) fn decode(raw: &str, duplicate: bool) -> Result<Receipt, StoreError> {
    if raw.starts_with('{') {
        let receipt: Receipt = serde_json::from_str(raw).map_err(corrupt)?;
        return Ok(Receipt {
            duplicate,
            ..receipt
        });
    }
    let parts: Vec<&str> = raw.split('|').collect();
    let [message, conversation, repeat, decision, agent, queue, reason] = parts.as_slice() else {
        return Err(StoreError::Corrupt(format!("receipt record {raw}")));
    };
    let conversation: ConversationId = conversation.parse().map_err(corrupt)?;
    let some = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    Ok(Receipt {
        message_id: MessageId::parse(message)
            .ok_or_else(|| StoreError::Corrupt(format!("message id {message}")))?,
        customer_id: conversation.customer().clone(),
        conversation_id: conversation,
        duplicate,
        route: Route {
            decision: match *decision {
                "assigned" => Decision::Assigned,
                "queued" => Decision::Queued,
                other => return Err(StoreError::Corrupt(format!("decision {other}"))),
            },
            agent_id: some(agent),
            queue: some(queue),
            reason: reason.parse().map_err(corrupt)?,
        },
        repeat_contact: *repeat == "1",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CustomerId, RouteReason};

    fn receipt(route: Route) -> Receipt {
        let customer = CustomerId::generate();
        Receipt {
            message_id: MessageId::generate(),
            conversation_id: ConversationId::new(customer.clone(), 7),
            customer_id: customer,
            duplicate: false,
            route,
            repeat_contact: true,
        }
    }

    #[test]
    fn a_record_reads_back_as_the_receipt_it_was_made_of() {
        let assigned = receipt(Route {
            decision: Decision::Assigned,
            agent_id: Some("ann".into()),
            queue: None,
            reason: RouteReason::AlreadyAssigned,
        });
        let queued = receipt(Route::queued("chat"));
        for r in [assigned, queued] {
            assert_eq!(decode(&encode(&r), false).expect("decodes"), r);
            let dup = decode(&encode(&r), true).expect("decodes");
            assert!(dup.duplicate);
        }
    }

    #[test]
    fn records_written_as_json_are_still_read() {
        let r = receipt(Route::queued("email"));
        let json = serde_json::to_string(&r).expect("json");
        assert_eq!(decode(&json, false).expect("decodes"), r);
        assert!(decode("garbage", false).is_err());
    }
}
