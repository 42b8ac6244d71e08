//! Prometheus metrics. A `Metrics` owns its registry (no global), so two apps in one
//! test process never share counters. Names and labels are fixed by CONTRACT "Metrics".

mod auth;
mod channels;
mod export;
mod hot;
mod labels;
mod retention;
mod upgrade;

use prometheus::{
    exponential_buckets, Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts,
    Registry, TextEncoder,
};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::domain::{Channel, Decision, Direction, Language, PerChannel, RouteReason};
use crate::routing::Fit;
use crate::store::RoutingSnapshot;

/// Why a call skipped the menu (CONTRACT rule 5's "known" rules).
pub const IVR_BYPASS_REASONS: [&str; 5] = [
    "open_conversation",
    "recent_contact",
    "tier",
    "open_complaint",
    "known_customer",
];
/// How a caller left the menu.
pub const IVR_OUTCOMES: [&str; 3] = ["agent_requested", "self_served", "hung_up"];

/// The deployment-wide gauges are read from the store at most this often.
const SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(1);

/// Every contract metric, registered at start so dashboards see them before any event.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Service-level wait targets in seconds, in `Channel::ALL` order.
    sla_targets: PerChannel<f64>,
    /// When the deployment-wide gauges were last read from the store.
    refreshed: Arc<Mutex<Option<Instant>>>,
    pub repeat_contacts: IntCounterVec,
    pub transfers: IntCounterVec,
    pub http_requests: IntCounterVec,
    pub http_seconds: HistogramVec,
    pub store_seconds: HistogramVec,
    pub store_errors: IntCounterVec,
    pub messages: IntCounterVec,
    pub routing_decisions: IntCounterVec,
    hot: hot::HotCounters,
    pub wait_seconds: HistogramVec,
    pub first_response_seconds: HistogramVec,
    pub ivr_seconds: HistogramVec,
    pub queue_depth: GaugeVec,
    /// The same depth per routing group (the deployment-wide gauge is their sum).
    pub group_queue_depth: GaugeVec,
    pub oldest_wait_seconds: GaugeVec,
    pub agents: GaugeVec,
    pub ivr_bypass: IntCounterVec,
    pub sla_breaches: IntCounterVec,
    pub skipped: IntCounterVec,
    pub rate_limited: IntCounterVec,
    pub placement_mismatches: prometheus::IntCounter,
    pub upgrade: upgrade::UpgradeMetrics,
    pub retention: retention::RetentionMetrics,
    pub auth: auth::AuthMetrics,
    pub export: export::ExportMetrics,
    pub channels: channels::ChannelMetrics,
    pub csat_responses: IntCounterVec,
    pub complaints: IntCounterVec,
    pub deadline_breaches: IntCounterVec,
    pub follow_ups: prometheus::IntCounter,
    /// Assignments of conversations that needed a language or skills, by fit.
    pub requirement_decisions: IntCounterVec,
    pub language_wait_seconds: HistogramVec,
}

impl Metrics {
    /// With the contract's default service levels: phone 20 s, email 24 h, chat 60 s,
    /// social 15 min.
    pub fn new() -> Result<Self, prometheus::Error> {
        Self::with_sla_targets(PerChannel {
            phone: 20.0,
            email: 86_400.0,
            chat: 60.0,
            social: 900.0,
        })
    }

