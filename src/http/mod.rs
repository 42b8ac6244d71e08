//! HTTP: thin handlers (extract → parse into domain types → call a use case → map the
//! answer), the extractors (credentials, raw bodies), the middleware (rate limits),
//! problem+json errors and the OpenAPI document. Routes are grouped by resource, each
//! with its own `configure`; provider webhooks are in `webhooks`.

pub mod access;
mod agents;
mod audit;
pub mod auth;
mod blocks;
pub mod body;
mod calls;
mod conversations;
mod customers;
pub mod deadline;
mod delivery_status;
pub mod desk;
pub mod error;
pub mod events;
mod feed;
pub mod messages;
pub mod openapi;
pub mod ops;
mod privacy;
mod queues;
pub mod rate_limit;
mod upgrade;
pub mod webhooks;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{web, HttpRequest};

use self::error::ApiError;
use crate::domain::clipped;

/// What the HTTP layer itself enforces: body size and rate limits.
#[derive(Debug)]
pub struct HttpLimits {
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long a request's whole body may take to arrive.
    pub body_timeout: std::time::Duration,
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
        .configure(access::configure)
        .configure(calls::configure)
        .configure(webhooks::twilio_voice::configure)
        .configure(webhooks::twilio_messaging::configure)
        .configure(webhooks::meta::configure)
        .configure(webhooks::email::configure)
        .configure(webhooks::telegram::configure)
        .configure(events::configure)
        .configure(conversations::configure)
        .configure(delivery_status::configure)
        .configure(customers::configure)
        .configure(privacy::configure)
        .configure(audit::configure)
        .configure(feed::configure)
        .configure(blocks::configure)
        .configure(queues::configure)
        .configure(upgrade::configure)
        .configure(openapi::configure)
        .configure(desk::configure)
        .default_service(web::to(not_found));
    }
}

fn json_error(e: JsonPayloadError, max: usize) -> ApiError {
    match e {
        JsonPayloadError::Payload(e) if deadline::timed_out(&e) => ApiError::RequestTimeout,
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

/// The methods named as they are in metric labels and log lines; any other a client
/// invents is `other`, so made-up methods add no series and no long lines.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        _ => "other",
    }
}

/// Headers every API answer carries: customers' data is never kept by a shared cache or
/// a browser (`no-store`, unless the answer chose its own caching), and no answer is
/// sniffed into another content type.
pub fn harden_headers(headers: &mut actix_web::http::header::HeaderMap) {
    use actix_web::http::header::{self, HeaderValue};
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Longest stretch of a request's path quoted in a problem detail (and so a log line).
const QUOTED_PATH_CHARS: usize = 128;

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
        detail: format!(
            "{} is not allowed on {}",
            method_label(req.method()),
            clipped(req.path(), QUOTED_PATH_CHARS)
        ),
        allow,
    })
}

async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no route for {} {}",
        method_label(req.method()),
        clipped(req.path(), QUOTED_PATH_CHARS)
    )))
}
