//! What a conversation needs from its agent at each relaxing step (CONTRACT "languages
//! and skills"): the full requirement first, then every skill at any level, then nothing
//! at all — "Spanish billing ≥ 3 for 30 s, then a Spanish speaker who knows billing,
//! then anyone". Steps start at times fixed when the conversation is routed; a timer
//! moves it on, so a queue waiting on a rare skill does not wait for ever.

use chrono::{DateTime, Utc};

use crate::domain::{Language, Requirements};

use super::StorePolicy;

/// How well the agent who took a conversation fits what it needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// It needed nothing.
    None,
    /// The agent has everything it first needed.
    Met,
    /// The agent fits only after relaxing (skills at any level).
    Relaxed,
    /// The agent fits none of it: it was relaxed to "anyone".
    Unmet,
}

impl Fit {
    pub fn as_str(self) -> &'static str {
        match self {
            Fit::None => "none",
            Fit::Met => "met",
            Fit::Relaxed => "relaxed",
            Fit::Unmet => "unmet",
        }
    }

    pub fn parse(s: &str) -> Fit {
        match s {
            "met" => Fit::Met,
            "relaxed" => Fit::Relaxed,
            "unmet" => Fit::Unmet,
            _ => Fit::None,
        }
    }

    /// How an agent with `tags` fits a conversation that needed `needs`.
    pub fn of(tags: &[String], needs: &Needs) -> Fit {
        let has = |want: &[String]| want.iter().all(|t| tags.contains(t));
        if needs.exact.is_empty() {
            Fit::None
        } else if has(&needs.exact) {
            Fit::Met
        } else if has(&needs.any_level) {
            Fit::Relaxed
        } else {
            Fit::Unmet
        }
    }
}

/// A conversation's requirement ladder, fixed when it is routed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Tags an agent must have at first (`requirements::Requirements::tags`).
    pub exact: Vec<String>,
    /// Tags after the first step: every skill at level 1.
    pub any_level: Vec<String>,
    /// The language asked for, for the wait-by-language metric.
    pub language: Option<Language>,
    /// When skills drop to any level, and when nothing is required any more.
    pub any_level_at: Option<DateTime<Utc>>,
    pub anyone_at: Option<DateTime<Utc>>,
}

impl Needs {
    pub fn new(
        req: &Requirements,
        channel: crate::domain::Channel,
        tier: &str,
        since: DateTime<Utc>,
        policy: &StorePolicy,
    ) -> Self {
        if req.is_empty() {
            return Self::default();
        }
        let (any_level, anyone) = policy.relax_after(channel, tier);
        Self {
            exact: req.tags(false),
            any_level: req.tags(true),
            language: req.language.clone(),
            any_level_at: any_level.map(|d| since + d),
            anyone_at: anyone.map(|d| since + d),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
    }

    /// The tags required at `step` (0 exact, 1 any level, 2 none).
    pub fn at(&self, step: u8) -> &[String] {
        match step {
            0 => &self.exact,
            1 => &self.any_level,
            _ => &[],
        }
    }

    /// When the step after `step` begins, if it ever does.
    pub fn next_relax(&self, step: u8) -> Option<DateTime<Utc>> {
        match step {
            0 => self.any_level_at.or(self.anyone_at),
            1 => self.anyone_at,
            _ => None,
        }
    }

    /// The step a relaxing timer firing at `now` moves to from `step`.
    pub fn step_at(&self, step: u8, now: DateTime<Utc>) -> u8 {
        if self.anyone_at.is_some_and(|t| t <= now) {
            2
        } else {
            step.max(1)
        }
    }

    /// As the Redis routing script reads it: `exact|any_level|language|any_level_at|anyone_at`
    /// (tags space-separated, times in ms, empty when absent).
    pub fn encode(&self) -> String {
        let ms = |t: Option<DateTime<Utc>>| {
            t.map_or(String::new(), |t| t.timestamp_millis().to_string())
        };
        format!(
            "{}|{}|{}|{}|{}",
            self.exact.join(" "),
            self.any_level.join(" "),
            self.language.as_ref().map_or("", |l| l.as_str()),
            ms(self.any_level_at),
            ms(self.anyone_at)
        )
    }
}
