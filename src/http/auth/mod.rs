//! Who is calling. Adapters and admins present static bearer tokens (compared in
//! constant time); agents present a JWT: the company's identity provider's (`oidc`, the
//! production path, CONTRACT "Agent sign-in (v3)") or an HS256 one signed with the
//! development secret (`dev_tokens`), told apart by the token's algorithm. A supervisor
//! reads every conversation, queue and agent and works the supervisor queue, with no
//! admin rights. The agent must exist and the token must postdate the agent's last
//! revocation (`identify`, read on every request). A missing or refused credential is
//! 401 (counted by reason); a valid one on a route for another kind of caller is 403.

mod dev_tokens;
mod extractors;
pub mod oidc;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::app::access::{self, AuthFailure};
use crate::app::App;
use crate::domain::AgentId;
pub use dev_tokens::{agent_token, SUPERVISOR_ROLE};
pub use extractors::{Adapter, Admin, AnyCaller, Staff, Watcher};
use oidc::OidcVerifier;

/// The credentials this deployment accepts.
#[derive(Clone, Default)]
pub struct Tokens {
    admin: Option<String>,
    adapters: Vec<String>,
    agent_key: Option<DecodingKey>,
    oidc: Option<Arc<OidcVerifier>>,
    lifetime: TokenLifetime,
    /// Agents recently found in the store, and when: a token must name an agent that
    /// exists, and asking the store on every request of a busy desk would cost a round
    /// trip each (a removed agent's tokens are revoked as well, which is read each time).
    known_agents: Arc<Mutex<HashMap<AgentId, Instant>>>,
}

/// How long an agent found in the store is trusted to still exist.
const KNOWN_AGENT_TTL: Duration = Duration::from_secs(2);

/// How long an agent token may live, and how much clock skew its times forgive.
#[derive(Debug, Clone, Copy)]
pub struct TokenLifetime {
    /// An agent token expiring later than this from now is refused, whoever signed it:
    /// a leaked token must not work for ever.
    pub max_secs: u64,
    /// Seconds an expired token is still taken (the signer's clock may run ahead).
    pub leeway_secs: u64,
}

impl Default for TokenLifetime {
    fn default() -> Self {
        Self {
            max_secs: 12 * 3600,
            leeway_secs: 5,
        }
    }
}

impl TokenLifetime {
    /// Refuses an expiry further ahead than the longest lifetime allowed.
    fn check_exp(&self, exp: i64, now: i64) -> Result<(), AuthFailure> {
        let latest = self.max_secs.saturating_add(self.leeway_secs);
        let latest = now.saturating_add(i64::try_from(latest).unwrap_or(i64::MAX));
        match exp > latest {
            true => Err(AuthFailure::Claims),
            false => Ok(()),
        }
    }

    /// How long a revocation is kept: past it, every token it refuses has expired.
    pub fn revocation_keep(&self) -> chrono::Duration {
        let secs = self
            .max_secs
            .saturating_add(self.leeway_secs)
            .saturating_add(60);
        chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000))
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Adapter,
    Agent(AgentId),
    /// An agent whose token carries the supervisor role.
    Supervisor(AgentId),
}

/// A credential that passed: who, and for a token, when it was issued and expires
/// (seconds since the epoch), which an event stream watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub caller: Caller,
    pub issued_at: Option<i64>,
    pub expires_at: Option<i64>,
}

impl Credential {
    fn of(caller: Caller) -> Self {
        Self {
            caller,
            issued_at: None,
            expires_at: None,
        }
    }
}

impl Tokens {
    pub fn new(
        admin: Option<String>,
        adapters: Vec<String>,
        agent_jwt_secret: Option<&str>,
        lifetime: TokenLifetime,
    ) -> Self {
        Self {
            admin,
            adapters,
            agent_key: agent_jwt_secret.map(|s| DecodingKey::from_secret(s.as_bytes())),
            oidc: None,
            lifetime,
            known_agents: Arc::default(),
        }
    }

