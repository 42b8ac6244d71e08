//! The one API error type. Every error leaves as RFC 9457 `application/problem+json`;
//! the status mapping is the single `match` below. 5xx bodies stay opaque while the
//! log gets the whole cause chain.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppError;
use crate::domain::DomainError;
use crate::store::StoreError;

/// Seconds a client should wait before retrying while the store is unreachable.
const RETRY_AFTER_SECS: &str = "1";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("this token may not do that")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    /// `allow` lists the methods the resource takes, for the `Allow` header (RFC 9110).
    #[error("{detail}")]
    MethodNotAllowed { detail: String, allow: String },
    #[error("{0}")]
    Conflict(String),
    /// A reply past its network's messaging window; `channels` reach the customer still.
    #[error("{detail}")]
    WindowClosed {
        detail: String,
        channels: Vec<String>,
    },
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("the request body was not received in time")]
    RequestTimeout,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("rate limit exceeded; retry after {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// Not a failure: a blocked sender's message, answered 202 `{"blocked": true}` at
    /// every door (providers take any 2xx), nothing stored.
    #[error("the sender is blocked")]
    Blocked,
    #[error("the store is unreachable; retry shortly")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For `channel-window-closed`: the customer's channels a reply still reaches
    /// (`email`, `phone:sms`, `chat`, `social:<network>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<String>>,
}

impl ApiError {
    /// Stable code (the tail of `type`) and title for each kind of problem.
    fn code_and_title(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => ("bad-request", "Bad request"),
            ApiError::Unauthorized => ("unauthorized", "Unauthorized"),
            ApiError::Forbidden => ("forbidden", "Forbidden"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            ApiError::Conflict(_) => ("conflict", "Conflict"),
            ApiError::WindowClosed { .. } => ("channel-window-closed", "Channel window closed"),
            ApiError::PayloadTooLarge(_) => ("payload-too-large", "Payload too large"),
            ApiError::RequestTimeout => ("request-timeout", "Request timeout"),
            ApiError::UnsupportedMediaType(_) => {
                ("unsupported-media-type", "Unsupported media type")
            }
            ApiError::TooManyRequests { .. } => ("rate-limited", "Too many requests"),
            ApiError::Unavailable(_) => ("store-unavailable", "Service unavailable"),
            ApiError::Blocked => ("blocked", "Blocked sender"),
            ApiError::Internal(_) => ("internal", "Internal server error"),
        }
    }

    pub fn problem(&self) -> Problem {
        let (code, title) = self.code_and_title();
        Problem {
            kind: format!("urn:switchboard:problem:{code}"),
            title: title.to_owned(),
            status: self.status_code().as_u16(),
            detail: self.to_string(),
            channels: match self {
                ApiError::WindowClosed { channels, .. } => Some(channels.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::WindowClosed { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Blocked => StatusCode::ACCEPTED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if self.status_code().is_server_error() {
            tracing::error!(error = %error_chain(self), "request failed");
        }
        if let ApiError::Blocked = self {
            return HttpResponse::Accepted().json(serde_json::json!({ "blocked": true }));
        }
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        match self {
            ApiError::Unauthorized => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            ApiError::Unavailable(_) => {
                response.insert_header((
                    header::RETRY_AFTER,
                    HeaderValue::from_static(RETRY_AFTER_SECS),
                ));
            }
            ApiError::TooManyRequests { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                if let Ok(value) = HeaderValue::from_str(allow) {
                    response.insert_header((header::ALLOW, value));
                }
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(detail) => ApiError::BadRequest(detail),
            AppError::NotFound(detail) => ApiError::NotFound(detail),
            AppError::Conflict(detail) => ApiError::Conflict(detail),
            AppError::WindowClosed { detail, channels } => {
                ApiError::WindowClosed { detail, channels }
            }
            AppError::Unavailable(e) => ApiError::Unavailable(e),
            AppError::Blocked => ApiError::Blocked,
            AppError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) | StoreError::Contention(_) => ApiError::Unavailable(e),
            StoreError::Conflict(detail) => ApiError::Conflict(detail),
            StoreError::Corrupt(_) => ApiError::Internal(Box::new(e)),
        }
    }
}

/// `error: cause: cause` for logs.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn problems_carry_type_title_status_and_detail() {
        let response = ApiError::NotFound("no conversation x".into()).error_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let ct = response
            .headers()
            .get(header::CONTENT_TYPE)
            .expect("content type");
        assert_eq!(ct, "application/problem+json");
        let body = to_bytes(response.into_body()).await.expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["type"], "urn:switchboard:problem:not-found");
        assert_eq!(json["title"], "Not found");
        assert_eq!(json["status"], 404);
        assert_eq!(json["detail"], "no conversation x");
    }

    #[actix_web::test]
    async fn server_errors_stay_opaque_and_unavailability_says_when_to_retry() {
        let secret = StoreError::Corrupt("key sb:c:{abc} holds garbage".into());
        let response = ApiError::from(secret).error_response();
        let body = to_bytes(response.into_body()).await.expect("body");
        assert!(!String::from_utf8_lossy(&body).contains("garbage"));
        let down = StoreError::Contention("x".into());
        let response = ApiError::from(down).error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .expect("retry-after"),
            "1"
        );
    }
}
