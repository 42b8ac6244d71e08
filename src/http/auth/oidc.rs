//! The company's identity provider (CONTRACT "Agent sign-in (v3)"): this service is a
//! resource server for the provider's access tokens. The discovery document names the
//! provider's keys (JWKS), which are cached: refetched every `jwks_refresh_secs`, and
//! when a token names a key id not cached, at most once per `jwks_min_refetch_secs`, so
//! a flood of made-up key ids costs the provider one request a minute. The algorithm
//! comes from an allow-list of asymmetric ones and must match the key, never from the
//! token alone.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::dev_tokens::failure;
use super::{Caller, Credential, TokenLifetime};
use crate::app::access::AuthFailure;

/// The asymmetric algorithms a provider's token may use.
pub const ALLOWED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The role (in the roles claim) that makes an agent a supervisor.
pub const SUPERVISOR_ROLE_CLAIM: &str = "switchboard-supervisor";

/// The provider as configured (`auth.oidc`, README "Agent sign-in").
#[derive(Debug, Clone)]
pub struct Provider {
    pub issuer: String,
    /// What the tokens' `aud` must hold.
    pub audience: String,
    /// The desk's public client, if the desk signs in through the provider.
    pub client_id: Option<String>,
    /// Dotted paths of the claims naming the agent and listing their roles.
    pub agent_claim: String,
    pub roles_claim: String,
    /// Scopes the desk asks for.
    pub scopes: String,
    /// At most one refetch of the keys per this, for tokens naming an unknown key.
    pub min_refetch: Duration,
    /// Routine refetch of the keys.
    pub refresh: Duration,
}

/// What the desk needs to run the authorization-code flow (`GET /desk/sso`): public.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Endpoints {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    pub jwks_uri: String,
}

/// The provider's keys as last fetched.
#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    fetched: Option<Instant>,
}

/// Validates the provider's tokens against its cached keys.
pub struct OidcVerifier {
    settings: Provider,
    client: reqwest::Client,
    endpoints: RwLock<Option<Endpoints>>,
    keys: RwLock<Keys>,
    /// One fetch at a time; others wait for it and use what it brought.
    fetching: tokio::sync::Mutex<()>,
}

