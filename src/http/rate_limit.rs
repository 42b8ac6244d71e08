//! The rate-limit middleware: which bucket a request is counted in (a provider's
//! webhook by provider, else by its credentials), admission by the use case
//! (`app::rate_limits`), and the refusal as 429 problem+json with `Retry-After`.

use std::fmt::Write;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use sha2::{Digest, Sha256};

use super::auth::{bearer, Authenticated, Caller, Tokens};
use super::error::ApiError;
use super::HttpLimits;
use crate::app::rate_limits::{admit, Bucket, RateLimits};
use crate::app::App;

/// The provider whose webhook `path` is, if any.
fn provider(path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("/v1/adapters/")?;
    ["twilio", "meta", "telegram"]
        .into_iter()
        .find(|p| rest.starts_with(p))
}

/// The bucket of a request: a provider's webhook by provider, else by its credentials
/// (the bearer token and who it names); requests without valid credentials share one
/// budget of their own, so a flood of them never spends anybody else's.
pub fn bucket(
    path: &str,
    credentials: Option<(&str, &Caller)>,
    limits: &RateLimits,
) -> Option<Bucket> {
    if let Some(p) = provider(path) {
        return limited("provider", limits.provider_per_sec, || {
            format!("provider:{p}")
        });
    }
    let Some((token, caller)) = credentials else {
        return unauthenticated(limits);
    };
    let (label, limit) = match caller {
        Caller::Admin => ("admin", limits.admin_per_sec),
        Caller::Adapter => ("adapter", limits.adapter_per_sec),
        Caller::Agent(_) | Caller::Supervisor(_) => ("agent", limits.agent_per_sec),
    };
    limited(label, limit, || match caller {
        Caller::Admin => "admin".to_owned(),
        // The token itself never becomes a key name.
        Caller::Adapter => {
            let digest = Sha256::digest(token.as_bytes());
            let mut key = String::from("adapter:");
            for b in &digest[..8] {
                let _ = write!(key, "{b:02x}");
            }
            key
        }
        Caller::Agent(id) | Caller::Supervisor(id) => format!("agent:{id}"),
    })
}

/// The one budget of every request without valid credentials (and of forged webhooks).
fn unauthenticated(limits: &RateLimits) -> Option<Bucket> {
    let limit = limits.unauthenticated_per_sec;
    limited("unauthenticated", limit, || "unauthenticated".to_owned())
}

/// The bucket, if there is a limit; its key is made only then (a digest and a few
/// allocations every request would otherwise pay with limits off).
fn limited(caller: &'static str, limit: u64, key: impl FnOnce() -> String) -> Option<Bucket> {
    (limit > 0).then(|| Bucket {
        caller,
        key: key(),
        limit,
    })
}

/// The middleware (`actix_web::middleware::from_fn`).
/// The refusal is a response, not an error, so the outer middlewares (request metrics,
/// request id) see and count it like any other answer.
pub async fn limit<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let (Some(state), Some(tokens), Some(limits)) = (
        req.app_data::<web::Data<App>>().cloned(),
        req.app_data::<web::Data<Tokens>>().cloned(),
        req.app_data::<web::Data<HttpLimits>>().cloned(),
    ) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if provider(req.path()).is_some() {
        return webhook(req, next, &state, &limits).await;
    }
    // Who is calling is decided once, here; the extractors reuse it.
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .map(str::to_owned);
    // A token naming no agent (never created, or deleted), or revoked, is no credential.
    let checked = match token.as_deref() {
        Some(t) => Some(tokens.identify(&state, t).await),
        None => None,
    };
    let caller = checked
        .as_ref()
        .and_then(|c| c.as_ref().ok())
        .map(|c| c.caller.clone());
    if let Some(checked) = checked {
        req.extensions_mut().insert(Authenticated(checked));
    }
    let credentials = token.as_deref().zip(caller.as_ref());
    if let Some(bucket) = bucket(req.path(), credentials, &limits.rate_limits) {
        if let Err(left) = admit(&state, &limits.leases, &bucket).await {
            return Ok(refuse(req, left));
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// A provider's webhook: whether it is genuine is known only once its signature is
/// checked, so the provider's budget refuses while it is spent but is charged after the
/// answer, and only for signed requests; a forged one (401/403) is charged to the
/// unauthenticated budget instead, so forgeries never make the real provider wait.
async fn webhook<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
    state: &App,
    limits: &HttpLimits,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let Some(provider) = bucket(req.path(), None, &limits.rate_limits) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if let Some(left) = limits.leases.refused(&provider.key) {
        return Ok(refuse(req, left));
    }
    let res = next.call(req).await?;
    let forged = matches!(res.status().as_u16(), 401 | 403);
    let charged = match forged {
        true => unauthenticated(&limits.rate_limits),
        false => Some(provider),
    };
    if let Some(bucket) = charged {
        // Already answered: a refusal here only tells the next request.
        let _ = admit(state, &limits.leases, &bucket).await;
    }
    Ok(res.map_into_left_body())
}

fn refuse<B>(req: ServiceRequest, left: std::time::Duration) -> ServiceResponse<EitherBody<B>> {
    let retry_after_secs = left.as_millis().div_ceil(1000).max(1) as u64;
    let refusal = ApiError::TooManyRequests { retry_after_secs };
    req.error_response(refusal).map_into_right_body()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_provider_per_token_or_per_agent() {
        let limits = RateLimits::default();
        let adapter = Caller::Adapter;
        let b =
            |path: &str, credentials: Option<(&str, &Caller)>| bucket(path, credentials, &limits);
        let meta = b("/v1/adapters/meta", None).expect("provider");
        assert_eq!(
            (meta.caller, meta.key.as_str()),
            ("provider", "provider:meta")
        );
        let one = b("/v1/messages", Some(("ad1", &adapter))).expect("adapter");
        let two = b("/v1/messages", Some(("ad2", &adapter))).expect("adapter");
        assert_eq!(one.caller, "adapter");
        assert_ne!(one.key, two.key, "each adapter token has its own budget");
        assert!(!one.key.contains("ad1"), "the token is not in the key");
        assert_eq!(
            b("/v1/agents", Some(("adm", &Caller::Admin))).map(|b| b.key),
            Some("admin".into())
        );
        let anonymous = b("/v1/messages", None).expect("a budget of their own");
        assert_eq!(anonymous.key, "unauthenticated");
        let off = RateLimits {
            adapter_per_sec: 0,
            ..limits.clone()
        };
        assert_eq!(bucket("/v1/messages", Some(("ad1", &adapter)), &off), None);
    }
}
