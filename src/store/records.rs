//! What both stores compute alike: the stored form of an inbound message and the order
//! of a timeline.

use chrono::{DateTime, Utc};

use crate::domain::{Direction, EntryKind, InboundMessage, Message, MessageId};

/// The stored form of an inbound message.
pub(super) fn inbound_record(msg: &InboundMessage, now: DateTime<Utc>) -> Message {
    Message {
        id: MessageId::generate(),
        direction: Direction::In,
        channel: msg.medium().channel(),
        network: msg.medium().network(),
        from: msg.from().value().to_owned(),
        text: msg.text().to_owned(),
        subject: msg.subject().map(str::to_owned),
        external_id: Some(msg.external_id().to_owned()),
        at: msg.at(now),
        received_at: now,
        kind: EntryKind::Message,
        delivery: None,
    }
}

/// Orders a timeline by when things happened, then by arrival (message ids are UUIDv7).
pub(crate) fn sort_timeline(messages: &mut [Message]) {
    messages.sort_by(|a, b| {
        a.at.cmp(&b.at)
            .then_with(|| a.id.as_str().cmp(b.id.as_str()))
    });
}