    pub fn with_sla_targets(sla_targets: PerChannel<f64>) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        // Waits range from seconds (phone) to hours (e-mail): 1 s doubling to ~18 h, plus
        // each channel's service-level target as an exact bucket, so "% answered within
        // target" is a plain bucket ratio.
        let mut waits = exponential_buckets(1.0, 2.0, 17)?;
        waits.extend(sla_targets.iter().map(|(_, t)| *t).filter(|t| *t > 0.0));
        waits.sort_by(f64::total_cmp);
        waits.dedup();
        let messages = counter(
            &registry,
            "switchboard_messages_total",
            "Messages in and out.",
            &["channel", "direction"],
        )?;
        let routing_decisions = counter(
            &registry,
            "switchboard_routing_decisions_total",
            "Every routing decision.",
            &["decision", "reason"],
        )?;
        let m = Metrics {
            hot: hot::HotCounters::new(&messages, &routing_decisions),
            messages,
            routing_decisions,
            wait_seconds: histogram(
                &registry,
                "switchboard_wait_seconds",
                "From a conversation starting to wait until an agent is assigned.",
                &["channel", "queue", "outcome"],
                waits.clone(),
            )?,
            csat_responses: counter(
                &registry,
                "switchboard_csat_responses_total",
                "Customers' ratings 1-5 (resolve's csat, surveys).",
                &["channel", "rating"],
            )?,
            complaints: counter(
                &registry,
                "switchboard_complaints_total",
                "Complaints raised (the button, a rating of 1-2, an agent, an admin).",
                &["channel", "source"],
            )?,
            deadline_breaches: counter(
                &registry,
                "switchboard_deadline_breaches_total",
                "Conversations past a working-day deadline (first_response, resolution), escalated.",
                &["kind", "channel"],
            )?,
            follow_ups: {
                let c = prometheus::IntCounter::new(
                    "switchboard_follow_ups_total",
                    "Follow-ups that came due and were routed to the personal agent.",
                )?;
                registry.register(Box::new(c.clone()))?;
                c
            },
            requirement_decisions: counter(
                &registry,
                "switchboard_requirement_decisions_total",
                "Assignments of conversations that needed a language or skills, by how the agent fit: met (what was first asked), relaxed (skills at any level), unmet (relaxed to anyone).",
                &["outcome"],
            )?,
            language_wait_seconds: histogram(
                &registry,
                "switchboard_language_wait_seconds",
                "From a conversation that asked for a language starting to wait until an agent is assigned.",
                &["language"],
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
            group_queue_depth: gauge(
                &registry,
                "switchboard_group_queue_depth",
                "Conversations waiting now, per routing group.",
                &["group", "queue"],
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
            repeat_contacts: counter(
                &registry,
                "switchboard_repeat_contacts_total",
                "Messages that reopened a recently resolved conversation.",
                &["channel"],
            )?,
            transfers: counter(
                &registry,
                "switchboard_transfers_total",
                "Conversation transfers, by where they went (agent, queue, supervisor).",
                &["to"],
            )?,
            http_requests: counter(
                &registry,
                "switchboard_http_requests_total",
                "HTTP requests by method, route pattern and status.",
                &["method", "route", "status"],
            )?,
            http_seconds: histogram(
                &registry,
                "switchboard_http_request_duration_seconds",
                "HTTP request latency by method and route pattern.",
                &["method", "route"],
                exponential_buckets(0.0005, 2.0, 16)?,
            )?,
            store_seconds: histogram(
                &registry,
                "switchboard_store_operation_seconds",
                "Store (Redis) operation latency by operation.",
                &["op"],
                exponential_buckets(0.0001, 2.0, 16)?,
            )?,
            store_errors: counter(
                &registry,
                "switchboard_store_errors_total",
                "Store errors by operation and kind.",
                &["op", "kind"],
            )?,
            skipped: counter(
                &registry,
                "switchboard_webhook_messages_skipped_total",
                "Invalid messages skipped inside a provider's batch (the rest were stored).",
                &["adapter"],
            )?,
            rate_limited: counter(
                &registry,
                "switchboard_rate_limited_total",
                "Requests refused with 429, by kind of caller.",
                &["caller"],
            )?,
            placement_mismatches: {
                let c = prometheus::IntCounter::new(
                    "switchboard_placement_mismatches_total",
                    "Routing decisions of the Redis scripts that the Rust placement rule disagreed with.",
                )?;
                registry.register(Box::new(c.clone()))?;
                c
            },
            upgrade: upgrade::UpgradeMetrics::register(&registry, crate::app::upgrade::VERSION)?,
            retention: retention::RetentionMetrics::register(&registry)?,
            auth: auth::AuthMetrics::register(&registry)?,
            export: export::ExportMetrics::register(&registry)?,
            channels: channels::ChannelMetrics::register(&registry)?,
            sla_targets,
            refreshed: Arc::new(Mutex::new(None)),
            registry,
        };
        m.initialise_labels();
        Ok(m)
    }

    /// Sets the deployment-wide gauges from a routing snapshot read at `now`.
    pub fn deployment(&self, snapshot: &RoutingSnapshot, now: DateTime<Utc>) {
        for q in &snapshot.queues {
            self.queue_depth
                .with_label_values(&[q.queue.as_str()])
                .set(q.depth as f64);
            let oldest = q
                .oldest_since
                .map_or(0.0, |s| (now - s).num_milliseconds().max(0) as f64 / 1000.0);
            self.oldest_wait_seconds
                .with_label_values(&[q.queue.as_str()])
                .set(oldest);
        }
        self.group_queue_depth.reset();
        for (group, queues) in &snapshot.by_group {
            for q in queues {
                self.group_queue_depth
                    .with_label_values(&[group.as_str(), q.queue.as_str()])
                    .set(q.depth as f64);
            }
        }
        for (status, n) in [
            ("online", snapshot.online),
            ("away", snapshot.away),
            ("offline", snapshot.offline),
        ] {
            self.agents.with_label_values(&[status]).set(n as f64);
        }
    }

    /// Drops the deployment-wide gauges: the store could not be read.
    pub fn deployment_unknown(&self) {
        self.queue_depth.reset();
        self.group_queue_depth.reset();
        self.oldest_wait_seconds.reset();
        self.agents.reset();
    }

    /// A conversation routing gave to an agent at once, without waiting.
    pub fn assigned_now(&self, channel: Channel, reason: RouteReason) {
        let ch = channel.as_str();
        self.wait_seconds
            .with_label_values(&[ch, ch, reason.as_str()])
            .observe(0.0);
    }

    pub fn message(&self, channel: Channel, direction: Direction) {
        self.hot.message(channel, direction).inc();
    }

    pub fn routed(&self, decision: Decision, reason: RouteReason) {
        match self.hot.routed(decision, reason) {
            Some(counter) => counter.inc(),
            None => self
                .routing_decisions
                .with_label_values(&[decision_label(decision), reason.as_str()])
                .inc(),
        }
    }

    /// Conversations routing gave to agents after a wait: each one's wait, whether it
    /// broke the channel's service level, and the decision.
    pub fn assignments(&self, made: &[crate::store::Assignment]) {
        for a in made {
            let ch = a.channel.as_str();
            let waited = a.waited.num_milliseconds().max(0) as f64 / 1000.0;
            self.wait_seconds
                .with_label_values(&[ch, ch, a.reason.as_str()])
                .observe(waited);
            if waited > self.sla_target(a.channel) {
                self.sla_breaches.with_label_values(&[ch]).inc();
            }
            self.routed(Decision::Assigned, a.reason);
            self.fitted(a.fit, a.language.as_ref(), waited);
        }
    }

    /// How an assignment met what the conversation needed, and its wait by language.
    pub fn fitted(&self, fit: Fit, language: Option<&Language>, waited: f64) {
        if fit != Fit::None {
            self.requirement_decisions
                .with_label_values(&[fit.as_str()])
                .inc();
        }
        if let Some(language) = language {
            self.language_wait_seconds
                .with_label_values(&[language.as_str()])
                .observe(waited);
        }
    }

    fn sla_target(&self, channel: Channel) -> f64 {
        self.sla_targets[channel]
    }

    /// Brings the mismatch counter up to what the store has seen.
    pub fn placement_mismatches_seen(&self, total: u64) {
        let counted = self.placement_mismatches.get();
        if total > counted {
            self.placement_mismatches.inc_by(total - counted);
        }
    }

    /// Whether the deployment-wide gauges are older than a second (and claims the refresh).
    pub fn deployment_stale(&self) -> bool {
        let mut last = self.refreshed.lock().unwrap_or_else(|p| p.into_inner());
        let stale = last.is_none_or(|t| t.elapsed() >= SNAPSHOT_MAX_AGE);
        if stale {
            *last = Some(Instant::now());
        }
        stale
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
    fn service_level_targets_are_exact_wait_buckets() {
        let m = Metrics::new().expect("metrics");
        m.wait_seconds
            .with_label_values(&["chat", "chat", "fallback"])
            .observe(59.0);
        let text = m.render().expect("render");
        let bucket = r#"switchboard_wait_seconds_bucket{channel="chat",outcome="fallback",queue="chat",le="60"} 1"#;
        assert!(text.contains(bucket), "{text}");
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
