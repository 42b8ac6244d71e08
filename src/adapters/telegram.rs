//! Telegram Bot API webhook: `X-Telegram-Bot-Api-Secret-Token` compared in constant time
//! with `SWITCHBOARD_TELEGRAM_SECRET_TOKEN`; `update_id` and `message_id` make the
//! idempotency key. Edits and button presses are entries of their own; updates that
//! carry nothing from a customer are accepted and ignored.

use chrono::{TimeZone, Utc};
use serde_json::Value;

use crate::domain::{Channel, Network, RawInbound};

/// The secret token given to `setWebhook` (`SWITCHBOARD_TELEGRAM_SECRET_TOKEN`).
#[derive(Debug, Clone)]
pub struct TelegramConfig {
    pub secret_token: String,
}

/// The customer message in an update, if it carries one: a message, an edit of one (a
/// new timeline entry that says which message it edits), or a button press.
pub fn message(update: &Value) -> Option<RawInbound> {
    let update_id = update["update_id"].as_i64()?;
    if let Some(press) = update.get("callback_query") {
        return button_press(update_id, press);
    }
    let (m, edited) = match update.get("edited_message") {
        Some(m) => (m, true),
        None => (&update["message"], false),
    };
    let message_id = m["message_id"].as_i64()?;
    let mut text = content(m);
    if edited {
        text = format!("[edited message {message_id}] {text}");
    }
    let at = if edited { &m["edit_date"] } else { &m["date"] };
    Some(inbound(
        format!("{update_id}:{message_id}"),
        &m["from"],
        text,
        at.as_i64(),
    ))
}

/// A tap on an inline keyboard button: its data, and the text of the message it was on.
fn button_press(update_id: i64, press: &Value) -> Option<RawInbound> {
    let id = press["id"].as_str()?;
    let data = press["data"].as_str().unwrap_or("");
    let mut text = format!("[button] {data}");
    if let Some(on) = press["message"]["text"].as_str() {
        text.push_str(&format!(" (on: {on})"));
    }
    Some(inbound(
        format!("{update_id}:callback:{id}"),
        &press["from"],
        text,
        None,
    ))
}

/// Text or caption, plus a line naming each thing sent (photo, file, voice, place, ...).
fn content(m: &Value) -> String {
    let mut lines: Vec<String> = m["text"]
        .as_str()
        .or(m["caption"].as_str())
        .map(str::to_owned)
        .into_iter()
        .collect();
    // `photo` is the sizes of one picture, largest last.
    if let Some(largest) = m["photo"].as_array().and_then(|sizes| sizes.last()) {
        lines.push(format!(
            "[photo file_id={}]",
            largest["file_id"].as_str().unwrap_or("?")
        ));
    }
    for kind in [
        "document",
        "video",
        "voice",
        "audio",
        "sticker",
        "animation",
        "video_note",
    ] {
        let part = &m[kind];
        if part.is_null() {
            continue;
        }
        let mut tag = format!("[{kind}");
        for field in ["file_name", "mime_type", "emoji", "file_id"] {
            if let Some(v) = part[field].as_str() {
                tag.push_str(&format!(" {field}={v}"));
            }
        }
        lines.push(tag + "]");
    }
    if !m["location"].is_null() {
        let l = &m["location"];
        lines.push(format!("[location {}, {}]", l["latitude"], l["longitude"]));
    }
    if let Some(number) = m["contact"]["phone_number"].as_str() {
        let name = m["contact"]["first_name"].as_str().unwrap_or("");
        lines.push(format!("[contact] {name} {number}"));
    }
    if lines.is_empty() {
        lines.push("[attachment]".to_owned());
    }
    lines.join("\n")
}

fn inbound(external_id: String, from: &Value, text: String, at: Option<i64>) -> RawInbound {
    let name = [from["first_name"].as_str(), from["last_name"].as_str()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    RawInbound {
        inboxes: Vec::new(),
        group: None,
        // The sender's Telegram client language: the customer's language.
        language: from
            .get("language_code")
            .and_then(Value::as_str)
            .filter(|l| l.parse::<crate::domain::Language>().is_ok())
            .map(str::to_owned),
        skills: None,
        channel: Channel::Social,
        network: Some(Network::Telegram),
        external_id,
        // A missing sender leaves `from` empty, which ingest refuses with 400.
        from: from["id"]
            .as_i64()
            .map(|id| id.to_string())
            .unwrap_or_default(),
        identities: vec![],
        display_name: Some(name).filter(|n| !n.is_empty()),
        subject: None,
        text: Some(text),
        sent_at: at.and_then(|s| Utc.timestamp_opt(s, 0).single()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_update_maps_to_an_inbound_message_and_others_do_not() {
        let update: Value = serde_json::from_str(r#"{"update_id":10000,"message":{"message_id":1365,"from":{"id":1111111,"is_bot":false,"first_name":"Test","last_name":"Lastname","username":"Test"},"chat":{"id":1111111,"type":"private"},"date":1441645532,"text":"/start"}}"#).expect("json");
        let raw = message(&update).expect("a message");
        assert_eq!(
            (raw.external_id.as_str(), raw.from.as_str()),
            ("10000:1365", "1111111")
        );
        assert_eq!(
            (raw.display_name.as_deref(), raw.text.as_deref()),
            (Some("Test Lastname"), Some("/start"))
        );
        let poll: Value =
            serde_json::from_str(r#"{"update_id":10001,"poll":{"id":"1"}}"#).expect("json");
        assert!(message(&poll).is_none());
    }

    fn update(json: &str) -> RawInbound {
        message(&serde_json::from_str(json).expect("json")).expect("a customer message")
    }

    #[test]
    fn edits_button_presses_and_photos_are_kept() {
        let edit = update(
            r#"{"update_id":20,"edited_message":{"message_id":7,"from":{"id":42,"is_bot":false,"first_name":"Ann"},"chat":{"id":42,"type":"private"},"date":1700000000,"edit_date":1700000100,"text":"order 1235, not 1234"}}"#,
        );
        assert_eq!(edit.external_id, "20:7");
        assert_eq!(
            edit.text.as_deref(),
            Some("[edited message 7] order 1235, not 1234")
        );
        assert_eq!(edit.sent_at.map(|t| t.timestamp()), Some(1700000100));
        let press = update(
            r#"{"update_id":21,"callback_query":{"id":"cb9","from":{"id":42,"is_bot":false,"first_name":"Ann"},"message":{"message_id":8,"chat":{"id":42,"type":"private"},"date":1,"text":"Rate us"},"chat_instance":"1","data":"rate:5"}}"#,
        );
        assert_eq!(
            (press.external_id.as_str(), press.from.as_str()),
            ("21:callback:cb9", "42")
        );
        assert_eq!(press.text.as_deref(), Some("[button] rate:5 (on: Rate us)"));
        let photo = update(
            r#"{"update_id":22,"message":{"message_id":9,"from":{"id":42,"is_bot":false,"first_name":"Ann"},"chat":{"id":42,"type":"private"},"date":1,"photo":[{"file_id":"small","width":90,"height":90},{"file_id":"large","width":800,"height":800}],"caption":"the dent"}}"#,
        );
        assert_eq!(
            photo.text.as_deref(),
            Some("the dent\n[photo file_id=large]")
        );
    }
}
