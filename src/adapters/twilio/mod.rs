//! Twilio: request signatures, the form parameters of Programmable Voice and Messaging
//! webhooks, and the TwiML answers (the HTTP side lives in `http::webhooks`).

pub mod calls_api;
pub mod messaging;
pub mod signature;
pub mod voice;

use crate::app::AppError;

/// What checking Twilio's signatures takes.
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    pub auth_token: String,
    /// The external base URL Twilio calls (`SWITCHBOARD_PUBLIC_URL`), no trailing slash.
    pub public_url: String,
}

/// A verified Twilio request's form parameters.
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn new(params: Vec<(String, String)>) -> Self {
        Self(params)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn require(&self, name: &str) -> Result<&str, AppError> {
        self.get(name)
            .ok_or_else(|| AppError::Invalid(format!("missing `{name}`")))
    }
}

/// Escapes text and attribute values for XML.
pub fn xml(s: &str) -> String {
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
