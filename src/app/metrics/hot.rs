//! The label handles of the counters every message touches, resolved once:
//! `with_label_values` hashes the labels and takes the vector's lock on every call.

use prometheus::{IntCounter, IntCounterVec};

use super::{decision_label, direction_label};
use crate::domain::{Channel, Decision, Direction, RouteReason};

/// The routing outcomes a decision normally has: each keeps its handle, and its series
/// exists from the start (a counter at 0, so rates and alerts read 0, not "no data").
const ROUTING_OUTCOMES: [(Decision, RouteReason); 6] = [
    (Decision::Queued, RouteReason::NoAgentAvailable),
    (Decision::Queued, RouteReason::WaitingForPersonalAgent),
    (Decision::Assigned, RouteReason::PersonalAgent),
    (Decision::Assigned, RouteReason::NewPersonalAgent),
    (Decision::Assigned, RouteReason::AlreadyAssigned),
    (Decision::Assigned, RouteReason::Fallback),
];

#[derive(Clone)]
pub(super) struct HotCounters {
    /// `switchboard_messages_total` by channel (`Channel::ALL` order), in then out.
    messages: Vec<[IntCounter; 2]>,
    /// `switchboard_routing_decisions_total` of each of `ROUTING_OUTCOMES`, in its order.
    routed: Vec<IntCounter>,
}

impl HotCounters {
    pub fn new(messages: &IntCounterVec, routed: &IntCounterVec) -> Self {
        let message = |c: Channel, d: Direction| {
            messages.with_label_values(&[c.as_str(), direction_label(d)])
        };
        Self {
            messages: Channel::ALL
                .iter()
                .map(|c| [message(*c, Direction::In), message(*c, Direction::Out)])
                .collect(),
            routed: ROUTING_OUTCOMES
                .iter()
                .map(|(d, r)| routed.with_label_values(&[decision_label(*d), r.as_str()]))
                .collect(),
        }
    }

    pub fn message(&self, channel: Channel, direction: Direction) -> &IntCounter {
        let by_channel = &self.messages[position(&Channel::ALL, &channel).unwrap_or(0)];
        &by_channel[usize::from(direction == Direction::Out)]
    }

    /// The kept handle of a usual outcome (`None` for an unusual one: the caller resolves
    /// its labels).
    pub fn routed(&self, decision: Decision, reason: RouteReason) -> Option<&IntCounter> {
        let i = position(&ROUTING_OUTCOMES, &(decision, reason))?;
        self.routed.get(i)
    }
}

fn position<T: PartialEq>(all: &[T], item: &T) -> Option<usize> {
    all.iter().position(|x| x == item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::Opts;

    #[test]
    fn each_handle_counts_its_own_series() {
        let vec = |name: &str, labels: &[&str]| {
            IntCounterVec::new(Opts::new(name, "test"), labels).expect("vec")
        };
        let messages = vec("m", &["channel", "direction"]);
        let routed = vec("r", &["decision", "reason"]);
        let hot = HotCounters::new(&messages, &routed);
        for (i, channel) in Channel::ALL.iter().enumerate() {
            hot.message(*channel, Direction::Out).inc_by(i as u64 + 1);
        }
        for (i, channel) in Channel::ALL.iter().enumerate() {
            let out = messages.with_label_values(&[channel.as_str(), "out"]).get();
            assert_eq!(out, i as u64 + 1, "{channel:?}");
            assert_eq!(
                messages.with_label_values(&[channel.as_str(), "in"]).get(),
                0
            );
        }
        for (i, (decision, reason)) in ROUTING_OUTCOMES.iter().enumerate() {
            let handle = hot.routed(*decision, *reason).expect("kept");
            handle.inc_by(i as u64 + 1);
            let series = routed.with_label_values(&[decision_label(*decision), reason.as_str()]);
            assert_eq!(series.get(), i as u64 + 1, "{decision:?} {reason:?}");
        }
        assert!(
            hot.routed(Decision::Queued, RouteReason::AlreadyAssigned)
                .is_none(),
            "an unusual outcome has no kept handle"
        );
    }
}
