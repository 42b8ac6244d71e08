//! The label handles of the counters every message touches, resolved once:
//! `with_label_values` hashes the labels and takes the vector's lock on every call.

use prometheus::{IntCounter, IntCounterVec};

use super::{decision_label, direction_label};
use crate::domain::{Channel, Decision, Direction, RouteReason};

#[derive(Clone)]
pub(super) struct HotCounters {
    /// `switchboard_messages_total` by channel (`Channel::ALL` order), in then out.
    messages: Vec<[IntCounter; 2]>,
    /// `switchboard_routing_decisions_total` by decision (assigned, queued) and reason
    /// (`RouteReason::ALL` order).
    routed: [Vec<IntCounter>; 2],
}

impl HotCounters {
    pub fn new(messages: &IntCounterVec, routed: &IntCounterVec) -> Self {
        let message = |c: Channel, d: Direction| {
            messages.with_label_values(&[c.as_str(), direction_label(d)])
        };
        let decided = |d: Decision| {
            RouteReason::ALL
                .iter()
                .map(|r| routed.with_label_values(&[decision_label(d), r.as_str()]))
                .collect()
        };
        Self {
            messages: Channel::ALL
                .iter()
                .map(|c| [message(*c, Direction::In), message(*c, Direction::Out)])
                .collect(),
            routed: [decided(Decision::Assigned), decided(Decision::Queued)],
        }
    }

    pub fn message(&self, channel: Channel, direction: Direction) -> &IntCounter {
        let by_channel = &self.messages[position(&Channel::ALL, &channel)];
        &by_channel[usize::from(direction == Direction::Out)]
    }

    pub fn routed(&self, decision: Decision, reason: RouteReason) -> &IntCounter {
        let by_decision = &self.routed[usize::from(decision == Decision::Queued)];
        &by_decision[position(&RouteReason::ALL, &reason)]
    }
}

fn position<T: PartialEq>(all: &[T], item: &T) -> usize {
    all.iter().position(|x| x == item).unwrap_or(0)
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
        for (i, reason) in RouteReason::ALL.iter().enumerate() {
            hot.routed(Decision::Queued, *reason).inc_by(i as u64 + 1);
            let queued = routed.with_label_values(&["queued", reason.as_str()]).get();
            assert_eq!(queued, i as u64 + 1, "{reason:?}");
            assert_eq!(
                routed
                    .with_label_values(&["assigned", reason.as_str()])
                    .get(),
                0
            );
        }
    }
}
