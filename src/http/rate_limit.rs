//! The rate-limit middleware: which bucket a request is counted in (a provider's
//! webhook by provider, else by its credentials), admission by the use case
//! (`app::rate_limits`), and the refusal as 429 problem+json with `Retry-After`.

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

/// The bucket of a request: a provider's webhook by provider, else by its credentials
/// (the bearer token and who it names). Requests without valid credentials are not
/// counted (they end in 401 at once).
pub fn bucket(
    path: &str,
    credentials: Option<(&str, &Caller)>,
    limits: &RateLimits,
) -> Option<Bucket> {
    let provider = ["twilio", "meta", "telegram"]
        .into_iter()
        .find(|p| path.starts_with(&format!("/v1/adapters/{p}")));
    if let Some(p) = provider {
        let limit = limits.provider_per_sec;
        return (limit > 0).then(|| Bucket {
            caller: "provider",
            key: format!("provider:{p}"),
            limit,
        });
    }
    let (token, caller) = credentials?;
    let (label, limit) = match caller {
        Caller::Admin => ("admin", limits.admin_per_sec),
        Caller::Adapter => ("adapter", limits.adapter_per_sec),
        Caller::Agent(_) | Caller::Supervisor(_) => ("agent", limits.agent_per_sec),
    };
    if limit == 0 {
        return None;
    }
    let key = match caller {
        Caller::Admin => "admin".to_owned(),
        // The token itself never becomes a key name.
        Caller::Adapter => {
            let digest = Sha256::digest(token.as_bytes());
            let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            format!("adapter:{short}")
        }
        Caller::Agent(id) | Caller::Supervisor(id) => format!("agent:{id}"),
    };
    Some(Bucket {
        caller: label,
        key,
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
    let found = match (
        req.app_data::<web::Data<App>>(),
        req.app_data::<web::Data<Tokens>>(),
        req.app_data::<web::Data<HttpLimits>>(),
    ) {
        (Some(state), Some(tokens), Some(limits)) => {
            // Who is calling is decided once, here; the extractors reuse it.
            let token = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(bearer)
                .map(str::to_owned);
            let caller = token.as_deref().and_then(|t| tokens.caller(t));
            if let Some(caller) = &caller {
                req.extensions_mut().insert(Authenticated(caller.clone()));
            }
            let credentials = token.as_deref().zip(caller.as_ref());
            bucket(req.path(), credentials, &limits.rate_limits)
                .map(|b| (state.clone(), limits.clone(), b))
        }
        _ => None,
    };
    if let Some((state, limits, bucket)) = found {
        if let Err(left) = admit(&state, &limits.leases, &bucket).await {
            let retry_after_secs = left.as_millis().div_ceil(1000).max(1) as u64;
            let refusal = ApiError::TooManyRequests { retry_after_secs };
            return Ok(req.error_response(refusal).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
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
        assert_eq!(b("/v1/messages", None), None, "401s are not counted");
        let off = RateLimits {
            adapter_per_sec: 0,
            ..limits.clone()
        };
        assert_eq!(bucket("/v1/messages", Some(("ad1", &adapter)), &off), None);
    }
}
