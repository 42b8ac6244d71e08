//! Who is calling. Adapters and admins present static bearer tokens (compared in
//! constant time); agents present an HS256 JWT whose `sub` is their agent id and whose
//! `exp` is checked; a `role: supervisor` claim makes the agent a supervisor (reads every
//! conversation, queue and agent, works the supervisor queue, has no admin rights). A
//! missing or invalid credential is 401; a valid one on a route for another kind of
//! caller is 403.

use std::collections::HashMap;
use std::future::{ready, Ready};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::app::{Actor, App};
use crate::domain::AgentId;

/// The credentials this deployment accepts.
#[derive(Clone, Default)]
pub struct Tokens {
    admin: Option<String>,
    adapters: Vec<String>,
    agent_key: Option<DecodingKey>,
    lifetime: TokenLifetime,
    /// Agents recently found in the store, and when: a token must name an agent that
    /// exists, and asking the store on every request of a busy desk would cost a round
    /// trip each.
    known_agents: Arc<Mutex<HashMap<AgentId, Instant>>>,
}

/// How long an agent found in the store is trusted to still exist: how long a deleted
/// agent's token keeps working at most.
const KNOWN_AGENT_TTL: Duration = Duration::from_secs(2);

/// How long an agent token may live, and how much clock skew its expiry forgives.
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

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Adapter,
    Agent(AgentId),
    /// An agent whose token carries `role: supervisor`.
    Supervisor(AgentId),
}

/// The one role an agent token may carry beyond being an agent.
pub const SUPERVISOR_ROLE: &str = "supervisor";

/// An agent token's claims: who (`sub`), until when (`exp`), and an optional `role`.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
}

/// Signs an agent token (HS256) as `switchboard agent-token` hands them out: `sub` the
/// agent, `exp` after `ttl`, and `role: supervisor` for a supervisor.
pub fn agent_token(
    secret: &str,
    agent: &AgentId,
    supervisor: bool,
    ttl: std::time::Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let claims = Claims {
        sub: agent.to_string(),
        exp: Some(chrono::Utc::now().timestamp().saturating_add(ttl)),
        nbf: None,
        role: supervisor.then(|| SUPERVISOR_ROLE.to_owned()),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
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
            lifetime,
            known_agents: Arc::default(),
        }
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

    /// Checks every static token, whatever matches first, so timing says nothing of
    /// which one did; then, failing those, the agent JWT.
    pub(crate) fn caller(&self, presented: &str) -> Option<Caller> {
        let same = |t: &String| bool::from(t.as_bytes().ct_eq(presented.as_bytes()));
        let admin = self.admin.iter().fold(false, |hit, t| hit | same(t));
        let adapter = self.adapters.iter().fold(false, |hit, t| hit | same(t));
        match (admin, adapter) {
            (true, _) => Some(Caller::Admin),
            (false, true) => Some(Caller::Adapter),
            _ => self.agent(presented),
        }
    }

    /// An agent (or supervisor) from a valid JWT; an unknown role is no credential at all,
    /// so a token minted for some future role never passes as a plain agent's.
    fn agent(&self, jwt: &str) -> Option<Caller> {
        let key = self.agent_key.as_ref()?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = self.lifetime.leeway_secs;
        // `nbf` is checked below, without the leeway: a token issued for later is not
        // valid yet, not even a little.
        validation.validate_nbf = false;
        let claims = jsonwebtoken::decode::<Claims>(jwt, key, &validation)
            .ok()?
            .claims;
        let now = chrono::Utc::now().timestamp();
        if claims.nbf.is_some_and(|nbf| nbf > now) {
            return None;
        }
        let latest = self
            .lifetime
            .max_secs
            .saturating_add(self.lifetime.leeway_secs);
        let latest = now.saturating_add(i64::try_from(latest).unwrap_or(i64::MAX));
        if claims.exp.is_none_or(|exp| exp > latest) {
            return None;
        }
        let data = claims;
        let id = data.sub.parse().ok()?;
        match data.role.as_deref() {
            None => Some(Caller::Agent(id)),
            Some(SUPERVISOR_ROLE) => Some(Caller::Supervisor(id)),
            Some(_) => None,
        }
    }

    fn of(req: &HttpRequest) -> Result<Caller, ApiError> {
        if let Some(Authenticated(caller)) = req.extensions().get::<Authenticated>() {
            return caller.clone().ok_or(ApiError::Unauthorized);
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
        tokens.caller(presented).ok_or(ApiError::Unauthorized)
    }
}

/// The credentials of an `Authorization: Bearer <token>` header. The scheme name is
/// case-insensitive (RFC 9110 §11.1), so `bearer` and `BEARER` are the same.
pub(crate) fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The caller the rate-limit middleware already identified (request extensions), so a
/// request's token is checked, and an agent's JWT verified, once; `None` when it found
/// the credentials wanting (a valid token of an agent that does not exist).
#[derive(Debug, Clone)]
pub(crate) struct Authenticated(pub Option<Caller>);

/// A channel adapter (`SWITCHBOARD_ADAPTER_TOKENS`).
#[derive(Debug)]
pub struct Adapter;

/// An administrator (`SWITCHBOARD_ADMIN_TOKEN`).
#[derive(Debug)]
pub struct Admin;

/// An administrator or an agent: what an agent may reach is checked per resource.
#[derive(Debug)]
pub struct Staff(pub Caller);

/// Who may watch the whole floor: an administrator or a supervisor.
#[derive(Debug)]
pub struct Watcher(pub Caller);

/// Anyone with a valid token: an adapter, an admin or an agent.
#[derive(Debug)]
pub struct AnyCaller(pub Caller);

impl FromRequest for AnyCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| Some(AnyCaller(c)))
    }
}

impl Staff {
    /// Admins reach every agent; an agent (supervisor or not) only itself.
    pub fn may_act_as(&self, agent: &AgentId) -> bool {
        match &self.0 {
            Caller::Admin => true,
            Caller::Agent(me) | Caller::Supervisor(me) => me == agent,
            Caller::Adapter => false,
        }
    }

    /// The staff member as the use cases see them.
    pub fn actor(&self) -> Actor {
        match &self.0 {
            Caller::Agent(me) => Actor::Agent(me.clone()),
            Caller::Supervisor(me) => Actor::Supervisor(me.clone()),
            Caller::Admin | Caller::Adapter => Actor::Admin,
        }
    }

    /// What an agent's desk shows may also be read by a supervisor.
    pub fn may_read_as(&self, agent: &AgentId) -> bool {
        matches!(self.0, Caller::Supervisor(_)) || self.may_act_as(agent)
    }
}

fn extract<T>(
    req: &HttpRequest,
    accept: impl FnOnce(Caller) -> Option<T>,
) -> Ready<Result<T, ApiError>> {
    ready(Tokens::of(req).and_then(|caller| accept(caller).ok_or(ApiError::Forbidden)))
}

impl FromRequest for Adapter {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| (c == Caller::Adapter).then_some(Adapter))
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| (c == Caller::Admin).then_some(Admin))
    }
}

impl FromRequest for Watcher {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| {
            matches!(c, Caller::Admin | Caller::Supervisor(_)).then_some(Watcher(c))
        })
    }
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| (c != Caller::Adapter).then_some(Staff(c)))
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
