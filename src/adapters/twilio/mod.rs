//! Twilio: request signatures, Programmable Voice and Messaging webhooks. Every request
//! must carry a valid `X-Twilio-Signature` over `SWITCHBOARD_PUBLIC_URL` + path + query
//! and every posted parameter; a forged or missing one is refused with 403 before
//! anything is read or changed.

pub mod messaging;
pub mod signature;
pub mod voice;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};

use crate::api::{AppState, TwilioConfig};
use crate::error::ApiError;

/// A verified Twilio request's form parameters.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::BadRequest(format!("missing `{name}`")))
    }
}

/// Checks the signature; only then parses the body.
pub(crate) fn verified(
    state: &AppState,
    req: &HttpRequest,
    body: &Bytes,
) -> Result<(Params, TwilioConfig), ApiError> {
    let config = state
        .twilio
        .clone()
        .ok_or_else(|| ApiError::NotFound("the Twilio webhooks are not configured (SWITCHBOARD_TWILIO_AUTH_TOKEN, SWITCHBOARD_PUBLIC_URL)".into()))?;
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let query = req.query_string();
    let url = if query.is_empty() {
        format!("{}{}", config.public_url, req.path())
    } else {
        format!("{}{}?{query}", config.public_url, req.path())
    };
    let presented = req
        .headers()
        .get("X-Twilio-Signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !signature::is_valid(&config.auth_token, &url, &params, presented) {
        tracing::warn!(
            path = req.path(),
            "refused a request without a valid X-Twilio-Signature"
        );
        return Err(ApiError::Forbidden);
    }
    Ok((Params(params), config))
}

pub(crate) fn twiml(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/xml; charset=utf-8")
        .body(format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>"#
        ))
}

/// Escapes text and attribute values for XML.
pub(crate) fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn xml_is_escaped() {
        assert_eq!(xml(r#"a&b<c>"d'"#), "a&amp;b&lt;c&gt;&quot;d&apos;");
    }
}
