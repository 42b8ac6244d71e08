//! Twilio's webhooks: every request must carry a valid `X-Twilio-Signature` over
//! `SWITCHBOARD_PUBLIC_URL` + path + query and every posted parameter; a forged or
//! missing one is refused with 403 before anything is read or changed. Answers are TwiML.

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use crate::adapters::twilio::{signature, Params, TwilioConfig};
use crate::http::error::ApiError;

/// Checks the signature; only then parses the body.
pub(crate) fn verified(
    config: Option<&web::Data<TwilioConfig>>,
    req: &HttpRequest,
    body: &Bytes,
) -> Result<(Params, TwilioConfig), ApiError> {
    let config = config
        .map(|c| c.get_ref().clone())
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
    Ok((Params::new(params), config))
}

/// A TwiML document answering Twilio.
pub(crate) fn twiml(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/xml; charset=utf-8")
        .body(format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>"#
        ))
}
