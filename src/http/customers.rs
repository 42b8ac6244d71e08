//! Customer reads: by id, or by one of their identities.

use actix_web::{web, HttpRequest};
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::Admin;
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::App;
use crate::domain::{CustomerId, CustomerView};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/customers").route(web::get().to(find_customer)))
        .service(
            resource("/v1/customers/{id}")
                .route(web::get().to(get_customer))
                .route(web::patch().to(patch_customer)),
        );
}

/// A customer; the id of a customer merged into another answers the survivor.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}",
    tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = CustomerView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_customer(
    _: Admin,
    state: web::Data<App>,
    id: web::Path<String>,
) -> Result<web::Json<CustomerView>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no customer `{id}`"));
    let cid: CustomerId = id.parse().map_err(|_| not_found())?;
    crate::app::ratings::customer(&state, &cid)
        .await?
        .map(web::Json)
        .ok_or_else(not_found)
}

/// What an admin may change about a customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    /// e.g. `standard`, `gold`, `vip`: any tier but `standard` is served first in queues,
    /// and tiers may have their own sticky waits.
    pub tier: String,
}

/// Sets a customer's tier.
#[utoipa::path(
    patch,
    path = "/v1/customers/{id}",
    tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    request_body = CustomerPatch,
    security(("admin_token" = [])),
    responses(
        (status = 200, body = CustomerView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn patch_customer(
    _: Admin,
    state: web::Data<App>,
    id: web::Path<String>,
    body: web::Json<CustomerPatch>,
) -> Result<web::Json<CustomerView>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no customer `{id}`"));
    let cid: CustomerId = id.parse().map_err(|_| not_found())?;
    let tier = body.tier.trim().to_lowercase();
    let valid = !tier.is_empty()
        && tier.len() <= 32
        && tier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(ApiError::BadRequest(
            "`tier` must be 1-32 of a-z, 0-9, `_`, `-`".into(),
        ));
    }
    state
        .store
        .set_tier(&cid, &tier)
        .await?
        .map(web::Json)
        .ok_or_else(not_found)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct IdentityQuery {
    /// `kind:value`, normalised before the look-up (e.g. `phone:+14155550100`). A literal
    /// `+` stays a plus (it is not read as a space), so E.164 numbers need no escaping.
    pub identity: String,
}

impl IdentityQuery {
    /// Reads `identity` from the raw query, percent-decoding but keeping `+` literal.
    fn from_request(req: &HttpRequest) -> Result<Self, ApiError> {
        let raw = req
            .query_string()
            .split('&')
            .find_map(|pair| pair.strip_prefix("identity="))
            .ok_or_else(|| {
                ApiError::BadRequest("the `identity` query parameter is required".into())
            })?;
        let identity = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| ApiError::BadRequest("`identity` is not UTF-8".into()))?
            .into_owned();
        Ok(Self { identity })
    }
}

/// The one customer holding an identity.
#[utoipa::path(
    get,
    path = "/v1/customers",
    tag = "customers",
    params(IdentityQuery),
    security(("admin_token" = [])),
    responses(
        (status = 200, body = CustomerView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn find_customer(
    _: Admin,
    state: web::Data<App>,
    req: HttpRequest,
) -> Result<web::Json<CustomerView>, ApiError> {
    let query = IdentityQuery::from_request(&req)?;
    let identity = state.normaliser.parse_key(&query.identity)?;
    state
        .store
        .customer_by_identity(&identity)
        .await?
        .map(web::Json)
        .ok_or_else(|| ApiError::NotFound(format!("no customer holds `{identity}`")))
}
