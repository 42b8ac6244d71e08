//! The data lifecycle's settings (CONTRACT "Data lifecycle (v3)"): where the archive is
//! and when conversations move to it or go.

use serde::Deserialize;

use super::{secs, Settings};
use crate::domain::CardNumbers;

/// `SWITCHBOARD_ARCHIVE__URL`: the archive tier's PostgreSQL; unset, no archive.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ArchiveSettings {
    #[serde(deserialize_with = "super::blank_is_none")]
    pub url: Option<String>,
}

/// The event feed (CONTRACT "Event export (v3)").
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ExportSettings {
    /// Seconds an entry stays in the feed: how long a reader may be away and still resume
    /// from its cursor without a gap (7 days).
    pub keep_secs: u64,
    /// Where the webhook sink POSTs pages of events (`SWITCHBOARD_EXPORT__WEBHOOK_URL`;
    /// unset: no webhook).
    pub webhook_url: Option<String>,
    /// The HMAC key its requests are signed with (unset: `SWITCHBOARD_OUTBOUND_SECRET`).
    pub webhook_secret: Option<String>,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            keep_secs: 7 * 24 * 3600,
            webhook_url: None,
            webhook_secret: None,
        }
    }
}

/// When resolved conversations leave Redis for the archive, and when they go entirely.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RetentionSettings {
    /// Seconds after resolution a conversation moves to the archive (0: never); never
    /// inside the reopen window, which a conversation must have left first.
    pub archive_after_secs: u64,
    /// Seconds after resolution a conversation is deleted wherever it is, and after the
    /// last activity a customer with nothing left is erased (0: keep).
    pub delete_after_secs: u64,
    /// Seconds the audit trail keeps an entry in Redis.
    pub audit_keep_secs: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            archive_after_secs: 30 * 24 * 3600,
            delete_after_secs: 0,
            audit_keep_secs: 90 * 24 * 3600,
        }
    }
}

/// `SWITCHBOARD_REDACTION__*`: what is masked in texts before anything keeps them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RedactionSettings {
    /// `mask` (the default) or `off`: payment card numbers in inbound and outbound texts
    /// and subjects (CONTRACT "Card numbers").
    pub card_numbers: CardNumbers,
}

impl Settings {
    /// How long after resolution a conversation moves to the archive, if it ever does:
    /// the setting, but never less than the reopen window.
    pub fn archive_after(&self) -> Option<chrono::Duration> {
        let after = self.retention.archive_after_secs;
        (after > 0 && self.archive.url.is_some())
            .then(|| secs(after.max(self.ingest.reopen_window_secs)))
    }

    /// How long after resolution a conversation is deleted, if ever: the setting, but
    /// never inside the reopen window, nor before the archive could take it (with an
    /// archive, deletion works from it).
    pub fn delete_after(&self) -> Option<chrono::Duration> {
        let after = self.retention.delete_after_secs;
        let archived = self
            .archive_after()
            .map_or(0, |a| a.num_seconds().max(0) as u64);
        (after > 0).then(|| secs(after.max(self.ingest.reopen_window_secs).max(archived)))
    }

    /// How long the audit trail keeps an entry (at least a day).
    pub fn audit_keep(&self) -> chrono::Duration {
        secs(self.retention.audit_keep_secs.max(24 * 3600))
    }

    /// Refuses an archive URL that is no PostgreSQL URL.
    pub(super) fn validate_lifecycle(&self) -> Result<(), String> {
        match &self.archive.url {
            Some(url) if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) => {
                Err("`archive.url` must be a postgres:// URL".into())
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, config::ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_from(env).and_then(|s| s.validate().map(|()| s))
    }

    #[test]
    fn archiving_waits_for_the_reopen_window_and_needs_an_archive() {
        let none = load(&[]).expect("defaults");
        assert_eq!(none.retention.archive_after_secs, 2_592_000);
        assert_eq!(none.retention.delete_after_secs, 0);
        assert_eq!(none.archive_after(), None, "no archive, nothing moves");
        let url = ("SWITCHBOARD_ARCHIVE__URL", "postgres://sb@127.0.0.1/sb");
        let short = load(&[url, ("SWITCHBOARD_RETENTION__ARCHIVE_AFTER_SECS", "5")]).expect("ok");
        assert_eq!(short.archive_after(), Some(chrono::Duration::hours(72)));
        let long =
            load(&[url, ("SWITCHBOARD_RETENTION__ARCHIVE_AFTER_SECS", "400000")]).expect("ok");
        assert_eq!(
            long.archive_after(),
            Some(chrono::Duration::seconds(400_000))
        );
        assert_eq!(long.delete_after(), None, "keep by default");
        let both = load(&[
            url,
            ("SWITCHBOARD_RETENTION__ARCHIVE_AFTER_SECS", "400000"),
            ("SWITCHBOARD_RETENTION__DELETE_AFTER_SECS", "300000"),
        ])
        .expect("ok");
        assert_eq!(
            both.delete_after(),
            Some(chrono::Duration::seconds(400_000)),
            "not before the archive could take it"
        );
        let alone = load(&[("SWITCHBOARD_RETENTION__DELETE_AFTER_SECS", "5")]).expect("ok");
        assert_eq!(alone.delete_after(), Some(chrono::Duration::hours(72)));
        let never = load(&[url, ("SWITCHBOARD_RETENTION__ARCHIVE_AFTER_SECS", "0")]).expect("ok");
        assert_eq!(never.archive_after(), None);
        assert!(load(&[("SWITCHBOARD_ARCHIVE__URL", "mysql://x")]).is_err());
    }
}
