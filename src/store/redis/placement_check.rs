//! The check of every Redis routing decision against the Rust placement rule: the route
//! script answers the inputs it read, and `routing::place` must decide the same.

use crate::domain::{AgentId, Decision, Presence, Route, RouteReason};
use crate::routing::{place, PersonalAgent, Placement};

/// The inputs the route script's decision read, as it answers them.
#[derive(Debug)]
pub(super) struct Seen<'a> {
    pub personal: &'a str,
    pub new: bool,
    pub presence: &'a str,
    pub room: bool,
    pub least_loaded: &'a str,
    pub fits: bool,
}

impl Seen<'_> {
    /// Whether the script decided what the Rust placement rule decides from the same
    /// inputs: the Lua is the production engine, `routing::place` its specification.
    pub fn agrees(&self, route: &Route) -> bool {
        let Ok(personal_id) = self.personal.parse::<AgentId>() else {
            return self.expected(None, route);
        };
        let presence = self.presence.parse().unwrap_or(Presence::Offline);
        let personal = PersonalAgent {
            id: &personal_id,
            presence,
            has_room: self.room,
            new: self.new,
            fits: self.fits,
        };
        self.expected(Some(personal), route)
    }

    fn expected(&self, personal: Option<PersonalAgent<'_>>, route: &Route) -> bool {
        let least_loaded = self.least_loaded.parse::<AgentId>().ok();
        // A first routing may always wait: the sticky wait has only just started.
        match place(personal, true, least_loaded.as_ref()) {
            Placement::Assign(agent, reason) => {
                route.decision == Decision::Assigned
                    && route.agent_id.as_ref() == Some(&agent)
                    && route.reason == reason
            }
            Placement::WaitFor(_) => route.reason == RouteReason::WaitingForPersonalAgent,
            Placement::Queue => route.reason == RouteReason::NoAgentAvailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(decision: Decision, agent: Option<&str>, reason: RouteReason) -> Route {
        Route {
            decision,
            agent_id: agent.map(|a| a.parse().expect("id")),
            queue: None,
            reason,
        }
    }

    #[test]
    fn a_script_decision_is_checked_against_the_placement_rule() {
        let seen = Seen {
            personal: "a",
            new: false,
            presence: "online",
            room: true,
            least_loaded: "b",
            fits: true,
        };
        let to_a = route(Decision::Assigned, Some("a"), RouteReason::PersonalAgent);
        assert!(seen.agrees(&to_a));
        let to_b = route(Decision::Assigned, Some("b"), RouteReason::Fallback);
        assert!(!seen.agrees(&to_b), "the personal agent had room");
        let full = Seen {
            room: false,
            ..seen
        };
        let waits = route(Decision::Queued, None, RouteReason::WaitingForPersonalAgent);
        assert!(full.agrees(&waits));
        let nobody = Seen {
            personal: "",
            new: false,
            presence: "",
            room: false,
            least_loaded: "",
            fits: false,
        };
        assert!(nobody.agrees(&route(
            Decision::Queued,
            None,
            RouteReason::NoAgentAvailable
        )));
        assert!(!nobody.agrees(&to_a));
        let unfit = Seen {
            fits: false,
            ..seen
        };
        assert!(
            unfit.agrees(&to_b),
            "a personal agent who does not fit is passed over"
        );
        assert!(!unfit.agrees(&to_a));
    }
}
