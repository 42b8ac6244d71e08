//! Twilio Messaging: inbound SMS, and WhatsApp through Twilio (`whatsapp:+1…` senders),
//! ingested like `POST /v1/messages` and answered with an empty `<Response/>`.

use super::Params;
use crate::app::delivery_status::ProviderReport;
use crate::app::AppError;
use crate::domain::{Channel, Network, RawInbound, ReplyDelivery, ReplyStatus};

/// The inbound message in Twilio's parameters.
pub fn inbound(params: &Params) -> Result<RawInbound, AppError> {
    let sid = params
        .get("MessageSid")
        .or_else(|| params.get("SmsMessageSid"))
        .ok_or_else(|| AppError::Invalid("missing `MessageSid`".into()))?;
    let from = params.require("From")?;
    let (channel, network, from) = match from.strip_prefix("whatsapp:") {
        Some(number) => (
            Channel::Social,
            Network::Whatsapp,
            number.trim_start_matches('+'),
        ),
        None => (Channel::Phone, Network::Sms, from),
    };
    let media = params
        .get("NumMedia")
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    let mut text = params.get("Body").unwrap_or("").to_owned();
    for i in 0..media.min(10) {
        if let Some(url) = params.get(&format!("MediaUrl{i}")) {
            let kind = params
                .get(&format!("MediaContentType{i}"))
                .unwrap_or("media");
            text.push_str(&format!("\n[{kind}: {url}]"));
        }
    }
    // WhatsApp through Twilio: a tapped template button, a shared location.
    if let Some(button) = params.get("ButtonText") {
        let payload = params.get("ButtonPayload").unwrap_or("");
        text.push_str(&format!("\n[button] {button} (payload: {payload})"));
    }
    if let (Some(lat), Some(lon)) = (params.get("Latitude"), params.get("Longitude")) {
        let place = [params.get("Label"), params.get("Address")];
        let place: Vec<&str> = place.into_iter().flatten().collect();
        text.push_str(&format!("\n[location {lat}, {lon}] {}", place.join(", ")));
    }
    // The number it was sent to (`domain::inbox`), without WhatsApp's `whatsapp:` prefix.
    let to = params
        .get("To")
        .map(|to| to.trim_start_matches("whatsapp:").trim());
    Ok(RawInbound {
        inboxes: to.map(|to| format!("twilio:{to}")).into_iter().collect(),
        group: None,
        language: None,
        skills: None,
        channel,
        network: Some(network),
        external_id: sid.to_owned(),
        from: from.to_owned(),
        identities: vec![],
        display_name: params.get("ProfileName").map(str::to_owned),
        subject: None,
        text: Some(text.trim().to_owned()),
        sent_at: None,
    })
}

/// A status callback's report on a message sent (Twilio's `MessageStatus`: `sent`,
/// `delivered`, `read`, `undelivered` and `failed` with `ErrorCode`); `None` for the
/// statuses before `sent`.
pub fn status(params: &Params) -> Option<ProviderReport> {
    let status = match params.get("MessageStatus")? {
        "sent" => ReplyStatus::Sent,
        "delivered" => ReplyStatus::Delivered,
        "read" => ReplyStatus::Read,
        "undelivered" | "failed" => ReplyStatus::Failed,
        _ => return None,
    };
    let code = params
        .get("ErrorCode")
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let reason = params
        .get("ErrorMessage")
        .map(str::to_owned)
        .or_else(|| code.as_ref().map(|c| format!("Twilio error {c}")));
    let reason = reason.filter(|_| status == ReplyStatus::Failed);
    Some(ProviderReport {
        provider_id: params.get("MessageSid")?.to_owned(),
        delivery: ReplyDelivery::new(status, chrono::Utc::now(), code, reason),
    })
}
