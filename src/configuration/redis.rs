//! How the service talks to Redis: keys' prefix, timeouts and retries, TLS, replicas
//! acknowledging writes, and the identity cache's trust.

use serde::Deserialize;

use super::blank_is_none;

#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    pub key_prefix: String,
    /// Connecting to a node, and waiting for an answer, before the request fails (503).
    #[serde(default = "two_seconds")]
    pub connect_timeout_ms: u64,
    #[serde(default = "two_seconds")]
    pub response_timeout_ms: u64,
    /// Retries of a failed request (a moved slot, a failover) and the waits between them.
    #[serde(default = "two")]
    pub retries: u32,
    #[serde(default = "fifty")]
    pub min_retry_wait_ms: u64,
    #[serde(default = "five_hundred")]
    pub max_retry_wait_ms: u64,
    /// A PEM file with the CA of the servers' certificates, for `rediss://` with a
    /// private CA (`SWITCHBOARD_REDIS__TLS_CA_FILE`); unset: the system's roots.
    #[serde(default, deserialize_with = "blank_is_none")]
    pub tls_ca_file: Option<String>,
    /// Replicas that must hold an ingested message before its 2xx (`WAIT`); 0 = none.
    #[serde(default)]
    pub replicas_to_ack: u32,
    /// How long a replica trusts its identity → customer cache before asking Redis.
    #[serde(default = "five_minutes")]
    pub identity_cache_ttl_ms: u64,
}

fn two_seconds() -> u64 {
    2000
}
fn two() -> u32 {
    2
}
fn fifty() -> u64 {
    50
}
fn five_hundred() -> u64 {
    500
}
fn five_minutes() -> u64 {
    300_000
}

impl RedisSettings {
    pub fn timeouts(&self) -> Result<crate::store::RedisOptions, String> {
        let ms = std::time::Duration::from_millis;
        let tls_ca = match &self.tls_ca_file {
            Some(path) => {
                Some(std::fs::read(path).map_err(|e| format!("redis.tls_ca_file `{path}`: {e}"))?)
            }
            None => None,
        };
        Ok(crate::store::RedisOptions {
            replicas_to_ack: self.replicas_to_ack,
            tls_ca,
            connect: ms(self.connect_timeout_ms),
            response: ms(self.response_timeout_ms),
            retries: self.retries,
            min_retry_wait: ms(self.min_retry_wait_ms),
            max_retry_wait: ms(self.max_retry_wait_ms),
            identity_cache_ttl: ms(self.identity_cache_ttl_ms),
            ..Default::default()
        })
    }
}
