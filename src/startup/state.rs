//! The service's state from its settings: the store, the use cases' `App` with what they
//! call out to (the outbound sender, Twilio's REST API, the archive), and what each
//! replica does once before it serves (announce its storage format, migrate the archive).

use std::sync::Arc;
use std::time::Duration;

use super::StartupError;
use crate::app::feed_sinks::ExportWebhook;
use crate::app::metrics::Metrics;
use crate::app::outbound::OutboundConfig;
use crate::app::{App, Instrumented};
use crate::configuration::Settings;
use crate::domain::IdentityNormaliser;
use crate::store::archive::Archive;
use crate::store::format;
use crate::store::{MemoryStore, RedisOptions, RedisStore, Store};

/// Applies the archive's schema migrations before serving. An archive still unreachable
/// delays archiving only: ingest, routing and reads of what Redis holds do not need it.
pub(super) async fn migrate_archive_at_start(state: &App) {
    if let Some(archive) = &state.archive {
        if let Err(e) = archive.migrate().await {
            tracing::warn!(error = %e, "archive not migrated yet: archiving waits for it");
        }
    }
}

/// Announces this replica before it serves, so it writes the deployment's format from
/// its first request; refuses to start on a format it cannot read. A store still
/// unreachable only delays the announcement to the first sweep (readiness waits for the
/// store meanwhile).
pub(super) async fn announce_at_start(state: &App) -> Result<(), StartupError> {
    match crate::app::upgrade::announce(state, chrono::Utc::now()).await {
        Ok(write) if write > format::NEWEST => Err(StartupError::Format {
            write,
            reads: format::NEWEST,
            version: crate::app::upgrade::VERSION,
        }),
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "storage format not announced yet; the sweep retries");
            Ok(())
        }
    }
}

/// The use cases' state over `store` (metered): what the HTTP layer and the workers
/// share. Tests drive use cases on it directly, with their own clock.
pub fn app_state(settings: &Settings, store: Arc<dyn Store>) -> Result<Arc<App>, StartupError> {
    let normaliser = IdentityNormaliser::new(&settings.ingest.default_region)
        .map_err(|e| StartupError::Setting(e.to_string()))?;
    let metrics = Metrics::with_sla_targets(settings.metrics.sla_targets())?;
    let store: Arc<dyn Store> = Arc::new(Instrumented::new(store, metrics.clone()));
    Ok(Arc::new(App {
        store,
        normaliser,
        limits: settings.limits(),
        metrics,
        ivr: crate::app::calls::IvrPolicy {
            known_if: settings.ivr.known_if.clone(),
            recent_contact: chrono::Duration::hours(
                i64::try_from(settings.ivr.recent_contact_hours).unwrap_or(24),
            ),
        },
        outbound: outbound_config(settings)?,
        export_webhook: export_webhook(settings)?,
        call_bridge: twilio_calls(settings)?,
        deadlines: settings.deadline_policy().map_err(StartupError::Setting)?,
        follow_up_after: settings.follow_up_after(),
        replica: crate::app::upgrade::Replica::new(Duration::from_millis(
            settings.routing.timer_interval_ms,
        )),
        archive: open_archive(settings)?,
        archive_after: settings.archive_after(),
        card_numbers: settings.redaction.card_numbers,
        audit_keep: settings.audit_keep(),
        feed_keep: chrono::Duration::seconds(
            i64::try_from(settings.export.keep_secs).unwrap_or(i64::MAX / 1000),
        ),
        feed_trimmed: Default::default(),
        delete_after: settings.delete_after(),
        blocks: Default::default(),
        auto_replies: Default::default(),
        inboxes: crate::domain::Inboxes::new(&settings.inboxes)
            .map_err(|e| StartupError::Setting(e.to_string()))?,
    }))
}

