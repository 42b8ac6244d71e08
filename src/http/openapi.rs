//! The OpenAPI document, generated from the handlers' annotations, at `GET /openapi.json`.

use std::sync::OnceLock;

use actix_web::{web, HttpResponse};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{access, agents, calls, conversations, customers, events, feed, messages, queues};
use crate::domain::QUEUES;
use crate::domain::{
    AgentId, Channel, ConversationId, CustomerId, IdentityKind, Language, Medium, Network,
    MAX_LABELS, SKILL_PATTERN,
};

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
        calls::get_call,
        super::webhooks::twilio_voice::voice,
        super::webhooks::twilio_voice::menu,
        super::webhooks::twilio_voice::dial,
        super::webhooks::twilio_voice::status,
        super::webhooks::twilio_messaging::messaging,
        super::webhooks::twilio_messaging::status,
        super::webhooks::email::email,
        super::webhooks::meta::handshake,
        super::webhooks::meta::events,
        super::webhooks::telegram::update,
        agents::put_agent,
        agents::get_agent,
        agents::list_agents,
        agents::put_presence,
        agents::delete_agent,
        access::revoke,
        access::me,
        feed::events,
        events::events,
        conversations::get_conversation,
        conversations::resolve,
        conversations::reply,
        conversations::transfer,
        conversations::set_requirements,
        conversations::rate,
        conversations::deadlines,
        conversations::delivery,
        customers::get_customer,
        customers::complain,
        customers::manager,
        customers::set_follow_up,
        customers::cancel_follow_up,
        queues::list_queue,
        queues::floor,
        super::upgrade::storage_format,
        super::upgrade::finalize,
        agents::held,
        customers::patch_customer,
        super::privacy::export_customer,
        super::privacy::redact,
        super::privacy::erase_customer,
        super::privacy::erasure_status,
        super::blocks::block,
        super::blocks::unblock,
        super::delivery_status::report_status,
        super::audit::audit_trail,
        customers::find_customer,
        openapi_json,
    ),
    components(schemas(crate::domain::Identity, crate::domain::Message, crate::domain::Route)),
    modifiers(&BearerTokens, &CommonProblems),
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
        (name = "ops", description = "This document. Health, readiness and metrics are on the ops port"),
    )
)]
pub struct ApiDoc;

/// The answers every route of a kind gives, added where its annotation leaves them out,
/// so the document lists every status the server can send: bad input (400), missing or
/// wrong credentials (401, 403), unknown ids (404), bodies too large (413) or of the
/// wrong type (415), rate limits (429) and an unreachable store (503).
struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if path == "/openapi.json" {
                continue;
            }
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for (status, why) in common_problems(path, op) {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem_response(why));
                }
            }
        }
    }
}

fn common_problems(path: &str, op: &Operation) -> Vec<(&'static str, &'static str)> {
    let mut out = vec![
        (
            "429",
            "Rate limit exceeded; retry after `Retry-After` seconds",
        ),
        (
            "503",
            "The store is unreachable; retry after `Retry-After` seconds",
        ),
    ];
    if op.security.is_some() {
        out.push(("401", "Missing or invalid bearer token"));
        out.push(("403", "This token may not do that"));
    }
    if path.starts_with("/v1/adapters/twilio") {
        out.push(("404", "The Twilio webhooks are not configured"));
    }
    if path.contains('{') {
        out.push(("400", "Malformed path or query"));
        out.push(("404", "No such resource"));
    }
    if let Some(body) = &op.request_body {
        out.push(("400", "Malformed body"));
        out.push(("413", "Body larger than the limit"));
        let typed = ["application/json", "message/rfc822"];
        if body.content.keys().any(|ct| typed.contains(&ct.as_str())) {
            out.push(("415", "Wrong Content-Type"));
        }
    }
    if op.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
        out.push(("400", "Malformed parameters"));
    }
    out
}

fn problem_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

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

/// The methods the document lists for a route pattern (`/v1/agents/{id}`), as an
/// `Allow` header value: the document is the one list of what each route takes.
pub fn allowed_methods(pattern: &str) -> Option<String> {
    let methods = document()["paths"][pattern].as_object()?;
    let allow: Vec<&str> = ["GET", "PUT", "POST", "DELETE", "PATCH"]
        .into_iter()
        .filter(|m| methods.contains_key(&m.to_ascii_lowercase()))
        .collect();
    Some(allow.join(", "))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource("/openapi.json").route(web::get().to(openapi_json)));
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, description = "The OpenAPI document")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

