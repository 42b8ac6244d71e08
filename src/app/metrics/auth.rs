//! Refused credentials (CONTRACT "Agent sign-in (v3)"), by reason: a burst of them is an
//! attack or a misconfigured identity provider (the chart's `SwitchboardAuthFailures`).

use prometheus::{IntCounterVec, Opts, Registry};

use crate::app::access::AuthFailure;

#[derive(Clone)]
pub struct AuthMetrics {
    failures: IntCounterVec,
}

impl AuthMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let failures = IntCounterVec::new(
            Opts::new(
                "switchboard_auth_failures_total",
                "Presented credentials refused (401), by reason.",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(failures.clone()))?;
        for reason in AuthFailure::ALL {
            failures.with_label_values(&[reason.as_str()]);
        }
        Ok(Self { failures })
    }

    pub fn failed(&self, reason: AuthFailure) {
        self.failures.with_label_values(&[reason.as_str()]).inc();
    }
}
