//! The development path: HS256 agent tokens signed with `SWITCHBOARD_AGENT_JWT_SECRET`,
//! as `switchboard agent-token` mints them. `sub` is the agent, `exp` is required, `iat`
//! lets a revocation refuse them, and `role: supervisor` makes a supervisor.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::{Caller, Credential, TokenLifetime};
use crate::app::access::AuthFailure;
use crate::domain::AgentId;

/// The one role an agent token may carry beyond being an agent.
pub const SUPERVISOR_ROLE: &str = "supervisor";

/// An agent token's claims.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
}

/// Signs an agent token (HS256) as `switchboard agent-token` hands them out: `sub` the
/// agent, `iat` now, `exp` after `ttl`, and `role: supervisor` for a supervisor.
pub fn agent_token(
    secret: &str,
    agent: &AgentId,
    supervisor: bool,
    ttl: std::time::Duration,
) -> Result<String, jsonwebtoken::errors::Error> {
    let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: agent.to_string(),
        exp: Some(now.saturating_add(ttl)),
        nbf: None,
        iat: Some(now),
        role: supervisor.then(|| SUPERVISOR_ROLE.to_owned()),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

/// Verifies an HS256 agent token; an unknown role is no credential at all, so a token
/// minted for some future role never passes as a plain agent's.
pub(super) fn verify(
    key: &DecodingKey,
    jwt: &str,
    lifetime: TokenLifetime,
) -> Result<Credential, AuthFailure> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    validation.leeway = lifetime.leeway_secs;
    // `nbf` is checked below, without the leeway: a token issued for later is not valid
    // yet, not even a little.
    validation.validate_nbf = false;
    let claims = jsonwebtoken::decode::<Claims>(jwt, key, &validation)
        .map_err(|e| failure(e.kind()))?
        .claims;
    let now = chrono::Utc::now().timestamp();
    if claims.nbf.is_some_and(|nbf| nbf > now) {
        return Err(AuthFailure::NotYetValid);
    }
    let exp = claims.exp.ok_or(AuthFailure::Claims)?;
    lifetime.check_exp(exp, now)?;
    let id: AgentId = claims.sub.parse().map_err(|_| AuthFailure::Claims)?;
    let caller = match claims.role.as_deref() {
        None => Caller::Agent(id),
        Some(SUPERVISOR_ROLE) => Caller::Supervisor(id),
        Some(_) => return Err(AuthFailure::Claims),
    };
    Ok(Credential {
        caller,
        issued_at: claims.iat,
        expires_at: Some(exp),
    })
}

/// What a JWT library error says about the token.
pub(super) fn failure(kind: &ErrorKind) -> AuthFailure {
    match kind {
        ErrorKind::ExpiredSignature => AuthFailure::Expired,
        ErrorKind::ImmatureSignature => AuthFailure::NotYetValid,
        ErrorKind::InvalidSignature => AuthFailure::BadSignature,
        ErrorKind::InvalidIssuer => AuthFailure::Issuer,
        ErrorKind::InvalidAudience => AuthFailure::Audience,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => AuthFailure::Algorithm,
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "iss" => AuthFailure::Issuer,
            "aud" => AuthFailure::Audience,
            _ => AuthFailure::Claims,
        },
        ErrorKind::InvalidSubject => AuthFailure::Claims,
        _ => AuthFailure::Malformed,
    }
}
