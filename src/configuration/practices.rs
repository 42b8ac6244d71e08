//! The settings of the personal-manager practices: business hours and working-day
//! deadlines.

use std::collections::HashMap;

use serde::Deserialize;

use super::Settings;
use crate::domain::Calendar;

/// When the business works: what working-day deadlines count.
#[derive(Debug, Clone, Deserialize)]
pub struct BusinessHoursSettings {
    /// An IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// Working days: `mon` … `sun`.
    pub days: Vec<String>,
    /// `HH:MM` local time.
    pub open: String,
    pub close: String,
    /// Dates without work, `YYYY-MM-DD`.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// Proactive contacts by the personal agent.
#[derive(Debug, Clone, Deserialize)]
pub struct FollowUpSettings {
    /// Days after a customer's first conversation resolves (0: no automatic follow-ups).
    pub after_first_resolution_days: u32,
}

/// How long conversations may take, in working time.
#[derive(Debug, Clone, Deserialize)]
pub struct DeadlineSettings {
    /// Working days to resolve a conversation; per-tier overrides below.
    pub resolution_working_days: u32,
    #[serde(default)]
    pub tier_resolution_working_days: HashMap<String, u32>,
}

impl Settings {
    /// When a customer's first resolution schedules their follow-up, if it does.
    pub fn follow_up_after(&self) -> Option<chrono::Duration> {
        let days = self.follow_ups.after_first_resolution_days;
        (days > 0).then(|| chrono::Duration::days(i64::from(days)))
    }

    /// The deadlines' calendar and lengths (first response: each channel's
    /// service-level target, in working time).
    pub fn deadline_policy(&self) -> Result<crate::app::deadlines::DeadlinePolicy, String> {
        let b = &self.business_hours;
        let calendar = Calendar::new(&b.time_zone, &b.days, &b.open, &b.close, &b.holidays)
            .map_err(|e| format!("business_hours: {e}"))?;
        Ok(crate::app::deadlines::DeadlinePolicy {
            calendar,
            first_response: super::durations(&self.metrics.sla_target_secs),
            resolution_days: self.deadlines.resolution_working_days,
            tier_resolution_days: self.deadlines.tier_resolution_working_days.clone(),
        })
    }
}