    /// Also takes the identity provider's tokens.
    pub fn with_oidc(mut self, oidc: Option<Arc<OidcVerifier>>) -> Self {
        self.oidc = oidc;
        self
    }

    pub fn lifetime(&self) -> TokenLifetime {
        self.lifetime
    }

    /// Whether the agent a token names exists (trusted for `KNOWN_AGENT_TTL` once seen).
    /// A store that cannot answer does not lock everybody out: the request goes on and
    /// meets the same store.
    pub(crate) async fn agent_exists(&self, app: &App, id: &AgentId) -> bool {
        let now = Instant::now();
        let fresh = |seen: &Instant| now.duration_since(*seen) < KNOWN_AGENT_TTL;
        if self.known().get(id).is_some_and(fresh) {
            return true;
        }
        match app.store.agent(id).await {
            Ok(Some(_)) => {
                let mut known = self.known();
                if known.len() > 10_000 {
                    known.retain(|_, seen| fresh(seen));
                }
                known.insert(id.clone(), now);
                true
            }
            Ok(None) => false,
            Err(_) => true,
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<AgentId, Instant>> {
        self.known_agents.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The whole check of a presented token: its signature and claims (refetching the
    /// provider's keys for a key id not cached, within the refetch limit), then that the
    /// agent exists and the token postdates their last revocation. Failures are counted.
    pub(crate) async fn identify(
        &self,
        app: &App,
        presented: &str,
    ) -> Result<Credential, AuthFailure> {
        let checked = match self.verify(presented) {
            Err(AuthFailure::UnknownKey) => match &self.oidc {
                Some(oidc) if oidc.refetch_for_unknown_key().await => self.verify(presented),
                _ => Err(AuthFailure::UnknownKey),
            },
            other => other,
        };
        let checked = match checked {
            Ok(credential) => self.standing(app, credential).await,
            Err(e) => Err(e),
        };
        if let Err(reason) = checked {
            app.metrics.auth.failed(reason);
        }
        checked
    }

    /// An agent's token names an agent that exists and was not revoked since it was
    /// issued; the revocation is read each time, so a revocation holds on every replica
    /// from the moment it answered.
    async fn standing(&self, app: &App, credential: Credential) -> Result<Credential, AuthFailure> {
        let (Caller::Agent(id) | Caller::Supervisor(id)) = &credential.caller else {
            return Ok(credential);
        };
        if !self.agent_exists(app, id).await {
            return Err(AuthFailure::UnknownAgent);
        }
        match access::revoked(app, id, credential.issued_at).await {
            Ok(true) => Err(AuthFailure::Revoked),
            Ok(false) | Err(_) => Ok(credential),
        }
    }

    /// Whether the agent's token (issued at `issued_at`) still stands: the agent exists and
    /// was not revoked since (an open event stream asks at each heartbeat).
    pub(crate) async fn still_stands(&self, app: &App, credential: &Credential) -> bool {
        self.standing(app, credential.clone()).await.is_ok()
    }

    /// Checks every static token, whatever matches first, so timing says nothing of
    /// which one did; then, failing those, the token as a JWT with the keys at hand.
    pub(crate) fn verify(&self, presented: &str) -> Result<Credential, AuthFailure> {
        let same = |t: &String| bool::from(t.as_bytes().ct_eq(presented.as_bytes()));
        let admin = self.admin.iter().fold(false, |hit, t| hit | same(t));
        let adapter = self.adapters.iter().fold(false, |hit, t| hit | same(t));
        match (admin, adapter) {
            (true, _) => Ok(Credential::of(Caller::Admin)),
            (false, true) => Ok(Credential::of(Caller::Adapter)),
            _ => self.agent(presented),
        }
    }

    /// An agent from a JWT: the algorithm in its header picks the path (HS256: the
    /// development secret; an asymmetric one: the identity provider), and each path
    /// checks it against what it allows.
    fn agent(&self, jwt: &str) -> Result<Credential, AuthFailure> {
        let alg = header_alg(jwt).ok_or(AuthFailure::Malformed)?;
        if alg == "HS256" {
            let key = self.agent_key.as_ref().ok_or(AuthFailure::Algorithm)?;
            return dev_tokens::verify(key, jwt, self.lifetime);
        }
        let oidc = self.oidc.as_ref().ok_or(AuthFailure::Algorithm)?;
        let parsed: Algorithm = alg.parse().map_err(|_| AuthFailure::Algorithm)?;
        if !oidc::ALLOWED.contains(&parsed) {
            return Err(AuthFailure::Algorithm);
        }
        let header = jsonwebtoken::decode_header(jwt).map_err(|_| AuthFailure::Malformed)?;
        oidc.verify(jwt, &header, self.lifetime)
    }

    /// The agent (or supervisor) a token names, with the keys at hand (tests).
    #[cfg(test)]
    fn caller(&self, presented: &str) -> Option<Caller> {
        self.verify(presented).ok().map(|c| c.caller)
    }

    fn of(req: &HttpRequest) -> Result<Caller, ApiError> {
        if let Some(Authenticated(checked)) = req.extensions().get::<Authenticated>() {
            return checked
                .as_ref()
                .map(|c| c.caller.clone())
                .map_err(|_| ApiError::Unauthorized);
        }
        let tokens = req
            .app_data::<web::Data<Tokens>>()
            .ok_or_else(|| ApiError::Internal("token table not configured".into()))?;
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
            .ok_or(ApiError::Unauthorized)?;
        tokens
            .verify(presented)
            .map(|c| c.caller)
            .map_err(|_| ApiError::Unauthorized)
    }
}

/// A JWT's `alg` as written (also `none`, which no library type holds), if the token
/// has three parts and a JSON header.
fn header_alg(jwt: &str) -> Option<String> {
    let mut parts = jwt.split('.');
    let (head, _, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(head.trim_end_matches('='))
        .ok()?;
    let header: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Some(header.get("alg")?.as_str()?.to_owned())
}

/// The credentials of an `Authorization: Bearer <token>` header. The scheme name is
/// case-insensitive (RFC 9110 §11.1), so `bearer` and `BEARER` are the same.
pub(crate) fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The credential the middleware (`identify`) already checked (request extensions), so a
/// request's token is checked, and a JWT verified, once; the failure when it found the
/// credentials wanting.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated(pub Result<Credential, AuthFailure>);

/// The credential a request was identified by, if the middleware accepted one.
pub(crate) fn credential_of(req: &HttpRequest) -> Option<Credential> {
    match req.extensions().get::<Authenticated>() {
        Some(Authenticated(Ok(credential))) => Some(credential.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    fn jwt(secret: &str, claims: serde_json::Value) -> String {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("jwt")
    }

    fn future() -> i64 {
        chrono::Utc::now().timestamp() + 3600
    }

    #[test]
    fn tokens_map_to_callers() {
        let t = Tokens::new(
            Some("adm".into()),
            vec!["a1".into(), "a2".into()],
            Some("s3cret"),
            TokenLifetime::default(),
        );
        assert_eq!(t.caller("adm"), Some(Caller::Admin));
        assert_eq!(t.caller("a2"), Some(Caller::Adapter));
        assert_eq!(t.caller("a"), None);
        assert_eq!(t.caller(""), None);
        assert_eq!(Tokens::default().caller(""), None);
    }

    #[test]
    fn agents_present_a_signed_unexpired_jwt() {
        let t = Tokens::new(None, vec![], Some("s3cret"), TokenLifetime::default());
        let good = jwt("s3cret", json!({ "sub": "a-7", "exp": future() }));
        assert_eq!(
            t.caller(&good),
            Some(Caller::Agent("a-7".parse().expect("id")))
        );
        let cases = [
            (
                jwt("other", json!({ "sub": "a-7", "exp": future() })),
                "wrong secret",
            ),
            (
                jwt("s3cret", json!({ "sub": "a-7", "exp": 1_000_000 })),
                "expired",
            ),
            (jwt("s3cret", json!({ "sub": "a-7" })), "no exp"),
            (
                jwt("s3cret", json!({ "sub": "a/7", "exp": future() })),
                "not an agent id",
            ),
            (
                jwt(
                    "s3cret",
                    json!({ "sub": "a-7", "exp": future(), "nbf": future() - 60 }),
                ),
                "not valid before a time still to come",
            ),
            (
                jwt(
                    "s3cret",
                    json!({ "sub": "a-7", "exp": future(), "nbf": future() - 3598 }),
                ),
                "not valid for two seconds more: no leeway on nbf",
            ),
            (
                jwt(
                    "s3cret",
                    json!({ "sub": "a-7", "exp": 253_402_300_799_i64 }),
                ),
                "expires in the year 9999",
            ),
            (
                jwt(
                    "s3cret",
                    json!({ "sub": "a-7", "exp": future() + 12 * 3600 }),
                ),
                "lives longer than the 12 h maximum",
            ),
        ];
        for (token, why) in cases {
            assert_eq!(t.caller(&token), None, "{why}");
        }
        let started = jwt(
            "s3cret",
            json!({ "sub": "a-7", "exp": future(), "nbf": 1_000_000 }),
        );
        assert!(t.caller(&started).is_some(), "an nbf in the past is fine");
        let without_secret = Tokens::new(None, vec![], None, TokenLifetime::default());
        assert_eq!(without_secret.caller(&good), None, "no secret, no agents");
    }

    #[test]
    fn minted_tokens_carry_the_role_and_unknown_roles_are_refused() {
        let t = Tokens::new(None, vec![], Some("s3cret"), TokenLifetime::default());
        let id: AgentId = "sup-1".parse().expect("id");
        let hour = std::time::Duration::from_secs(3600);
        let plain = agent_token("s3cret", &id, false, hour).expect("mint");
        assert_eq!(t.caller(&plain), Some(Caller::Agent(id.clone())));
        let sup = agent_token("s3cret", &id, true, hour).expect("mint");
        assert_eq!(t.caller(&sup), Some(Caller::Supervisor(id)));
        let odd = jwt(
            "s3cret",
            json!({ "sub": "sup-1", "exp": future(), "role": "admin" }),
        );
        assert_eq!(t.caller(&odd), None, "a role we do not know grants nothing");
        let elsewhere = agent_token("other", &"a".parse().expect("id"), true, hour);
        assert_eq!(t.caller(&elsewhere.expect("mint")), None, "another secret");
    }

    #[test]
    fn tokens_without_a_path_for_their_algorithm_are_refused_as_such() {
        let t = Tokens::new(None, vec![], Some("s3cret"), TokenLifetime::default());
        let none = format!(
            "{}.{}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(br#"{"alg":"none","typ":"JWT"}"#),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"a-7"}"#)
        );
        assert_eq!(t.verify(&none), Err(AuthFailure::Algorithm), "alg none");
        let rs = format!(
            "{}.e30.c2ln",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#)
        );
        assert_eq!(t.verify(&rs), Err(AuthFailure::Algorithm), "no provider");
        assert_eq!(t.verify("a.b"), Err(AuthFailure::Malformed));
        let expired = jwt("s3cret", json!({ "sub": "a-7", "exp": 1_000_000 }));
        assert_eq!(t.verify(&expired), Err(AuthFailure::Expired));
        let forged = jwt("other", json!({ "sub": "a-7", "exp": future() }));
        assert_eq!(t.verify(&forged), Err(AuthFailure::BadSignature));
        let minted = agent_token(
            "s3cret",
            &"a-7".parse().expect("id"),
            false,
            std::time::Duration::from_secs(60),
        );
        let issued = t.verify(&minted.expect("mint")).expect("valid").issued_at;
        assert!(
            issued.is_some_and(|iat| (iat - chrono::Utc::now().timestamp()).abs() < 5),
            "minted tokens say when"
        );
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for (header, token) in [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("BEARER  abc ", Some("abc")),
            ("Basic abc", None),
            ("Bearer", None),
            ("Bearer ", None),
        ] {
            assert_eq!(bearer(header), token, "{header}");
        }
    }
}
