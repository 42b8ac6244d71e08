//! Every label value dashboards and alerts rely on exists from the start (a counter at 0
//! rather than no series), so a rate or an alert reads 0, not "no data".

use super::{Metrics, IVR_BYPASS_REASONS, IVR_OUTCOMES};
use crate::domain::{Channel, RouteReason};
use crate::routing::Fit;

impl Metrics {
    /// Known label values start at zero so `rate()` and alerts work before the first event.
    pub(super) fn initialise_labels(&self) {
        self.skipped.with_label_values(&["meta"]);
        for caller in ["adapter", "agent", "admin", "provider", "unauthenticated"] {
            self.rate_limited.with_label_values(&[caller]);
        }
        // Messages and routing decisions start at zero through their kept handles
        // (`hot.rs`).
        for to in ["agent", "queue", "supervisor"] {
            self.transfers.with_label_values(&[to]);
        }
        for channel in Channel::ALL {
            let ch = channel.as_str();
            self.repeat_contacts.with_label_values(&[ch]);
            self.sla_breaches.with_label_values(&[ch]);
            self.first_response_seconds.with_label_values(&[ch]);
            for outcome in [
                RouteReason::PersonalAgent,
                RouteReason::NewPersonalAgent,
                RouteReason::Fallback,
            ] {
                self.wait_seconds
                    .with_label_values(&[ch, ch, outcome.as_str()]);
            }
        }
        for channel in Channel::ALL {
            for rating in ["1", "2", "3", "4", "5"] {
                self.csat_responses
                    .with_label_values(&[channel.as_str(), rating]);
            }
        }
        for channel in Channel::ALL {
            for source in ["button", "rating", "agent", "admin"] {
                self.complaints
                    .with_label_values(&[channel.as_str(), source]);
            }
        }
        for kind in ["first_response", "resolution"] {
            for channel in Channel::ALL {
                self.deadline_breaches
                    .with_label_values(&[kind, channel.as_str()]);
            }
        }
        for fit in [Fit::Met, Fit::Relaxed, Fit::Unmet] {
            self.requirement_decisions
                .with_label_values(&[fit.as_str()]);
        }
        // The IVR's label values, fixed for the phone adapter (issue 4) to use.
        for reason in IVR_BYPASS_REASONS {
            self.ivr_bypass.with_label_values(&[reason]);
        }
        for outcome in IVR_OUTCOMES {
            self.ivr_seconds.with_label_values(&[outcome]);
        }
        // The deployment-wide gauges (queue depth, oldest wait, agents) are set from the
        // store at each scrape; they are absent while the store cannot be read, which is
        // what the "store unreachable" alert watches.
    }
}
