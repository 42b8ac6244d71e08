//! One row per resolved conversation (CONTRACT "Event export (v3)": the facts
//! `switchboard.conversation.resolved` carries): how long the customer waited, for a
//! first answer and for a resolution, in wall-clock time and in working time (the
//! business-hours calendar), and whether they reached their own personal agent. Computed
//! once, from the conversation's milestones, so the feed, the warehouse and a consumer
//! recomputing them from the raw events agree.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AgentId, Calendar, Channel};

/// What happened to a conversation, as its events record it.
#[derive(Debug, Clone, PartialEq)]
pub struct Milestones {
    /// When it started waiting (its first message, or its reopening).
    pub waiting_since: DateTime<Utc>,
    /// The first assignment: when, and to whom.
    pub first_assigned: Option<(DateTime<Utc>, AgentId)>,
    /// Staff's first reply to the customer.
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: DateTime<Utc>,
    pub transfers: u32,
    pub channels: Vec<Channel>,
    /// Who held it when it was resolved.
    pub agent_id: Option<AgentId>,
    /// The customer's personal agent when it was resolved.
    pub personal_agent_id: Option<AgentId>,
    pub csat: Option<u8>,
    pub complaint: bool,
    /// How often it was reopened (a repeat contact within the reopen window).
    pub reopened: u32,
    /// The routing group (team) it was routed in.
    pub group: String,
}

/// A conversation's milestones as its resolve records them in its
/// `switchboard.conversation.resolved` event before the relay computes the facts (times in
/// ms since the epoch; `lua/resolve.lua` writes the same fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedMilestones {
    pub conversation_id: String,
    pub customer_id: String,
    pub waiting_since: i64,
    #[serde(default)]
    pub first_assigned_at: Option<i64>,
    #[serde(default)]
    pub first_agent: Option<String>,
    #[serde(default)]
    pub first_response_at: Option<i64>,
    pub resolved_at: i64,
    #[serde(default)]
    pub transfers: u32,
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default)]
    pub agent_id: Option<String>,
    #[serde(default)]
    pub personal_agent_id: Option<String>,
    #[serde(default)]
    pub csat: Option<u8>,
    #[serde(default)]
    pub complaint: bool,
    #[serde(default)]
    pub reopened: u32,
    #[serde(default)]
    pub group: String,
}

impl RecordedMilestones {
    /// The milestones, or `None` if a time or a name does not parse.
    pub fn milestones(&self) -> Option<Milestones> {
        let at = DateTime::from_timestamp_millis;
        let agent = |a: &Option<String>| -> Option<Option<AgentId>> {
            match a.as_deref() {
                None | Some("") => Some(None),
                Some(a) => a.parse().ok().map(Some),
            }
        };
        let first_assigned = match (self.first_assigned_at, agent(&self.first_agent)?) {
            (Some(ms), Some(a)) => Some((at(ms)?, a)),
            _ => None,
        };
        Some(Milestones {
            waiting_since: at(self.waiting_since)?,
            first_assigned,
            first_response_at: match self.first_response_at {
                Some(ms) => Some(at(ms)?),
                None => None,
            },
            resolved_at: at(self.resolved_at)?,
            transfers: self.transfers,
            channels: self
                .channels
                .iter()
                .filter_map(|c| c.parse().ok())
                .collect(),
            agent_id: agent(&self.agent_id)?,
            personal_agent_id: agent(&self.personal_agent_id)?,
            csat: self.csat,
            complaint: self.complaint,
            reopened: self.reopened,
            group: self.group.clone(),
        })
    }
}

/// The facts of a resolved conversation; durations in seconds, `None` where the moment
/// never came (never assigned, never answered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationFacts {
    pub wait_secs: Option<f64>,
    pub wait_working_secs: Option<f64>,
    pub first_response_secs: Option<f64>,
    pub first_response_working_secs: Option<f64>,
    pub resolution_secs: f64,
    pub resolution_working_secs: f64,
    pub transfers: u32,
    pub channels: Vec<String>,
    pub agent_id: Option<String>,
    pub personal_agent_id: Option<String>,
    /// The first agent to take it was the customer's personal agent.
    pub personal_agent_hit: bool,
    pub csat: Option<u8>,
    pub complaint: bool,
    pub reopened: u32,
    /// The routing group (team) it was routed in.
    pub group: String,
}

