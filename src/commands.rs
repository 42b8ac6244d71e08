//! Operators' subcommands besides serving: `switchboard upgrade status|finalize` (the
//! storage format gate, as `GET /v1/storage-format` and `POST
//! /v1/storage-format/finalize` do over HTTP).

use chrono::Utc;

use crate::app::{self, AppError};
use crate::configuration::Settings;
use crate::startup::{app_state, open_store};

pub const UPGRADE_USAGE: &str = "usage: switchboard upgrade status|finalize";

/// Why an upgrade command did not succeed, and its exit code.
#[derive(Debug)]
pub enum CommandError {
    /// Wrong arguments or the store unreachable: exit 2.
    Usage(String),
    /// Finalize refused (a live replica cannot read the format): exit 1.
    Refused(String),
}

/// Runs `switchboard upgrade <action>` against the configured store; answers what to print.
pub async fn upgrade(settings: &Settings, action: Option<&str>) -> Result<String, CommandError> {
    if settings.redis_url.is_none() {
        return Err(CommandError::Usage(
            "SWITCHBOARD_REDIS_URL is unset: the embedded store has no replicas to upgrade".into(),
        ));
    }
    let usage = |e: &dyn std::fmt::Display| CommandError::Usage(e.to_string());
    let store = open_store(settings).map_err(|e| usage(&e))?;
    let app = app_state(settings, store).map_err(|e| usage(&e))?;
    let now = Utc::now();
    match action {
        Some("status") => {}
        // The same use case as `POST /v1/storage-format/finalize`.
        Some("finalize") => match app::upgrade::finalize(&app, now).await {
            Ok(_) => {}
            Err(AppError::Conflict(why)) => return Err(CommandError::Refused(why)),
            Err(e) => return Err(usage(&e)),
        },
        _ => return Err(CommandError::Usage(UPGRADE_USAGE.into())),
    }
    let status = app::upgrade::status(&app, now)
        .await
        .map_err(|e| usage(&e))?;
    serde_json::to_string_pretty(&status).map_err(|e| usage(&e))
}