/// The generated document plus the rules the derive cannot express.
pub fn document() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        network_rules(&mut doc["components"]["schemas"]["IngestRequest"]);
        parameter_rules(&mut doc["paths"]);
        requirement_rules(&mut doc["components"]["schemas"]);
        transfer_rules(&mut doc["components"]["schemas"]["TransferRequest"]);
        doc
    })
}

/// Which `network` each `channel` takes (`Medium::new`): phone `voice` or `sms` (or
/// none), social one of its networks (required), e-mail and chat none. JSON Schema
/// 2020-12 `if`/`then`, which OpenAPI 3.1 schemas are.
fn network_rules(schema: &mut serde_json::Value) {
    use serde_json::json;
    let networks = |channel: Channel| -> Vec<&str> {
        Network::ALL
            .iter()
            .filter(|n| Medium::new(channel, Some(**n)).is_ok())
            .map(|n| n.as_str())
            .collect()
    };
    let rule = |channel: Channel| {
        let allowed = networks(channel);
        let network = if allowed.is_empty() {
            json!({ "type": "null" })
        } else {
            json!({ "enum": allowed })
        };
        let mut then = json!({ "properties": { "network": network } });
        if Medium::new(channel, None).is_err() {
            then["required"] = json!(["network"]);
        }
        json!({ "if": { "properties": { "channel": { "const": channel.as_str() } } }, "then": then })
    };
    schema["allOf"] = Channel::ALL.iter().map(|c| rule(*c)).collect();
}

/// The `{id}` of each route family and the customer look-up's `identity`, as the
/// parsers read them, so generated requests reach the handlers instead of their 400.
fn parameter_rules(paths: &mut serde_json::Value) {
    let kinds: Vec<&str> = IdentityKind::ALL.iter().map(|k| k.as_str()).collect();
    let identity = format!("^({}):.*\\S", kinds.join("|"));
    let Some(paths) = paths.as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let id = [
            ("/v1/conversations/", ConversationId::PATTERN),
            ("/v1/customers/", CustomerId::PATTERN),
            ("/v1/agents/", AgentId::PATTERN),
        ]
        .into_iter()
        .find_map(|(prefix, pattern)| path.starts_with(prefix).then_some(pattern));
        let ops = item
            .as_object_mut()
            .into_iter()
            .flat_map(|ops| ops.values_mut());
        // (`get_mut`: indexing a missing key would insert a null.)
        let params = ops.filter_map(|op| op.get_mut("parameters")?.as_array_mut());
        for param in params.flatten() {
            let pattern = match (param["in"].as_str(), param["name"].as_str()) {
                (Some("path"), Some("id")) => id.map(str::to_owned),
                (Some("query"), Some("identity")) => Some(identity.clone()),
                _ => None,
            };
            if let Some(pattern) = pattern {
                param["schema"]["pattern"] = pattern.into();
            }
        }
    }
}

/// Languages and skills in requests as the domain reads them (BCP 47 tags; skill names
/// with levels 1-5, at most `MAX_LABELS`); what the server sends back already is.
fn requirement_rules(schemas: &mut serde_json::Value) {
    use serde_json::json;
    let language = json!({ "pattern": Language::PATTERN, "maxLength": 35 });
    let Some(schemas) = schemas.as_object_mut() else {
        return;
    };
    for (name, schema) in schemas.iter_mut() {
        if !name.ends_with("Request") {
            continue;
        }
        let Some(props) = schema.get_mut("properties") else {
            continue;
        };
        if props.get("language").is_some() {
            merge(&mut props["language"], &language);
        }
        if props.get("languages").is_some() {
            merge(&mut props["languages"]["items"], &language);
            props["languages"]["maxItems"] = MAX_LABELS.into();
        }
    }
    let skills = &mut schemas["Skills"];
    skills["propertyNames"] = json!({ "type": "string", "pattern": SKILL_PATTERN });
    skills["additionalProperties"] = json!({ "type": "integer", "minimum": 1, "maximum": 5 });
    skills["maxProperties"] = MAX_LABELS.into();
}

/// A transfer names exactly one target: an agent by id, or one of the queues.
fn transfer_rules(schema: &mut serde_json::Value) {
    use serde_json::json;
    let queues: Vec<&str> = QUEUES.iter().map(|q| q.as_str()).collect();
    let props = &mut schema["properties"];
    // Either may be null on the wire; the document names the one given.
    props["to_agent"]["type"] = "string".into();
    props["to_queue"]["type"] = "string".into();
    props["to_agent"]["pattern"] = AgentId::PATTERN.into();
    props["to_queue"]["enum"] = json!(queues);
    schema["oneOf"] = json!([{ "required": ["to_agent"] }, { "required": ["to_queue"] }]);
}

