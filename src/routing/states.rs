//! The words a route record is written in, shared with the Lua scripts (which get them
//! rendered from here, never typed): where a routed conversation stands, and the cause
//! of an assignment that is not a routing decision.

/// Where a routed conversation stands in its group (a route record's `state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteState {
    /// An agent holds it.
    Assigned,
    /// It waits for its personal agent (busy or away), until the sticky wait ends.
    Waiting,
    /// It waits in its channel's (or the supervisor's) queue for whoever has room.
    Queued,
}

impl RouteState {
    pub const ALL: [RouteState; 3] = [
        RouteState::Assigned,
        RouteState::Waiting,
        RouteState::Queued,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RouteState::Assigned => "assigned",
            RouteState::Waiting => "waiting",
            RouteState::Queued => "queued",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

/// The cause an assignment carries when no routing rule made it: a transfer names its
/// target, who holds the conversation without becoming anyone's personal agent by it.
pub const TRANSFER_CAUSE: &str = "transfer";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_as_itself() {
        for state in RouteState::ALL {
            assert_eq!(RouteState::parse(state.as_str()), Some(state));
        }
        assert_eq!(RouteState::parse("resolved"), None);
    }
}
