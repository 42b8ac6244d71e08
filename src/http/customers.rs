//! Customers: reads by id or by one of their identities, the tier, and their
//! complaints ("complain to a manager").

use actix_web::{web, HttpRequest, HttpResponse};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit;
use super::auth::{Admin, AnyCaller, Caller, Staff};
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::complaints::{self, Source};
use crate::app::follow_ups;
use crate::app::{Actor, App};
use crate::domain::{
    clipped, AuditAction, Channel, CustomerId, CustomerView, ManagerCard, MaskedIdentity,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/customers").route(web::get().to(find_customer)))
        .service(
            resource("/v1/customers/{id}")
                .route(web::get().to(get_customer))
                .route(web::patch().to(patch_customer))
                .route(web::delete().to(super::privacy::erase_customer)),
        )
        .service(resource("/v1/customers/{id}/complaints").route(web::post().to(complain)))
        .service(resource("/v1/customers/{id}/manager").route(web::get().to(manager)))
        .service(
            resource("/v1/customers/{id}/follow-up")
                .route(web::put().to(set_follow_up))
                .route(web::delete().to(cancel_follow_up)),
        );
}

/// When the personal agent is to follow up with the customer.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    pub due_at: chrono::DateTime<chrono::Utc>,
}

fn customer_id(raw: &str) -> Result<CustomerId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("no customer `{}`", clipped(raw, 64))))
}

/// Schedules (or moves) the customer's follow-up: when it comes due it is routed to
/// their personal agent like a conversation.
#[utoipa::path(
    put,
    path = "/v1/customers/{id}/follow-up",
    tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    request_body = FollowUp,
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = FollowUp),
    )
)]
pub async fn set_follow_up(
    staff: Staff,
    state: web::Data<App>,
    id: web::Path<String>,
    body: web::Json<FollowUp>,
) -> Result<web::Json<FollowUp>, ApiError> {
    let cid = customer_id(&id)?;
    follow_ups::set(&state, &staff.actor(), &cid, body.due_at).await?;
    Ok(body)
}

/// Cancels the customer's follow-up.
#[utoipa::path(
    delete,
    path = "/v1/customers/{id}/follow-up",
    tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 404, description = "No such customer or no follow-up", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn cancel_follow_up(
    staff: Staff,
    state: web::Data<App>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    follow_ups::cancel(&state, &staff.actor(), &customer_id(&id)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The customer's personal agent's public card (name, title, photo, direct addresses,
/// available now), for the site header or the chat widget.
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/manager",
    tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    security(("adapter_token" = []), ("admin_token" = [])),
    responses(
        (status = 200, body = ManagerCard),
        (status = 404, description = "No such customer, or no personal agent yet", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn manager(
    caller: AnyCaller,
    state: web::Data<App>,
    id: web::Path<String>,
) -> Result<web::Json<ManagerCard>, ApiError> {
    if let Caller::Agent(_) | Caller::Supervisor(_) = caller.0 {
        return Err(ApiError::Forbidden);
    }
    let not_found = || ApiError::NotFound(format!("customer `{id}` has no personal agent"));
    let cid: CustomerId = id.parse().map_err(|_| not_found())?;
    crate::app::agents::manager_card(&state, &cid)
        .await?
        .map(web::Json)
        .ok_or_else(not_found)
}

/// A complaint: the "complain to a manager" button, or raised by staff.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplaintRequest {
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    pub text: String,
    /// Where it was raised (the chat widget: `chat`).
    pub channel: Channel,
    /// The button click's own id: a retry with the same id joins the first.
    #[serde(default)]
    #[schema(max_length = 128)]
    pub external_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComplaintResponse {
    /// The conversation that holds the complaint, now in the supervisor queue.
    pub conversation_id: String,
}

/// Raises a complaint: it joins the customer's conversation (opening one if needed),
/// marks an open complaint (the customer's calls skip the menu with reason
/// `open_complaint`, and their conversations queue first) and goes to the supervisor
/// queue, ahead of routine work. Resolving the conversation closes it.
#[utoipa::path(
    post,
    path = "/v1/customers/{id}/complaints",
    tag = "customers",
    params(("id" = String, Path, description = "Customer id")),
    request_body = ComplaintRequest,
    security(("adapter_token" = []), ("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 201, body = ComplaintResponse),
        (status = 409, description = "The customer has no identity to write from", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn complain(
    caller: AnyCaller,
    state: web::Data<App>,
    id: web::Path<String>,
    body: web::Json<ComplaintRequest>,
) -> Result<HttpResponse, ApiError> {
    let cid: CustomerId = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no customer `{id}`")))?;
    if body.external_id.as_ref().is_some_and(|e| e.len() > 128) {
        return Err(ApiError::BadRequest(
            "`external_id`: at most 128 characters".into(),
        ));
    }
    let conv = match caller.0 {
        Caller::Adapter => {
            let retry_key = body.external_id.as_deref();
            complaints::raise(
                &state,
                &cid,
                &body.text,
                body.channel,
                Source::Button,
                retry_key,
            )
            .await?
        }
        staff => {
            complaints::raise_as_staff(&state, &Staff(staff).actor(), &cid, &body.text).await?
        }
    };
    Ok(HttpResponse::Created().json(ComplaintResponse {
        conversation_id: conv.to_string(),
    }))
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
    )
)]
pub async fn get_customer(
    _: Admin,
    state: web::Data<App>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<web::Json<CustomerView>, ApiError> {
    let not_found = || ApiError::NotFound(format!("no customer `{id}`"));
    let cid: CustomerId = id.parse().map_err(|_| not_found())?;
    let view = crate::app::ratings::customer(&state, &cid)
        .await?
        .ok_or_else(not_found)?;
    read_by_admin(&state, &req, &view).await?;
    Ok(web::Json(view))
}

/// Audits an admin's read of a customer.
async fn read_by_admin(
    state: &App,
    req: &HttpRequest,
    view: &CustomerView,
) -> Result<(), ApiError> {
    let action = AuditAction::CustomerRead;
    audit::record(state, &Actor::Admin, req, action, &view.id.to_string()).await
}

/// What an admin may change about a customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    /// e.g. `standard`, `gold`, `vip`: any tier but `standard` is served first in queues,
    /// and tiers may have their own sticky waits.
    // `domain::TIER_PATTERN` (the derive takes literals only; a test compares them).
    #[schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9_-]{1,32}$")]
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
    let tier = crate::domain::tier(&body.tier)?;
    state
        .store
        .set_tier(&cid, &tier)
        .await?
        .map(web::Json)
        .ok_or_else(not_found)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
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
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn find_customer(
    _: Admin,
    state: web::Data<App>,
    req: HttpRequest,
) -> Result<web::Json<CustomerView>, ApiError> {
    let query = IdentityQuery::from_request(&req)?;
    let identity = state.normaliser.parse_key(&query.identity)?;
    let view = state
        .store
        .customer_by_identity(&identity)
        .await?
        .ok_or_else(|| {
            let masked = MaskedIdentity(&identity);
            ApiError::NotFound(format!("no customer holds `{masked}`"))
        })?;
    read_by_admin(&state, &req, &view).await?;
    Ok(web::Json(view))
}
