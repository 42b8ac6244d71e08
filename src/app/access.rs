//! Agents' access beyond a token's signature (CONTRACT "Agent sign-in (v3)"): revoking an
//! agent's tokens on every replica at once, and why a token was refused (the label of
//! `switchboard_auth_failures_total`).

use chrono::{DateTime, Utc};

use super::{App, AppError};
use crate::domain::AgentId;

/// Why a presented credential was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// Neither a static token nor a JWT that parses.
    Malformed,
    /// An algorithm not allowed (`none`, a symmetric one where keys are asymmetric, one
    /// this deployment has no key for).
    Algorithm,
    /// A key id the identity provider does not publish (after a refetch).
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    Issuer,
    Audience,
    /// Claims that name no agent, an unknown role, or a lifetime beyond the maximum.
    Claims,
    /// A valid token of an agent that does not exist.
    UnknownAgent,
    /// A token issued before the agent's tokens were revoked.
    Revoked,
    /// The identity provider's keys could not be fetched.
    ProviderUnavailable,
}

impl AuthFailure {
    pub const ALL: [AuthFailure; 12] = [
        AuthFailure::Malformed,
        AuthFailure::Algorithm,
        AuthFailure::UnknownKey,
        AuthFailure::BadSignature,
        AuthFailure::Expired,
        AuthFailure::NotYetValid,
        AuthFailure::Issuer,
        AuthFailure::Audience,
        AuthFailure::Claims,
        AuthFailure::UnknownAgent,
        AuthFailure::Revoked,
        AuthFailure::ProviderUnavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::Malformed => "malformed",
            AuthFailure::Algorithm => "algorithm",
            AuthFailure::UnknownKey => "unknown_key",
            AuthFailure::BadSignature => "bad_signature",
            AuthFailure::Expired => "expired",
            AuthFailure::NotYetValid => "not_yet_valid",
            AuthFailure::Issuer => "issuer",
            AuthFailure::Audience => "audience",
            AuthFailure::Claims => "claims",
            AuthFailure::UnknownAgent => "unknown_agent",
            AuthFailure::Revoked => "revoked",
            AuthFailure::ProviderUnavailable => "provider_unavailable",
        }
    }
}

/// Refuses every token of `agent` issued at or before `now`, on every replica from the
/// moment this answers (each agent request reads the revocation). Kept for `keep`: the
/// longest a token may live, past which none of those tokens is valid anyway.
pub async fn revoke(
    app: &App,
    agent: &AgentId,
    now: DateTime<Utc>,
    keep: chrono::Duration,
) -> Result<(), AppError> {
    app.store.revoke_tokens(agent, now, keep).await?;
    Ok(())
}

/// Revokes the tokens of an agent being removed. Before the storage format is finalized
/// (0.1.0 replicas may run) the removal alone refuses them, as 0.1.0 does: the agent no
/// longer exists; a later agent of the same id would take them again, which the
/// revocation prevents once it can be written.
pub async fn revoke_on_removal(
    app: &App,
    agent: &AgentId,
    now: DateTime<Utc>,
    keep: chrono::Duration,
) -> Result<(), AppError> {
    match revoke(app, agent, now, keep).await {
        Err(AppError::Conflict(_)) => Ok(()),
        other => other,
    }
}

/// Whether a token of `agent` issued at `issued_at` (seconds; `None`: the token does not
/// say) was revoked. A revocation covers its whole second, since `iat` has no finer grain.
pub async fn revoked(app: &App, agent: &AgentId, issued_at: Option<i64>) -> Result<bool, AppError> {
    let Some(at) = app.store.tokens_revoked(agent).await? else {
        return Ok(false);
    };
    Ok(issued_at.is_none_or(|iat| iat <= at.timestamp()))
}
