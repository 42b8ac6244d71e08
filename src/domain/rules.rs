//! Stitching and conversation rules as plain functions, shared by both stores
//! (the Redis Lua scripts mirror them; the conformance suite keeps the two in step).

use chrono::{DateTime, Duration, Utc};

use super::CustomerId;

/// What an inbound message does to its customer's conversations (CONTRACT rule 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationStep {
    /// Join the open conversation with this sequence number.
    Append(u64),
    /// Reopen this recently resolved conversation: a repeat contact.
    Reopen(u64),
    /// Start a new conversation.
    Start,
}

/// `open` is the customer's open conversation; `last_resolved` their latest
/// conversation if it is resolved, with when.
pub fn next_step(
    open: Option<u64>,
    last_resolved: Option<(u64, DateTime<Utc>)>,
    now: DateTime<Utc>,
    reopen_window: Duration,
) -> ConversationStep {
    match (open, last_resolved) {
        (Some(seq), _) => ConversationStep::Append(seq),
        (None, Some((seq, at))) if now - at <= reopen_window => ConversationStep::Reopen(seq),
        _ => ConversationStep::Start,
    }
}

/// The customer that survives when one message proves several customers are one person:
/// the oldest. A customer id this very request made up (`fresh`) only wins when no
/// existing customer is involved, so clock skew between replicas cannot make a
/// brand-new record swallow an old one.
pub fn merge_target<'a>(
    owners: impl IntoIterator<Item = &'a CustomerId>,
    fresh: &CustomerId,
) -> CustomerId {
    let mut existing: Vec<&CustomerId> = owners.into_iter().filter(|c| *c != fresh).collect();
    existing.sort();
    existing
        .first()
        .map_or_else(|| fresh.clone(), |c| (*c).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn an_open_conversation_is_joined() {
        let step = next_step(
            Some(3),
            None,
            t("2026-01-01T00:00:00Z"),
            Duration::hours(72),
        );
        assert_eq!(step, ConversationStep::Append(3));
    }

    #[test]
    fn a_message_inside_the_reopen_window_reopens() {
        let resolved = t("2026-01-01T00:00:00Z");
        let step = next_step(
            None,
            Some((2, resolved)),
            t("2026-01-03T23:59:00Z"),
            Duration::hours(72),
        );
        assert_eq!(step, ConversationStep::Reopen(2));
    }

    #[test]
    fn a_message_after_the_reopen_window_starts_anew() {
        let resolved = t("2026-01-01T00:00:00Z");
        let step = next_step(
            None,
            Some((2, resolved)),
            t("2026-01-04T00:00:01Z"),
            Duration::hours(72),
        );
        assert_eq!(step, ConversationStep::Start);
        assert_eq!(
            next_step(None, None, resolved, Duration::hours(72)),
            ConversationStep::Start
        );
    }

    #[test]
    fn the_oldest_existing_customer_wins_a_merge() {
        let old = CustomerId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let young = CustomerId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let fresh = CustomerId::generate();
        assert_eq!(merge_target([&young, &old, &fresh], &fresh), old);
        assert_eq!(merge_target([&fresh], &fresh), fresh);
        // Even a fresh id that sorts first loses to an existing customer.
        assert_eq!(merge_target([&young, &old], &old.clone()), young);
    }
}
