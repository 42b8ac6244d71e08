//! Who may sign in, and with what: agent tokens' lifetime, and the secrets start-up
//! refuses because they would hand out access (`check-config` refuses them too).

use serde::Deserialize;

use super::Settings;

/// Agent tokens: how long one may live at most, and the clock skew forgiven.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// The longest lifetime an HS256 agent token may carry (seconds; 12 h). A token
    /// expiring later is refused, and `agent-token --ttl` mints none longer.
    pub max_token_lifetime_secs: u64,
    /// Seconds past its expiry a token is still taken.
    pub leeway_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            max_token_lifetime_secs: 12 * 3600,
            leeway_secs: 5,
        }
    }
}

/// The shortest agent JWT secret accepted: HS256 keys of fewer bytes can be guessed
/// offline from one token (RFC 7518 §3.2 asks for at least 256 bits).
pub const MIN_AGENT_SECRET_BYTES: usize = 32;

impl Settings {
    /// Secrets weak or mixed up enough to hand out access: a short agent JWT secret
    /// (guessable from one token) and an admin token that is also an adapter token
    /// (every adapter would be an admin).
    pub(super) fn validate_secrets(&self) -> Result<(), config::ConfigError> {
        let bad = |e: String| Err(config::ConfigError::Message(e));
        if let Some(secret) = &self.agent_jwt_secret {
            if secret.len() < MIN_AGENT_SECRET_BYTES {
                return bad(format!(
                    "`agent_jwt_secret` must be at least {MIN_AGENT_SECRET_BYTES} bytes (it has {})",
                    secret.len()
                ));
            }
        }
        if let Some(admin) = &self.admin_token {
            if self.adapter_tokens().iter().any(|t| t == admin) {
                return bad("`admin_token` must not also be an adapter token".into());
            }
        }
        if self.auth.max_token_lifetime_secs == 0 {
            return bad("`auth.max_token_lifetime_secs` must be positive".into());
        }
        Ok(())
    }
}
