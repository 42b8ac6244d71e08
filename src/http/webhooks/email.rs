//! Raw RFC 5322 e-mail from an MTA pipe or inbound relay (adapter token).

use actix_web::{web, HttpRequest, HttpResponse};

use crate::adapters::email;
use crate::app::App;
use crate::domain::Receipt;
use crate::http::auth::Adapter;
use crate::http::body::RawBody;
use crate::http::error::ApiError;
use crate::http::resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/adapters/email").route(web::post().to(email)));
}

/// A raw e-mail: stored as a message of its sender; a reply that names an earlier mail of
/// a conversation joins that conversation's customer (even from another address).
#[utoipa::path(post, path = "/v1/adapters/email", tag = "email",
    request_body(content = String, content_type = "message/rfc822", description = "The raw message"),
    security(("adapter_token" = [])),
    responses(
        (status = 202, body = Receipt),
    ))]
pub async fn email(
    _: Adapter,
    state: web::Data<App>,
    req: HttpRequest,
    RawBody(body): RawBody,
) -> Result<HttpResponse, ApiError> {
    let ct = req
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.trim().to_ascii_lowercase().starts_with("message/rfc822") {
        return Err(ApiError::UnsupportedMediaType(
            "the body must be message/rfc822".into(),
        ));
    }
    let mail =
        email::parse(&body).map_err(|e| ApiError::BadRequest(format!("malformed e-mail: {e}")))?;
    let receipt = email::ingest(&state, mail).await?;
    Ok(HttpResponse::Accepted().json(receipt))
}
