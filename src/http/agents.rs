//! Agents: profiles (admin), presence (the agent itself or an admin), reads.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::audit;
use super::auth::{Admin, Staff, Tokens, Watcher};
use super::error::{ApiError, Problem};
use super::resource;
use crate::app::desk::{self, DeskItem};
use crate::app::{access, agents, ratings, Actor, App};
use crate::domain::{
    clipped, AgentId, AgentProfile, AgentView, AuditAction, Capacity, Presence, PublicCard, Skills,
    DEFAULT_GROUP,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/v1/agents").route(web::get().to(list_agents)))
        .service(
            resource("/v1/agents/{id}")
                .route(web::get().to(get_agent))
                .route(web::put().to(put_agent))
                .route(web::delete().to(delete_agent)),
        )
        .service(resource("/v1/agents/{id}/presence").route(web::put().to(put_presence)))
        .service(resource("/v1/agents/{id}/conversations").route(web::get().to(held)));
}

/// Capacity per channel; a channel left out gets the default (phone 1, email 5, chat 3, social 3).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityDto {
    pub phone: Option<u32>,
    pub email: Option<u32>,
    pub chat: Option<u32>,
    pub social: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub capacity: CapacityDto,
    /// Skill name → level 1-5 (`{"billing": 3}`; a plain list of names means level 1).
    #[serde(default)]
    pub skills: Skills,
    /// BCP 47 language tags; routing matches on the primary subtag (`es` of `es-MX`).
    #[serde(default)]
    pub languages: Vec<String>,
    /// Where calls reach the agent: `sip:user@host` or an E.164 number (default: the
    /// phone adapter's client named by the agent id).
    #[serde(default)]
    pub dial: Option<String>,
    /// What their customers see of them (the manager's card): `title`, `photo_url`,
    /// `direct` addresses by channel.
    #[serde(default)]
    pub card: PublicCard,
    /// The routing group the agent works in (default `default`). Moving an agent to
    /// another group needs an idle agent: nothing held, nobody waiting, no customers.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = "^[a-z0-9][a-z0-9_-]*$",
        example = "sales"
    )]
    pub group: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceRequest {
    pub presence: Presence,
}

pub(super) fn agent_id(raw: &str) -> Result<AgentId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound(format!("no agent `{}`", clipped(raw, 64))))
}

