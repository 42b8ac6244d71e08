//! Who may sign in, and with what: agent tokens' lifetime, and the secrets start-up
//! refuses because they would hand out access (`check-config` refuses them too).

use serde::Deserialize;

use super::Settings;

/// Agent tokens: how long one may live at most, the clock skew forgiven, and the
/// company's identity provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuthSettings {
    /// The longest lifetime an agent token may carry (seconds; 12 h), whoever signed it.
    /// A token expiring later is refused, and `agent-token --ttl` mints none longer.
    pub max_token_lifetime_secs: u64,
    /// Seconds past its expiry (and before its `nbf`) a token is still taken.
    pub leeway_secs: u64,
    /// Agents' sign-in through OpenID Connect (CONTRACT "Agent sign-in (v3)").
    pub oidc: OidcSettings,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            max_token_lifetime_secs: 12 * 3600,
            leeway_secs: 5,
            oidc: OidcSettings::default(),
        }
    }
}

/// The identity provider whose access tokens agents present; off while `issuer` is unset.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct OidcSettings {
    /// The issuer (`iss`); its discovery document is `<issuer>/.well-known/openid-configuration`.
    pub issuer: Option<String>,
    /// What the tokens' `aud` must hold; unset: the desk's client id.
    pub audience: Option<String>,
    /// The desk's public client (authorization code with PKCE).
    pub client_id: Option<String>,
    /// The claim holding the agent id (a dotted path reaches into objects).
    pub agent_claim: String,
    /// The claim listing roles (a dotted path, e.g. Keycloak's `realm_access.roles`).
    pub roles_claim: String,
    /// Scopes the desk asks for.
    pub scopes: String,
    /// Seconds between refetches of the keys a token's unknown `kid` may cause at most,
    /// so made-up `kid`s cannot hammer the provider.
    pub jwks_min_refetch_secs: u64,
    /// Seconds between routine refetches of the keys (a removed key stops working).
    pub jwks_refresh_secs: u64,
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self {
            issuer: None,
            audience: None,
            client_id: None,
            agent_claim: "preferred_username".into(),
            roles_claim: "roles".into(),
            scopes: "openid profile email".into(),
            jwks_min_refetch_secs: 60,
            jwks_refresh_secs: 900,
        }
    }
}

impl OidcSettings {
    /// The audience tokens must carry, when sign-in is on.
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref().or(self.client_id.as_deref())
    }

    /// The provider agents sign in with; `None` while `issuer` is unset.
    pub fn provider(&self) -> Option<crate::http::auth::oidc::Provider> {
        Some(crate::http::auth::oidc::Provider {
            issuer: self.issuer.clone()?,
            audience: self.audience()?.to_owned(),
            client_id: self.client_id.clone(),
            agent_claim: self.agent_claim.clone(),
            roles_claim: self.roles_claim.clone(),
            scopes: self.scopes.clone(),
            min_refetch: std::time::Duration::from_secs(self.jwks_min_refetch_secs),
            refresh: std::time::Duration::from_secs(self.jwks_refresh_secs),
        })
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
        let oidc = &self.auth.oidc;
        if let Some(issuer) = &oidc.issuer {
            let url = reqwest::Url::parse(issuer)
                .map_err(|e| config::ConfigError::Message(format!("`auth.oidc.issuer`: {e}")))?;
            let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if url.scheme() != "https" && !(url.scheme() == "http" && local) {
                return bad(
                    "`auth.oidc.issuer` must be https:// (http:// only on loopback)".into(),
                );
            }
            if oidc.audience().is_none() {
                return bad(
                    "`auth.oidc.audience` (or `auth.oidc.client_id`) must be set with the issuer"
                        .into(),
                );
            }
        }
        Ok(())
    }
}
