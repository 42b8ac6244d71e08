//! Prometheus metrics. A `Metrics` owns its registry (no global), so two apps in one
//! test process never share counters. Names and labels are fixed by CONTRACT "Metrics".

use prometheus::{
    exponential_buckets, Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts,
    Registry, TextEncoder,
};

use crate::domain::{Channel, Decision, Direction, RouteReason};

/// Every contract metric, registered at start so dashboards see them before any event.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub messages: IntCounterVec,
    pub routing_decisions: IntCounterVec,
    pub wait_seconds: HistogramVec,
    pub first_response_seconds: HistogramVec,
    pub ivr_seconds: HistogramVec,
    pub queue_depth: GaugeVec,
    pub oldest_wait_seconds: GaugeVec,
    pub agents: GaugeVec,
    pub ivr_bypass: IntCounterVec,
    pub sla_breaches: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        // Waits range from seconds (phone) to hours (e-mail): 1 s doubling to ~9 h.
        let waits = exponential_buckets(1.0, 2.0, 16)?;
        let m = Metrics {
            messages: counter(
                &registry,
                "switchboard_messages_total",
                "Messages in and out.",
                &["channel", "direction"],
            )?,
            routing_decisions: counter(
                &registry,
                "switchboard_routing_decisions_total",
                "Every routing decision.",
                &["decision", "reason"],
            )?,
            wait_seconds: histogram(
                &registry,
                "switchboard_wait_seconds",
                "From a conversation starting to wait until an agent is assigned.",
                &["channel", "queue", "outcome"],
                waits.clone(),
            )?,
            first_response_seconds: histogram(
                &registry,
                "switchboard_first_response_seconds",
                "From waiting until the agent's first reply.",
                &["channel"],
                waits,
            )?,
            ivr_seconds: histogram(
                &registry,
                "switchboard_ivr_seconds",
                "Time a caller spent in the menu.",
                &["outcome"],
                exponential_buckets(1.0, 2.0, 10)?,
            )?,
            queue_depth: gauge(
                &registry,
                "switchboard_queue_depth",
                "Conversations waiting now.",
                &["queue"],
            )?,
            oldest_wait_seconds: gauge(
                &registry,
                "switchboard_oldest_wait_seconds",
                "Age of the longest-waiting conversation.",
                &["queue"],
            )?,
            agents: gauge(
                &registry,
                "switchboard_agents",
                "Agents by presence.",
                &["status"],
            )?,
            ivr_bypass: counter(
                &registry,
                "switchboard_ivr_bypass_total",
                "Calls sent past the menu.",
                &["reason"],
            )?,
            sla_breaches: counter(
                &registry,
                "switchboard_sla_breaches_total",
                "Waits longer than the channel's service-level target.",
                &["channel"],
            )?,
            registry,
        };
        m.initialise_labels();
        Ok(m)
    }

    /// Known label values start at zero so `rate()` and alerts work before the first event.
    fn initialise_labels(&self) {
        for channel in Channel::ALL {
            for direction in [Direction::In, Direction::Out] {
                self.messages
                    .with_label_values(&[channel.as_str(), direction_label(direction)]);
            }
        }
        for (decision, reason) in [
            (Decision::Queued, RouteReason::NoAgentAvailable),
            (Decision::Queued, RouteReason::WaitingForPersonalAgent),
            (Decision::Assigned, RouteReason::PersonalAgent),
            (Decision::Assigned, RouteReason::NewPersonalAgent),
            (Decision::Assigned, RouteReason::AlreadyAssigned),
            (Decision::Assigned, RouteReason::Fallback),
        ] {
            self.routing_decisions
                .with_label_values(&[decision_label(decision), reason_label(reason)]);
        }
        for status in ["online", "away", "offline"] {
            self.agents.with_label_values(&[status]);
        }
    }

    pub fn message(&self, channel: Channel, direction: Direction) {
        self.messages
            .with_label_values(&[channel.as_str(), direction_label(direction)])
            .inc();
    }

    pub fn routed(&self, decision: Decision, reason: RouteReason) {
        self.routing_decisions
            .with_label_values(&[decision_label(decision), reason_label(reason)])
            .inc();
    }

    /// Conversations routing gave to agents: each one's wait and the decision.
    pub fn assignments(&self, made: &[crate::store::Assignment]) {
        for a in made {
            let outcome = reason_label(a.reason);
            let waited = a.waited.num_milliseconds().max(0) as f64 / 1000.0;
            self.wait_seconds
                .with_label_values(&[a.channel.as_str(), a.channel.as_str(), outcome])
                .observe(waited);
            self.routed(Decision::Assigned, a.reason);
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

fn direction_label(d: Direction) -> &'static str {
    match d {
        Direction::In => "in",
        Direction::Out => "out",
    }
}

fn decision_label(d: Decision) -> &'static str {
    match d {
        Decision::Assigned => "assigned",
        Decision::Queued => "queued",
    }
}

fn reason_label(r: RouteReason) -> &'static str {
    match r {
        RouteReason::PersonalAgent => "personal_agent",
        RouteReason::NewPersonalAgent => "new_personal_agent",
        RouteReason::AlreadyAssigned => "already_assigned",
        RouteReason::Fallback => "fallback",
        RouteReason::NoAgentAvailable => "no_agent_available",
        RouteReason::WaitingForPersonalAgent => "waiting_for_personal_agent",
    }
}

fn counter(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<GaugeVec, prometheus::Error> {
    let g = GaugeVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn histogram(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Vec<f64>,
) -> Result<HistogramVec, prometheus::Error> {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)?;
    r.register(Box::new(h.clone()))?;
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_counts_start_at_zero_and_follow_events() {
        let m = Metrics::new().expect("metrics");
        let text = m.render().expect("render");
        assert!(text.contains(r#"switchboard_messages_total{channel="email",direction="in"} 0"#));
        m.message(Channel::Email, Direction::In);
        let text = m.render().expect("render");
        assert!(text.contains(r#"switchboard_messages_total{channel="email",direction="in"} 1"#));
    }

    #[test]
    fn two_instances_do_not_share_counters() {
        let a = Metrics::new().expect("metrics");
        let b = Metrics::new().expect("metrics");
        a.routed(Decision::Queued, RouteReason::NoAgentAvailable);
        let text = b.render().expect("render");
        assert!(text.contains(r#"switchboard_routing_decisions_total{decision="queued",reason="no_agent_available"} 0"#));
    }
}