/// Outbound delivery is on when a secret and at least one URL are set.
fn outbound_config(settings: &Settings) -> Result<Option<OutboundConfig>, StartupError> {
    let Some(secret) = settings.outbound_secret.clone() else {
        return Ok(None);
    };
    let mut channel_urls = std::collections::HashMap::new();
    for (name, url) in &settings.outbound.urls {
        let channel = crate::domain::Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| {
                StartupError::Setting(format!("outbound.urls: unknown channel `{name}`"))
            })?;
        channel_urls.insert(channel, url.clone());
    }
    if settings.outbound_url.is_none() && channel_urls.is_empty() {
        return Ok(None);
    }
    let setting = |e: String| StartupError::Setting(format!("outbound: {e}"));
    let mut builder = reqwest::Client::builder();
    if let Some(path) = &settings.outbound.ca_file {
        let pem = std::fs::read(path).map_err(|e| setting(format!("ca_file `{path}`: {e}")))?;
        let ca = reqwest::Certificate::from_pem(&pem).map_err(|e| setting(e.to_string()))?;
        builder = builder.add_root_certificate(ca);
    }
    let client = builder.build().map_err(|e| setting(e.to_string()))?;
    Ok(Some(OutboundConfig {
        default_url: settings.outbound_url.clone(),
        channel_urls,
        secret,
        client,
    }))
}

/// The event feed's webhook sink, when its URL is set; its key is its own or the
/// replies' (a URL with neither is a setting error, never an unsigned export).
fn export_webhook(settings: &Settings) -> Result<Option<ExportWebhook>, StartupError> {
    let Some(url) = settings
        .export
        .webhook_url
        .clone()
        .filter(|u| !u.is_empty())
    else {
        return Ok(None);
    };
    let secret = settings
        .export
        .webhook_secret
        .clone()
        .or_else(|| settings.outbound_secret.clone())
        .ok_or_else(|| {
            StartupError::Setting(
                "export.webhook_url needs export.webhook_secret or SWITCHBOARD_OUTBOUND_SECRET"
                    .into(),
            )
        })?;
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| StartupError::Setting(format!("export: {e}")))?;
    Ok(Some(ExportWebhook {
        url,
        secret,
        client,
    }))
}

/// Queued callers are connected through Twilio's REST API when the account, its token
/// and the public URL (for the dial's callback) are set.
fn twilio_calls(
    settings: &Settings,
) -> Result<Option<Arc<dyn crate::app::bridge::CallBridge>>, StartupError> {
    let (Some(account_sid), Some(auth_token), Some(public_url)) = (
        &settings.twilio_account_sid,
        &settings.twilio_auth_token,
        &settings.public_url,
    ) else {
        return Ok(None);
    };
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| StartupError::Setting(format!("twilio: {e}")))?;
    Ok(Some(Arc::new(
        crate::adapters::twilio::calls_api::TwilioCalls {
            account_sid: account_sid.clone(),
            auth_token: auth_token.clone(),
            api_url: settings.twilio_api_url.trim_end_matches('/').to_owned(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            client,
        },
    )))
}

/// The embedded store when no Redis URL is set; one Redis server otherwise.
/// With an archive tier, the store reads archived conversations through it (a pool of
/// its own: the sweep's writes have `App::archive`'s).
pub fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, StartupError> {
    let policy = settings.store_policy();
    let archive = open_archive(settings)?;
    match settings.redis_url.as_deref() {
        None => {
            tracing::warn!(
                "SWITCHBOARD_REDIS_URL is unset: using the embedded in-memory store. \
                 It serves one process only and loses everything on exit; set a redis:// URL for production"
            );
            Ok(Arc::new(MemoryStore::new(policy).with_archive(archive)))
        }
        // One server, or a comma-separated list of a Redis Cluster's nodes.
        Some(url) => Ok(Arc::new(
            RedisStore::connect_with(
                url,
                &settings.redis.key_prefix,
                policy,
                &RedisOptions {
                    // Five of the timer ticks every replica of this deployment runs.
                    old_release_probe: Duration::from_millis(
                        settings.routing.timer_interval_ms.saturating_mul(5),
                    )
                    .max(Duration::from_millis(250)),
                    ..settings.redis.timeouts().map_err(StartupError::Setting)?
                },
            )?
            .with_archive(archive),
        )),
    }
}

/// The archive tier's pool, when `archive.url` is set (connected lazily).
fn open_archive(settings: &Settings) -> Result<Option<Archive>, StartupError> {
    Ok(settings
        .archive
        .url
        .as_deref()
        .map(Archive::connect)
        .transpose()?)
}
