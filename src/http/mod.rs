//! HTTP: thin handlers (extract → parse into domain types → call a use case → map the
//! answer), the extractors (credentials, raw bodies), the middleware (rate limits),
//! problem+json errors and the OpenAPI document. Routes are grouped by resource, each
//! with its own `configure`; provider webhooks are in `webhooks`.

mod agents;
pub mod auth;
pub mod body;
mod calls;
mod conversations;
mod customers;
pub mod desk;
pub mod error;
pub mod events;
pub mod messages;
pub mod openapi;
pub mod ops;
mod queues;
pub mod rate_limit;
pub mod webhooks;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{web, HttpRequest};

use self::error::ApiError;

/// What the HTTP layer itself enforces: body size and rate limits.
#[derive(Debug)]
pub struct HttpLimits {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    pub rate_limits: crate::app::rate_limits::RateLimits,
    /// This replica's leases of the shared rate-limit budgets.
    pub leases: crate::app::rate_limits::Leases,
}

/// Registers the API routes and the extractor settings that turn bad input into problems.
pub fn configure(max_body_bytes: usize) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg| {
        cfg.app_data(
            web::JsonConfig::default()
                .limit(max_body_bytes)
                .content_type_required(true)
                .error_handler(move |e, _| json_error(e, max_body_bytes).into()),
        )
        .app_data(web::PayloadConfig::default().limit(max_body_bytes))
        .app_data(web::PathConfig::default().error_handler(|e, _| path_error(e).into()))
        .app_data(web::QueryConfig::default().error_handler(|e, _| query_error(e).into()))
        .configure(messages::configure)
        .configure(agents::configure)
        .configure(calls::configure)
        .configure(webhooks::twilio_voice::configure)
        .configure(webhooks::twilio_messaging::configure)
        .configure(webhooks::meta::configure)
        .configure(webhooks::email::configure)
        .configure(webhooks::telegram::configure)
        .configure(events::configure)
        .configure(conversations::configure)
        .configure(customers::configure)
        .configure(queues::configure)
        .configure(openapi::configure)
        .configure(desk::configure)
        .default_service(web::to(not_found));
    }
}

fn json_error(e: JsonPayloadError, max: usize) -> ApiError {
    match e {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::PayloadTooLarge(max)
        }
        JsonPayloadError::ContentType => {
            ApiError::UnsupportedMediaType("the body must be application/json".into())
        }
        JsonPayloadError::Deserialize(e) => ApiError::BadRequest(format!("malformed JSON: {e}")),
        other => ApiError::BadRequest(other.to_string()),
    }
}

fn path_error(e: PathError) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

fn query_error(e: QueryPayloadError) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

/// A resource whose unmatched methods answer 405 problem+json.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    let allow = req
        .match_pattern()
        .and_then(|pattern| openapi::allowed_methods(&pattern))
        .unwrap_or_default();
    Err(ApiError::MethodNotAllowed {
        detail: format!("{} is not allowed on {}", req.method(), req.path()),
        allow,
    })
}

async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
