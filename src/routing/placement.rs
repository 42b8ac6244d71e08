//! Where a conversation that needs an agent goes (CONTRACT rules 2–3), as a pure
//! decision over what the store found. Both stores apply it; the Lua script mirrors it.

use crate::domain::{AgentId, Presence, RouteReason};

/// The customer's personal agent as routing found them.
#[derive(Debug, Clone, Copy)]
pub struct PersonalAgent<'a> {
    pub id: &'a AgentId,
    pub presence: Presence,
    /// Below capacity on the conversation's channel.
    pub has_room: bool,
    /// Chosen just now, for this customer's first conversation.
    pub new: bool,
    /// Has the language and skills the conversation needs now. One who does not is
    /// passed over like an offline one: the conversation goes to a fitting colleague
    /// (the owner stays the owner and is told), never waits for them.
    pub fits: bool,
}

/// The outcome of routing one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Assign(AgentId, RouteReason),
    /// Wait for the (full or away) personal agent until the sticky wait expires.
    WaitFor(AgentId),
    Queue,
}

/// `may_wait` is false once the sticky wait has expired; `least_loaded` is the least
/// loaded online agent with room on the channel who fits the conversation, if any.
pub fn place(
    personal: Option<PersonalAgent<'_>>,
    may_wait: bool,
    least_loaded: Option<&AgentId>,
) -> Placement {
    if let Some(p) = personal.filter(|p| p.fits) {
        if p.presence == Presence::Online && p.has_room {
            let reason = if p.new {
                RouteReason::NewPersonalAgent
            } else {
                RouteReason::PersonalAgent
            };
            return Placement::Assign(p.id.clone(), reason);
        }
        if p.presence != Presence::Offline && may_wait {
            return Placement::WaitFor(p.id.clone());
        }
    }
    match least_loaded {
        Some(agent) => Placement::Assign(agent.clone(), RouteReason::Fallback),
        None => Placement::Queue,
    }
}

/// Queue order: higher priority first, then longer waiting. A smaller score goes first.
pub fn queue_score(priority: u8, waiting_since_ms: i64) -> f64 {
    (f64::from(9u8.saturating_sub(priority.min(9)))) * 1e13 + waiting_since_ms as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> AgentId {
        s.parse().expect("agent id")
    }

    fn personal(id: &AgentId, presence: Presence, has_room: bool) -> PersonalAgent<'_> {
        PersonalAgent {
            id,
            presence,
            has_room,
            new: false,
            fits: true,
        }
    }

    #[test]
    fn an_online_personal_agent_with_room_gets_the_conversation() {
        let a = id("a");
        let got = place(
            Some(personal(&a, Presence::Online, true)),
            true,
            Some(&id("b")),
        );
        assert_eq!(
            got,
            Placement::Assign(a.clone(), RouteReason::PersonalAgent)
        );
        let new = PersonalAgent {
            new: true,
            ..personal(&a, Presence::Online, true)
        };
        assert_eq!(
            place(Some(new), true, None),
            Placement::Assign(a, RouteReason::NewPersonalAgent)
        );
    }

    #[test]
    fn a_full_or_away_personal_agent_is_waited_for_until_the_wait_expires() {
        let (a, b) = (id("a"), id("b"));
        assert_eq!(
            place(Some(personal(&a, Presence::Online, false)), true, Some(&b)),
            Placement::WaitFor(a.clone())
        );
        assert_eq!(
            place(Some(personal(&a, Presence::Away, true)), true, Some(&b)),
            Placement::WaitFor(a.clone())
        );
        assert_eq!(
            place(Some(personal(&a, Presence::Online, false)), false, Some(&b)),
            Placement::Assign(b, RouteReason::Fallback)
        );
    }

    #[test]
    fn an_offline_personal_agent_means_fallback_or_queue() {
        let (a, b) = (id("a"), id("b"));
        assert_eq!(
            place(Some(personal(&a, Presence::Offline, true)), true, Some(&b)),
            Placement::Assign(b, RouteReason::Fallback)
        );
        assert_eq!(
            place(Some(personal(&a, Presence::Offline, true)), true, None),
            Placement::Queue
        );
        assert_eq!(place(None, true, None), Placement::Queue);
    }

    #[test]
    fn a_personal_agent_who_does_not_fit_is_neither_given_nor_waited_for() {
        let (a, b) = (id("a"), id("b"));
        let unfit = |presence, room| PersonalAgent {
            fits: false,
            ..personal(&a, presence, room)
        };
        assert_eq!(
            place(Some(unfit(Presence::Online, true)), true, Some(&b)),
            Placement::Assign(b, RouteReason::Fallback)
        );
        assert_eq!(
            place(Some(unfit(Presence::Away, true)), true, None),
            Placement::Queue
        );
    }

    #[test]
    fn priority_beats_time_waited_in_the_queue() {
        assert!(queue_score(1, 2_000_000_000_000) < queue_score(0, 1_000_000_000_000));
        assert!(queue_score(0, 1) < queue_score(0, 2));
    }
}