/// Creates or updates an agent; a new agent starts offline.
#[utoipa::path(
    put,
    path = "/v1/agents/{id}",
    tag = "agents",
    params(("id" = String, Path, description = "Agent id: 1-64 of A-Z a-z 0-9 . _ -")),
    request_body = AgentRequest,
    security(("admin_token" = [])),
    responses(
        (status = 201, description = "Created", body = AgentView),
        (status = 200, description = "Updated", body = AgentView),
        (status = 409, description = "A move to another group while the agent is busy", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put_agent(
    _: Admin,
    state: web::Data<App>,
    id: web::Path<String>,
    req: HttpRequest,
    body: web::Json<AgentRequest>,
) -> Result<HttpResponse, ApiError> {
    let id: AgentId = id.parse()?;
    let body = body.into_inner();
    let d = Capacity::default();
    let capacity = Capacity {
        phone: body.capacity.phone.unwrap_or(d.phone),
        email: body.capacity.email.unwrap_or(d.email),
        chat: body.capacity.chat.unwrap_or(d.chat),
        social: body.capacity.social.unwrap_or(d.social),
    };
    let action = AuditAction::AgentUpdate;
    let target = id.to_string();
    let profile = AgentProfile::new(id, body.name, body.teams, capacity)?
        .with_skills(body.skills, &body.languages)?
        .with_dial(body.dial)?
        .with_card(body.card)?
        .in_group(body.group.as_deref().unwrap_or(DEFAULT_GROUP).parse()?);
    // Once the change is valid, before it is made.
    audit::record(&state, &Actor::Admin, &req, action, &target).await?;
    let saved = agents::save(&state, &profile).await?;
    let mut response = if saved.created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response.json(saved.view))
}

/// An agent: presence, load per channel and portfolio size.
#[utoipa::path(
    get,
    path = "/v1/agents/{id}",
    tag = "agents",
    params(("id" = String, Path, description = "Agent id")),
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = AgentView),
        (status = 403, description = "Another agent", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_agent(
    staff: Staff,
    state: web::Data<App>,
    id: web::Path<String>,
) -> Result<web::Json<AgentView>, ApiError> {
    let id = agent_id(&id)?;
    if !staff.may_read_as(&id) {
        return Err(ApiError::Forbidden);
    }
    ratings::agent(&state, &id)
        .await?
        .map(web::Json)
        .ok_or_else(|| ApiError::NotFound(format!("no agent `{id}`")))
}

/// The conversations the agent holds now, most recent activity first, each with what
/// the customer wrote since staff last answered: the agent desk's list.
#[utoipa::path(
    get,
    path = "/v1/agents/{id}/conversations",
    tag = "agents",
    params(("id" = String, Path, description = "Agent id")),
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = [DeskItem]),
        (status = 403, description = "Another agent (supervisors may read any)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn held(
    staff: Staff,
    state: web::Data<App>,
    id: web::Path<String>,
) -> Result<web::Json<Vec<DeskItem>>, ApiError> {
    let id = agent_id(&id)?;
    if !staff.may_read_as(&id) {
        return Err(ApiError::Forbidden);
    }
    if state.store.agent(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no agent `{id}`")));
    }
    Ok(web::Json(desk::held(&state, &id).await?))
}

/// Removes an agent. The conversations it holds and the customers waiting for it go
/// back to routing at once; its customers get a new personal agent, by the usual rule,
/// the next time they need one. Every token of the agent is revoked first, so none works
/// again, not even for an agent of that id created later.
#[utoipa::path(
    delete,
    path = "/v1/agents/{id}",
    tag = "agents",
    params(("id" = String, Path, description = "Agent id")),
    security(("admin_token" = [])),
    responses(
        (status = 204, description = "Removed"),
    )
)]
pub async fn delete_agent(
    _: Admin,
    state: web::Data<App>,
    tokens: web::Data<Tokens>,
    id: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = agent_id(&id)?;
    let action = AuditAction::AgentDelete;
    audit::record(&state, &Actor::Admin, &req, action, id.as_str()).await?;
    let keep = tokens.lifetime().revocation_keep();
    access::revoke_on_removal(&state, &id, chrono::Utc::now(), keep).await?;
    agents::remove(&state, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every agent (admins, and supervisors watching the floor).
#[utoipa::path(
    get,
    path = "/v1/agents",
    tag = "agents",
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = Vec<AgentView>),
    )
)]
pub async fn list_agents(
    _: Watcher,
    state: web::Data<App>,
) -> Result<web::Json<Vec<AgentView>>, ApiError> {
    Ok(web::Json(state.store.agents().await?))
}

/// Sets presence. Coming online takes waiting conversations at once; going offline sends
/// customers waiting for this agent elsewhere.
#[utoipa::path(
    put,
    path = "/v1/agents/{id}/presence",
    tag = "agents",
    params(("id" = String, Path, description = "Agent id")),
    request_body = PresenceRequest,
    security(("admin_token" = []), ("agent_jwt" = [])),
    responses(
        (status = 200, body = AgentView),
        (status = 403, description = "Another agent", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put_presence(
    staff: Staff,
    state: web::Data<App>,
    id: web::Path<String>,
    body: web::Json<PresenceRequest>,
) -> Result<web::Json<AgentView>, ApiError> {
    let id = agent_id(&id)?;
    if !staff.may_act_as(&id) {
        return Err(ApiError::Forbidden);
    }
    Ok(web::Json(
        agents::set_presence(&state, &id, body.presence).await?,
    ))
}
