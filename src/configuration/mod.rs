//! Settings: `config/default.toml` (built in, and read from disk when present), then the
//! file named by `SWITCHBOARD_CONFIG`, then `SWITCHBOARD_<SECTION>__<KEY>` variables.
//! The contract's fixed variables (`SWITCHBOARD_REDIS_URL`, ...) are top-level keys.

mod auth;
mod lifecycle;
mod practices;
mod redis;

pub use auth::{AuthSettings, OidcSettings, MIN_AGENT_SECRET_BYTES};
pub use practices::{BusinessHoursSettings, DeadlineSettings, FollowUpSettings};
pub use redis::RedisSettings;

use std::collections::HashMap;
use std::fmt;

use config::{Config, Environment, File, FileFormat};
use serde::Deserialize;

use crate::domain::{Limits, PerChannel};
use crate::routing::Relax;
use crate::store::StorePolicy;

const DEFAULTS: &str = include_str!("../../config/default.toml");

#[derive(Clone, Deserialize)]
pub struct Settings {
    pub listen: String,
    pub ops_listen: String,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub redis_url: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub admin_token: Option<String>,
    #[serde(default)]
    adapter_tokens: String,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub agent_jwt_secret: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub public_url: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub twilio_auth_token: Option<String>,
    /// With the auth token and the public URL: queued callers are connected through
    /// Twilio's REST API when routing assigns them.
    #[serde(default, deserialize_with = "blank_is_none")]
    pub twilio_account_sid: Option<String>,
    /// Twilio's API base (a stand-in in tests).
    #[serde(default = "twilio_api_url")]
    pub twilio_api_url: String,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub meta_app_secret: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub meta_verify_token: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub telegram_secret_token: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub outbound_url: Option<String>,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub outbound_secret: Option<String>,
    pub log: LogSettings,
    pub http: HttpSettings,
    pub redis: RedisSettings,
    pub ingest: IngestSettings,
    pub routing: RoutingSettings,
    pub sse: SseSettings,
    pub metrics: MetricsSettings,
    pub business_hours: BusinessHoursSettings,
    pub deadlines: DeadlineSettings,
    pub follow_ups: FollowUpSettings,
    pub ivr: IvrSettings,
    pub outbound: OutboundSettings,
    #[serde(default)]
    pub rate_limit: crate::app::rate_limits::RateLimits,
    /// `[[inboxes]]`: where messages arrive, mapped to a group, language and skills.
    #[serde(default)]
    pub inboxes: Vec<crate::domain::InboxSettings>,
    #[serde(default)]
    pub auth: AuthSettings,
    #[serde(default)]
    pub archive: lifecycle::ArchiveSettings,
    #[serde(default)]
    pub retention: lifecycle::RetentionSettings,
    #[serde(default)]
    pub redaction: lifecycle::RedactionSettings,
    #[serde(default)]
    pub export: lifecycle::ExportSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OutboundSettings {
    /// Per-channel adapter URLs overriding `SWITCHBOARD_OUTBOUND_URL`.
    #[serde(default)]
    pub urls: HashMap<String, String>,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// Wait before the second attempt (milliseconds); it doubles after each failure.
    pub first_backoff_ms: u64,
    /// How often each replica's sender looks for due deliveries (milliseconds).
    pub poll_interval_ms: u64,
    /// A PEM file with the CA of the adapters' `https://` certificates, for a private CA
    /// (`SWITCHBOARD_OUTBOUND__CA_FILE`); unset: the system's roots.
    #[serde(default, deserialize_with = "blank_is_none")]
    pub ca_file: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IvrSettings {
    /// Which callers count as known and skip the menu: any of `open_conversation`,
    /// `recent_contact`, `tier`, `open_complaint`, `known_customer`.
    pub known_if: Vec<crate::app::calls::KnownRule>,
    /// "Recent" for `recent_contact`, in hours.
    pub recent_contact_hours: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetricsSettings {
    /// Service-level wait target per channel (seconds); longer waits count as breaches.
    pub sla_target_secs: PerChannel<u64>,
}

impl MetricsSettings {
    pub fn sla_targets(&self) -> PerChannel<f64> {
        self.sla_target_secs.map(|&s| s as f64)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SseSettings {
    /// How often an open event stream checks for new events (milliseconds).
    pub poll_interval_ms: u64,
    /// Seconds of silence after which a heartbeat comment is sent.
    pub heartbeat_secs: u64,
    /// Event streams one agent may hold open on one replica; more answer 429.
    #[serde(default = "max_streams_per_agent")]
    pub max_streams_per_agent: usize,
}

fn max_streams_per_agent() -> usize {
    crate::workers::event_hub::DEFAULT_MAX_STREAMS
}

#[derive(Debug, Clone, Deserialize)]
pub struct RoutingSettings {
    /// How long a conversation waits for its busy personal agent before falling back.
    pub sticky_wait_secs: PerChannel<u64>,
    /// Per customer tier overrides of `sticky_wait_secs` (all four channels each).
    #[serde(default)]
    pub tier_sticky_wait_secs: HashMap<String, PerChannel<u64>>,
    /// How often each replica checks for expired waits (milliseconds).
    pub timer_interval_ms: u64,
    /// How long an agent may be offline before its conversations go back to routing.
    pub offline_grace_secs: u64,
    /// After how long (from when a conversation starts waiting) its skills are needed at
    /// any level, and after how long it needs nothing; 0 means never.
    pub relax_any_level_secs: PerChannel<u64>,
    pub relax_anyone_secs: PerChannel<u64>,
    /// Per customer tier overrides of both (all four channels each).
    #[serde(default)]
    pub tier_relax_any_level_secs: HashMap<String, PerChannel<u64>>,
    #[serde(default)]
    pub tier_relax_anyone_secs: HashMap<String, PerChannel<u64>>,
}

/// Per channel relaxing steps from the two settings (0: never).
fn relax_steps(any_level: &PerChannel<u64>, anyone: &PerChannel<u64>) -> PerChannel<Relax> {
    let never_if_zero = |s: u64| (s > 0).then(|| secs(s));
    PerChannel::from_fn(|channel| Relax {
        any_level: never_if_zero(any_level[channel]),
        anyone: never_if_zero(anyone[channel]),
    })
}

fn twilio_api_url() -> String {
    "https://api.twilio.com".to_owned()
}

/// Seconds per channel as durations.
pub(crate) fn durations(seconds: &PerChannel<u64>) -> PerChannel<chrono::Duration> {
    seconds.map(|&s| secs(s))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    pub shutdown_timeout_secs: u64,
    pub workers: usize,
    /// Seconds a request's whole body may take to arrive; slower ones answer 408.
    #[serde(default = "body_timeout_secs")]
    pub body_timeout_secs: u64,
}

fn body_timeout_secs() -> u64 {
    crate::http::deadline::DEFAULT_BODY_TIMEOUT.as_secs()
}

#[derive(Debug, Clone, Deserialize)]
pub struct IngestSettings {
    pub default_region: String,
    pub max_body_bytes: usize,
    pub dedup_ttl_secs: u64,
    pub reopen_window_secs: u64,
    pub max_text_chars: usize,
    pub max_subject_chars: usize,
    pub max_display_name_chars: usize,
    pub max_external_id_chars: usize,
    pub max_identities: usize,
}

impl Settings {
    /// Reads the layered settings from the process environment.
    pub fn load() -> Result<Self, config::ConfigError> {
        Self::load_from(std::env::vars().collect())
    }

    /// Reads the layered settings with `env` standing in for the environment.
    pub fn load_from(env: HashMap<String, String>) -> Result<Self, config::ConfigError> {
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .add_source(File::with_name("config/default.toml").required(false));
        if let Some(path) = env.get("SWITCHBOARD_CONFIG").filter(|p| !p.is_empty()) {
            builder = builder.add_source(File::with_name(path).required(true));
        }
        let env_source = Environment::with_prefix("SWITCHBOARD")
            .prefix_separator("_")
            .separator("__")
            .source(Some(env));
        builder.add_source(env_source).build()?.try_deserialize()
    }

    /// Checks what deserialising cannot: values that must parse or name something real.
    pub fn validate(&self) -> Result<(), config::ConfigError> {
        let bad = |e: String| Err(config::ConfigError::Message(e));
        if let Err(e) = crate::domain::IdentityNormaliser::new(&self.ingest.default_region) {
            return bad(e.to_string());
        }
        if let Err(e) = crate::domain::Inboxes::new(&self.inboxes) {
            return bad(e.to_string());
        }
        for (name, addr) in [("listen", &self.listen), ("ops_listen", &self.ops_listen)] {
            if addr.parse::<std::net::SocketAddr>().is_err() {
                return bad(format!("`{name}` is not a socket address: {addr}"));
            }
        }
        if let Some(url) = &self.redis_url {
            let ok = url
                .split(',')
                .all(|u| u.trim().starts_with("redis://") || u.trim().starts_with("rediss://"));
            if !ok {
                return bad("`redis_url` must be redis:// or rediss:// URLs".into());
            }
        }
        if self.ingest.max_body_bytes == 0 {
            return bad("`ingest.max_body_bytes` must be positive".into());
        }
        if let Err(e) = self.validate_lifecycle() {
            return bad(e);
        }
        self.validate_secrets()
    }

    /// Adapter bearer tokens (`SWITCHBOARD_ADAPTER_TOKENS`, comma-separated).
    pub fn adapter_tokens(&self) -> Vec<String> {
        self.adapter_tokens
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn limits(&self) -> Limits {
        let i = &self.ingest;
        Limits {
            max_text_chars: i.max_text_chars,
            max_subject_chars: i.max_subject_chars,
            max_display_name_chars: i.max_display_name_chars,
            max_external_id_chars: i.max_external_id_chars,
            max_identities: i.max_identities,
        }
    }

    pub fn store_policy(&self) -> StorePolicy {
        let w = &self.routing.sticky_wait_secs;
        let r = &self.routing;
        StorePolicy {
            dedup_ttl: secs(self.ingest.dedup_ttl_secs),
            reopen_window: secs(self.ingest.reopen_window_secs),
            sticky_waits: durations(w),
            tier_sticky_waits: self
                .routing
                .tier_sticky_wait_secs
                .iter()
                .map(|(tier, w)| (tier.clone(), durations(w)))
                .collect(),
            offline_grace: secs(self.routing.offline_grace_secs),
            relax: relax_steps(&r.relax_any_level_secs, &r.relax_anyone_secs),
            tier_relax: r
                .tier_relax_any_level_secs
                .keys()
                .chain(r.tier_relax_anyone_secs.keys())
                .map(|tier| {
                    let any_level = r.tier_relax_any_level_secs.get(tier);
                    let anyone = r.tier_relax_anyone_secs.get(tier);
                    let steps = relax_steps(
                        any_level.unwrap_or(&r.relax_any_level_secs),
                        anyone.unwrap_or(&r.relax_anyone_secs),
                    );
                    (tier.clone(), steps)
                })
                .collect(),
        }
    }
}

fn secs(s: u64) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000))
}

fn blank_is_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
}

/// Secrets never reach the logs.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: &Option<String>| if s.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("ops_listen", &self.ops_listen)
            .field("redis_url", &self.redis_url.as_ref().map(|u| redact_url(u)))
            .field("admin_token", &set(&self.admin_token))
            .field("adapter_tokens", &self.adapter_tokens().len())
            .field("agent_jwt_secret", &set(&self.agent_jwt_secret))
            .field("public_url", &self.public_url)
            .field("log", &self.log)
            .field("http", &self.http)
            .field("redis", &self.redis)
            .field("ingest", &self.ingest)
            .field("routing", &self.routing)
            .field("sse", &self.sse)
            .field("auth", &self.auth)
            .field("metrics", &self.metrics)
            .field("ivr", &self.ivr)
            .field("outbound", &self.outbound)
            .finish_non_exhaustive()
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load_without_any_environment() {
        let s = Settings::load_from(env(&[])).expect("defaults load");
        assert_eq!(s.listen, "0.0.0.0:8080");
        assert_eq!(s.ops_listen, "0.0.0.0:9090");
        assert!(s.redis_url.is_none());
        assert_eq!(s.ingest.max_body_bytes, 1024 * 1024);
        assert_eq!(s.store_policy().reopen_window, chrono::Duration::hours(72));
    }

    #[test]
    fn fixed_variables_and_sections_come_from_the_environment() {
        let s = Settings::load_from(env(&[
            ("SWITCHBOARD_REDIS_URL", "redis://127.0.0.1:6380"),
            ("SWITCHBOARD_LISTEN", "127.0.0.1:1234"),
            ("SWITCHBOARD_ADAPTER_TOKENS", "a, b,,c"),
            ("SWITCHBOARD_INGEST__DEFAULT_REGION", "GB"),
            ("SWITCHBOARD_INGEST__MAX_BODY_BYTES", "2048"),
            ("SWITCHBOARD_LOG__FORMAT", "json"),
        ]))
        .expect("loads");
        assert_eq!(s.redis_url.as_deref(), Some("redis://127.0.0.1:6380"));
        assert_eq!(s.listen, "127.0.0.1:1234");
        assert_eq!(s.adapter_tokens(), ["a", "b", "c"]);
        assert_eq!(s.ingest.default_region, "GB");
        assert_eq!(s.ingest.max_body_bytes, 2048);
        assert_eq!(s.log.format, LogFormat::Json);
    }

    #[test]
    fn validation_catches_what_types_cannot() {
        let valid = Settings::load_from(env(&[])).expect("loads");
        assert!(valid.validate().is_ok());
        for (key, value) in [
            ("SWITCHBOARD_INGEST__DEFAULT_REGION", "XX"),
            ("SWITCHBOARD_LISTEN", "localhost"),
            ("SWITCHBOARD_REDIS_URL", "http://redis"),
            ("SWITCHBOARD_INGEST__MAX_BODY_BYTES", "0"),
            ("SWITCHBOARD_AGENT_JWT_SECRET", "x"),
            (
                "SWITCHBOARD_AGENT_JWT_SECRET",
                "31-bytes-is-one-short-of-enough",
            ),
            ("SWITCHBOARD_AUTH__MAX_TOKEN_LIFETIME_SECS", "0"),
        ] {
            let s = Settings::load_from(env(&[(key, value)])).expect("loads");
            assert!(s.validate().is_err(), "{key}={value}");
        }
    }

    #[test]
    fn an_admin_token_that_is_also_an_adapter_token_is_refused() {
        let s = Settings::load_from(env(&[
            ("SWITCHBOARD_ADMIN_TOKEN", "shared"),
            ("SWITCHBOARD_ADAPTER_TOKENS", "one,shared"),
        ]))
        .expect("loads");
        assert!(s.validate().is_err());
        let strong = "a-secret-of-thirty-two-bytes-ok!";
        let s = Settings::load_from(env(&[("SWITCHBOARD_AGENT_JWT_SECRET", strong)]));
        assert!(s.expect("loads").validate().is_ok(), "32 bytes are enough");
    }

    #[test]
    fn an_empty_redis_url_means_the_embedded_store() {
        let s = Settings::load_from(env(&[("SWITCHBOARD_REDIS_URL", "")])).expect("loads");
        assert!(s.redis_url.is_none());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let s = Settings::load_from(env(&[
            ("SWITCHBOARD_ADMIN_TOKEN", "hunter2"),
            ("SWITCHBOARD_REDIS_URL", "redis://u:pw@h:1"),
        ]))
        .expect("loads");
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("pw@"),
            "{shown}"
        );
    }
}