fn merge(target: &mut serde_json::Value, rules: &serde_json::Value) {
    if let (Some(target), Some(rules)) = (target.as_object_mut(), rules.as_object()) {
        target.extend(rules.clone());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use regex_lite::Regex;

    use super::*;
    use crate::domain::{IdentityNormaliser, Skills, TIER_PATTERN};

    /// The pattern admits every `good` sample and none of the `bad`, as the parser does.
    fn agree(pattern: &str, good: &[&str], bad: &[&str], parses: impl Fn(&str) -> bool) {
        let re = Regex::new(pattern).expect("pattern");
        for s in good {
            assert!(
                re.is_match(s) && parses(s),
                "{pattern} and the parser admit {s:?}"
            );
        }
        for s in bad {
            assert!(
                !re.is_match(s) && !parses(s),
                "{pattern} and the parser refuse {s:?}"
            );
        }
    }

    #[test]
    fn the_documents_patterns_admit_what_the_parsers_accept() {
        let cid = CustomerId::generate();
        let (upper, short) = (cid.as_str().to_uppercase(), &cid.as_str()[1..]);
        agree(
            CustomerId::PATTERN,
            &[cid.as_str()],
            &["ABC", &upper, short],
            |s| s.parse::<CustomerId>().is_ok(),
        );
        let (conv, open, glued) = (format!("{cid}-1"), format!("{cid}-"), format!("{cid}1"));
        agree(
            ConversationId::PATTERN,
            &[&conv],
            &[&open, &glued, "x-1"],
            |s| s.parse::<ConversationId>().is_ok(),
        );
        let long = "a".repeat(65);
        agree(AgentId::PATTERN, &["a.b_c-D"], &["a b", "", &long], |s| {
            s.parse::<AgentId>().is_ok()
        });
        let languages = ["pt-BR", "es", "zh_Hant_TW"];
        agree(
            Language::PATTERN,
            &languages,
            &["e", "español", "en-", "en-toolong123"],
            |s| s.parse::<Language>().is_ok(),
        );
        agree(
            TIER_PATTERN,
            &["Gold", "vip_2"],
            &["", "gold star", &"t".repeat(33)],
            |s| crate::domain::tier(s).is_ok(),
        );
        let schemas = &document()["components"]["schemas"];
        let tier = &schemas["CustomerPatch"]["properties"]["tier"]["pattern"];
        assert_eq!(
            tier, TIER_PATTERN,
            "the tier's schema pattern is the domain's"
        );
        let reply = &schemas["ReplyRequest"]["properties"]["text"]["maxLength"];
        assert_eq!(
            reply,
            crate::app::conversations::MAX_REPLY_CHARS,
            "the reply limit"
        );
        let long = "b".repeat(33);
        agree(
            SKILL_PATTERN,
            &["Billing", "tier-2_x"],
            &["bill ing", "", &long, "caf\u{e9}"],
            |s| Skills::new(BTreeMap::from([(s.to_owned(), 1)])).is_ok(),
        );
        let paths = document()["paths"].as_object().expect("paths");
        for (path, op) in paths
            .iter()
            .flat_map(|(p, ops)| ops.as_object().into_iter().flatten().map(move |o| (p, o.1)))
        {
            assert!(
                !op.get("parameters").is_some_and(|v| v.is_null()),
                "{path}: null parameters"
            );
        }
        let queues = &document()["components"]["schemas"]["TransferRequest"]["properties"]
            ["to_queue"]["enum"];
        let queues = queues.as_array().expect("queues");
        assert_eq!(queues.len(), QUEUES.len());
        for q in queues {
            let q = q.as_str().unwrap_or_default();
            assert!(q.parse::<crate::domain::Queue>().is_ok(), "{q} is a queue");
        }
        let lookup = &document()["paths"]["/v1/customers"]["get"]["parameters"][0];
        assert_eq!(
            lookup["in"], "query",
            "the look-up's identity is a query parameter"
        );
        let identity = lookup["schema"]["pattern"]
            .as_str()
            .expect("identity pattern");
        let normaliser = IdentityNormaliser::new("US").expect("region");
        let good = ["phone:+14155550100", "email:a@b.example", "anonymous:CA1"];
        agree(identity, &good, &["nope:x", "email:", "phone: "], |s| {
            normaliser.parse_key(s).is_ok()
        });
    }
}