impl OidcVerifier {
    /// A verifier for the provider.
    pub fn new(settings: Provider) -> Option<Arc<Self>> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?;
        Some(Arc::new(Self {
            settings,
            client,
            endpoints: RwLock::default(),
            keys: RwLock::default(),
            fetching: tokio::sync::Mutex::new(()),
        }))
    }

    /// The desk's public client id, and the provider's endpoints once discovered.
    pub fn desk_config(&self) -> Option<(String, String, Endpoints)> {
        let endpoints = self.endpoints.read().ok()?.clone()?;
        let client = self.settings.client_id.clone()?;
        Some((client, self.settings.scopes.clone(), endpoints))
    }

    /// Keeps the keys fresh for as long as the service runs: discovery and keys at once
    /// (retried every few seconds while the provider is unreachable), then every
    /// `jwks_refresh_secs`.
    pub async fn keep_fresh(self: Arc<Self>) {
        let refresh = self.settings.refresh.max(Duration::from_secs(1));
        loop {
            let wait = match self.fetch().await {
                Ok(()) => refresh,
                Err(e) => {
                    tracing::warn!(error = %e, "identity provider's keys not fetched");
                    Duration::from_secs(5)
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Fetches the discovery document (first time) and the keys, one fetch at a time.
    async fn fetch(&self) -> Result<(), String> {
        let _one = self.fetching.lock().await;
        self.fetch_now().await
    }

    /// `fetch`, with `fetching` held by the caller.
    async fn fetch_now(&self) -> Result<(), String> {
        let known = self.endpoints.read().ok().and_then(|e| e.clone());
        let endpoints = match known {
            Some(known) => known,
            None => {
                let discovered = self.discover().await?;
                if let Ok(mut slot) = self.endpoints.write() {
                    *slot = Some(discovered.clone());
                }
                discovered
            }
        };
        let set: JwkSet = self.get_json(&endpoints.jwks_uri).await?;
        let by_kid = set.keys.iter().filter_map(usable).collect();
        if let Ok(mut keys) = self.keys.write() {
            *keys = Keys {
                by_kid,
                fetched: Some(Instant::now()),
            };
        }
        Ok(())
    }

    async fn discover(&self) -> Result<Endpoints, String> {
        let issuer = self.settings.issuer.clone();
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc: Endpoints = self.get_json(&url).await?;
        // OpenID Connect Discovery §4.3: the document's issuer is the configured one.
        if doc.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(format!("discovery names issuer `{}`", doc.issuer));
        }
        Ok(doc)
    }

    /// A JSON document of the provider's (at most 1 MiB).
    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("{url}: {e}"))?;
        if response.content_length().unwrap_or(0) > 1 << 20 {
            return Err(format!("{url}: larger than 1 MiB"));
        }
        let body = response.bytes().await.map_err(|e| format!("{url}: {e}"))?;
        serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))
    }

    /// Refetches the keys for a token naming a key not cached, unless they were fetched
    /// less than `jwks_min_refetch_secs` ago; answers whether they were.
    pub async fn refetch_for_unknown_key(&self) -> bool {
        let min = self.settings.min_refetch;
        let recent = |keys: &Keys| keys.fetched.is_some_and(|at| at.elapsed() < min);
        if self.keys.read().map(|k| recent(&k)).unwrap_or(true) {
            return false;
        }
        let _one = self.fetching.lock().await;
        if self.keys.read().map(|k| recent(&k)).unwrap_or(true) {
            return false; // another request refetched while this one waited
        }
        self.fetch_now().await.is_ok()
    }

    /// Verifies a token with the cached keys (`UnknownKey`: not cached, worth a refetch).
    pub fn verify(
        &self,
        jwt: &str,
        header: &jsonwebtoken::Header,
        lifetime: TokenLifetime,
    ) -> Result<Credential, AuthFailure> {
        if !ALLOWED.contains(&header.alg) {
            return Err(AuthFailure::Algorithm);
        }
        let key = self.key(header)?;
        let issuer = match self.endpoints.read().map(|e| e.clone()) {
            Ok(Some(endpoints)) => endpoints.issuer,
            _ => return Err(AuthFailure::ProviderUnavailable),
        };
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = lifetime.leeway_secs;
        validation.validate_nbf = true;
        let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
            .map_err(|e| failure(e.kind()))?
            .claims;
        let now = chrono::Utc::now().timestamp();
        let exp = claims["exp"].as_i64().ok_or(AuthFailure::Claims)?;
        lifetime.check_exp(exp, now)?;
        let id = claim(&claims, &self.settings.agent_claim)
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .ok_or(AuthFailure::Claims)?;
        let supervisor =
            roles(claim(&claims, &self.settings.roles_claim)).any(|r| r == SUPERVISOR_ROLE_CLAIM);
        Ok(Credential {
            caller: match supervisor {
                true => Caller::Supervisor(id),
                false => Caller::Agent(id),
            },
            issued_at: claims["iat"].as_i64(),
            expires_at: Some(exp),
        })
    }

    /// The key a token names, whose family and declared algorithm match the token's.
    fn key(&self, header: &jsonwebtoken::Header) -> Result<DecodingKey, AuthFailure> {
        let keys = self
            .keys
            .read()
            .map_err(|_| AuthFailure::ProviderUnavailable)?;
        if keys.fetched.is_none() {
            return Err(AuthFailure::ProviderUnavailable);
        }
        let (key, declared) = match &header.kid {
            Some(kid) => keys.by_kid.get(kid).ok_or(AuthFailure::UnknownKey)?,
            // No key id: only unambiguous with one key.
            None if keys.by_kid.len() == 1 => keys.by_kid.values().next().expect("one key"),
            None => return Err(AuthFailure::UnknownKey),
        };
        if declared.is_some_and(|alg| alg != header.alg) {
            return Err(AuthFailure::Algorithm);
        }
        Ok(key.clone())
    }
}

/// A signing key of the set, by key id, with the algorithm it declares.
fn usable(jwk: &Jwk) -> Option<(String, (DecodingKey, Option<Algorithm>))> {
    let signing = !matches!(
        jwk.common.public_key_use,
        Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
    );
    let kid = jwk.common.key_id.clone()?;
    let key = DecodingKey::from_jwk(jwk).ok()?;
    let declared = jwk
        .common
        .key_algorithm
        .and_then(|a| a.to_string().parse::<Algorithm>().ok());
    signing.then_some((kid, (key, declared)))
}

/// A claim by dotted path (`realm_access.roles`).
fn claim<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(claims, |v, part| v.get(part))
}

/// Roles as a list of strings, or one space-separated string.
fn roles(value: Option<&Value>) -> Box<dyn Iterator<Item = &str> + '_> {
    match value {
        Some(Value::Array(items)) => Box::new(items.iter().filter_map(Value::as_str)),
        Some(Value::String(s)) => Box::new(s.split_whitespace()),
        _ => Box::new(std::iter::empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_are_found_by_dotted_path_and_roles_in_either_shape() {
        let c = json!({ "preferred_username": "ann", "realm_access": { "roles": ["a", "switchboard-supervisor"] }, "scp": "x y" });
        assert_eq!(claim(&c, "preferred_username"), Some(&json!("ann")));
        let nested: Vec<_> = roles(claim(&c, "realm_access.roles")).collect();
        assert_eq!(nested, ["a", "switchboard-supervisor"]);
        assert_eq!(roles(claim(&c, "scp")).collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(roles(claim(&c, "nothing.here")).count(), 0);
    }

    #[test]
    fn only_asymmetric_algorithms_are_allowed() {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            assert!(!ALLOWED.contains(&alg), "{alg:?}");
        }
    }
}
