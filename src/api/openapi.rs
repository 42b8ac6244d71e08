//! The OpenAPI document, generated from the handlers' annotations, at `GET /openapi.json`.

use actix_web::{web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{agents, calls, conversations, customers, events, messages, ops};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard",
        description = "One conversation per customer across every channel, routed to their personal agent. \
                       `/healthz`, `/readyz` and `/metrics` are served on the ops port; everything else on the API port."
    ),
    paths(
        messages::ingest,
        calls::incoming_call,
        calls::call_event,
        crate::adapters::twilio::voice::voice,
        crate::adapters::twilio::voice::menu,
        crate::adapters::twilio::voice::dial,
        crate::adapters::twilio::voice::status,
        crate::adapters::twilio::messaging::messaging,
        crate::adapters::email::email,
        crate::adapters::meta::handshake,
        crate::adapters::meta::events,
        crate::adapters::telegram::update,
        agents::put_agent,
        agents::get_agent,
        agents::list_agents,
        agents::put_presence,
        agents::delete_agent,
        events::events,
        conversations::get_conversation,
        conversations::resolve,
        conversations::reply,
        conversations::transfer,
        conversations::delivery,
        customers::get_customer,
        customers::patch_customer,
        customers::find_customer,
        openapi_json,
        ops::healthz,
        ops::readyz,
        ops::metrics,
    ),
    components(schemas(crate::domain::Identity, crate::domain::Message, crate::domain::Route)),
    modifiers(&BearerTokens),
    tags(
        (name = "ingest", description = "Inbound messages from channel adapters"),
        (name = "agents", description = "Agents, their capacity and presence"),
        (name = "calls", description = "Phone calls and the IVR bypass"),
        (name = "email", description = "Raw RFC 5322 e-mail from an MTA or relay"),
        (name = "meta", description = "WhatsApp Cloud API, Messenger and Instagram (signed with X-Hub-Signature-256)"),
        (name = "telegram", description = "Telegram Bot API updates (X-Telegram-Bot-Api-Secret-Token)"),
        (name = "twilio", description = "Twilio Programmable Voice webhooks (signed with X-Twilio-Signature)"),
        (name = "conversations", description = "Timelines and conversation actions"),
        (name = "customers", description = "Customers and their identities"),
        (name = "ops", description = "Health, readiness and metrics (ops port)"),
    )
)]
pub struct ApiDoc;

struct BearerTokens;

impl Modify for BearerTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ["adapter_token", "admin_token"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
        components.add_security_scheme(
            "agent_jwt",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("HS256, `sub` = agent id, `exp` required"))
                    .build(),
            ),
        );
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/openapi.json").route(web::get().to(openapi_json)));
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "The OpenAPI document")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