fn secs(d: chrono::Duration) -> f64 {
    d.num_milliseconds().max(0) as f64 / 1000.0
}

/// The facts of `m` under `calendar`.
pub fn facts(m: &Milestones, calendar: &Calendar) -> ConversationFacts {
    let from = m.waiting_since;
    let wall = |to: DateTime<Utc>| secs(to - from);
    let working = |to: DateTime<Utc>| secs(calendar.working_between(from, to));
    let assigned = m.first_assigned.as_ref().map(|(at, _)| *at);
    let mut channels: Vec<String> = m.channels.iter().map(|c| c.as_str().to_owned()).collect();
    channels.sort();
    channels.dedup();
    ConversationFacts {
        wait_secs: assigned.map(wall),
        wait_working_secs: assigned.map(working),
        first_response_secs: m.first_response_at.map(wall),
        first_response_working_secs: m.first_response_at.map(working),
        resolution_secs: wall(m.resolved_at),
        resolution_working_secs: working(m.resolved_at),
        transfers: m.transfers,
        channels,
        agent_id: m.agent_id.as_ref().map(ToString::to_string),
        personal_agent_id: m.personal_agent_id.as_ref().map(ToString::to_string),
        personal_agent_hit: match (&m.first_assigned, &m.personal_agent_id) {
            (Some((_, first)), Some(personal)) => first == personal,
            _ => false,
        },
        csat: m.csat,
        complaint: m.complaint,
        reopened: m.reopened,
        group: m.group.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    fn agent(id: &str) -> AgentId {
        id.parse().expect("agent id")
    }

    fn friday_evening() -> Milestones {
        Milestones {
            waiting_since: at("2026-11-20T17:50:00Z"),
            first_assigned: Some((at("2026-11-20T17:52:00Z"), agent("ann"))),
            first_response_at: Some(at("2026-11-23T09:10:00Z")),
            resolved_at: at("2026-11-23T10:00:00Z"),
            transfers: 1,
            channels: vec![Channel::Email, Channel::Chat, Channel::Email],
            agent_id: Some(agent("bob")),
            personal_agent_id: Some(agent("ann")),
            csat: Some(4),
            complaint: false,
            reopened: 0,
            group: "default".into(),
        }
    }

    #[test]
    fn a_friday_evening_email_answered_on_monday_was_answered_within_a_working_day() {
        let f = facts(&friday_evening(), &Calendar::default());
        assert_eq!(f.wait_secs, Some(120.0));
        assert_eq!(f.wait_working_secs, Some(120.0));
        // 63 h 20 min on the clock, 20 minutes of business hours (10 on Friday, 10 on Monday).
        assert_eq!(f.first_response_secs, Some(228_000.0));
        assert_eq!(f.first_response_working_secs, Some(1200.0));
        assert_eq!(f.resolution_working_secs, 4200.0);
        assert_eq!(f.channels, ["chat", "email"]);
        assert!(
            f.personal_agent_hit,
            "Ann, her personal agent, took it first"
        );
        assert_eq!(f.agent_id.as_deref(), Some("bob"));
    }

    #[test]
    fn missing_moments_are_none_and_a_stranger_first_is_no_hit() {
        let mut m = friday_evening();
        m.first_assigned = Some((at("2026-11-20T17:52:00Z"), agent("bob")));
        m.first_response_at = None;
        let f = facts(&m, &Calendar::default());
        assert!(!f.personal_agent_hit);
        assert_eq!(
            (f.first_response_secs, f.first_response_working_secs),
            (None, None)
        );
        m.first_assigned = None;
        let f = facts(&m, &Calendar::default());
        assert_eq!(f.wait_secs, None);
        assert!(!f.personal_agent_hit, "never assigned");
    }
}
