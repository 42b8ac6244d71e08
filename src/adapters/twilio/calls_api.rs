//! Twilio's REST API for a live call: a caller waiting in `<Enqueue>` is connected to the
//! agent routing chose by redirecting the call to TwiML that dials them
//! (`POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`, `Twiml=<Response>…`,
//! HTTP Basic `AccountSid:AuthToken`). Chosen over the agent's leg dialing
//! `<Dial><Queue>`: routing has already picked this caller for this agent by priority,
//! and a Twilio queue hands out its longest waiter, which may be someone else.

use std::time::Duration;

use async_trait::async_trait;

use super::voice;
use crate::app::bridge::{CallBridge, SendError};
use crate::domain::AgentId;
use crate::store::Delivery;

/// The Twilio account whose calls are redirected.
#[derive(Clone)]
pub struct TwilioCalls {
    pub account_sid: String,
    pub auth_token: String,
    /// `https://api.twilio.com` (a local stand-in in tests), no trailing slash.
    pub api_url: String,
    /// Switchboard's external base URL, for the `<Dial action>` callback.
    pub public_url: String,
    pub client: reqwest::Client,
}

/// Twilio's call ids: `CA` and 32 hex digits (anything else is not Twilio's to redirect).
fn is_call_sid(sid: &str) -> bool {
    sid.len() == 34 && sid.starts_with("CA") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[async_trait]
impl CallBridge for TwilioCalls {
    fn connect_request(
        &self,
        call: &str,
        agent: &AgentId,
        dial: Option<&str>,
    ) -> Option<(String, String)> {
        if !is_call_sid(call) {
            return None;
        }
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Calls/{call}.json",
            self.api_url, self.account_sid
        );
        let base = format!("{}/v1/adapters/twilio/voice", self.public_url);
        let twiml = format!(
            "<Response>{}</Response>",
            voice::dial(&base, agent.as_str(), dial)
        );
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("Twiml", &twiml)
            .finish();
        Some((url, body))
    }

    async fn send(&self, d: &Delivery) -> Result<(), SendError> {
        let response = self
            .client
            .post(&d.url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(d.body.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| SendError::Retry(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let why = format!(
            "Twilio answered {status}: {}",
            response.text().await.unwrap_or_default()
        );
        // A call that ended answers 400/404: no retry will connect it.
        if status.is_client_error() && status.as_u16() != 429 {
            Err(SendError::Permanent(why))
        } else {
            Err(SendError::Retry(why))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls() -> TwilioCalls {
        TwilioCalls {
            account_sid: "AC0123456789abcdef0123456789abcdef".into(),
            auth_token: "token".into(),
            api_url: "https://api.twilio.com".into(),
            public_url: "https://sb.example.com".into(),
            client: reqwest::Client::new(),
        }
    }

    #[test]
    fn a_waiting_call_is_redirected_to_twiml_that_dials_the_agent() {
        let agent: AgentId = "a-7".parse().expect("id");
        let sid = "CA5e1f0b0a6f2d4e8c9b7a1d3c5e7f9a1b";
        let (url, body) = calls()
            .connect_request(sid, &agent, None)
            .expect("twilio call");
        assert_eq!(
            url,
            format!("https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Calls/{sid}.json")
        );
        let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(form.len(), 1);
        assert_eq!(form[0].0, "Twiml");
        assert!(
            form[0].1.starts_with(
                "<Response><Dial action=\"https://sb.example.com/v1/adapters/twilio/voice/dial?agent=a-7\""
            ),
            "{}",
            form[0].1
        );
        assert!(form[0].1.contains("<Client>a-7</Client>"));
        assert!(calls()
            .connect_request("not-a-sid/..", &agent, None)
            .is_none());
    }
}
