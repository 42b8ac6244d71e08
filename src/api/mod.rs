//! HTTP routes. Handlers stay thin: extract → parse into domain types → call the store →
//! map the answer. Routes are grouped by resource, each with its own `configure`.

mod agents;
pub mod body;
mod calls;
mod conversations;
mod customers;
pub mod events;
pub mod messages;
pub mod openapi;
pub mod ops;
pub mod rate_limit;

use std::sync::Arc;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{web, HttpRequest};

use crate::domain::{IdentityNormaliser, Limits};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::store::Store;

/// What every handler may use.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub normaliser: IdentityNormaliser,
    pub limits: Limits,
    pub metrics: Metrics,
    pub ivr: crate::calls::IvrPolicy,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Twilio's auth token and our public base URL, when the Twilio webhooks are on.
    pub twilio: Option<TwilioConfig>,
    pub meta: Option<MetaConfig>,
    /// Where agents' replies are delivered, when configured.
    pub outbound: Option<crate::outbound::OutboundConfig>,
    pub telegram_secret: Option<String>,
    pub rate_limits: crate::configuration::RateLimitSettings,
}

/// Meta's app secret (event signatures) and verify token (subscription handshake).
#[derive(Debug, Clone)]
pub struct MetaConfig {
    pub app_secret: Option<String>,
    pub verify_token: Option<String>,
}

/// What checking Twilio's signatures takes.
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    pub auth_token: String,
    /// The external base URL Twilio calls (`SWITCHBOARD_PUBLIC_URL`), no trailing slash.
    pub public_url: String,
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
        .configure(crate::adapters::twilio::voice::configure)
        .configure(crate::adapters::twilio::messaging::configure)
        .configure(crate::adapters::meta::configure)
        .configure(crate::adapters::email::configure)
        .configure(crate::adapters::telegram::configure)
        .configure(events::configure)
        .configure(conversations::configure)
        .configure(customers::configure)
        .configure(openapi::configure)
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
