//! What both stores compute alike: the stored form of an inbound message, the order of
//! a timeline, and a conversation's queue priority.

use chrono::{DateTime, Utc};

use crate::domain::{
    Channel, Direction, EntryKind, InboundMessage, Message, MessageId, DEFAULT_TIER,
};

/// Queue priority: a classified tier outranks the standard one; a repeat contact adds
/// one; a caller, who is on the line now, adds two (CONTRACT rule 5: "priority raised").
pub(super) fn priority(tier: &str, repeat_contact: bool, channel: Channel) -> u8 {
    let tier = if tier == DEFAULT_TIER { 0 } else { 2 };
    let caller = if channel == Channel::Phone { 2 } else { 0 };
    tier + u8::from(repeat_contact) + caller
}

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
    }
}

/// Orders a timeline by when things happened, then by arrival (message ids are UUIDv7).
pub(super) fn sort_timeline(messages: &mut [Message]) {
    messages.sort_by(|a, b| {
        a.at.cmp(&b.at)
            .then_with(|| a.id.as_str().cmp(b.id.as_str()))
    });
}
