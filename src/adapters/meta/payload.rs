//! Meta's webhook payloads (WhatsApp Cloud API, Messenger, Instagram) to inbound
//! messages. Whatever the customer sent or tapped is kept as text the agent can read:
//! captions, button and list replies with their ids, postbacks, media ids and URLs,
//! locations; a part we do not know yet is kept as its JSON rather than dropped.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use crate::domain::{Channel, Network, RawInbound};

/// Longest JSON of an unknown part kept in the text.
const MAX_UNKNOWN_JSON: usize = 2000;

/// One customer event of a batch: a message to ingest, or why it cannot be one.
pub type Item = Result<RawInbound, String>;

/// Every customer message in a payload (also when Meta wraps the envelope in an array).
pub fn messages(payload: &Value) -> Vec<Item> {
    let mut out = Vec::new();
    for (object, entry) in entries(payload) {
        match object {
            "whatsapp_business_account" => out.extend(whatsapp(entry)),
            "page" => out.extend(messaging(entry, Network::Messenger)),
            "instagram" => out.extend(messaging(entry, Network::Instagram)),
            _ => {}
        }
    }
    out
}

/// Each entry of a payload (one envelope, or a batch of them) with its envelope's
/// `object` (`whatsapp_business_account`, `page`, `instagram`).
pub(super) fn entries(payload: &Value) -> Vec<(&str, &Value)> {
    let envelopes: Vec<&Value> = match payload {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    envelopes
        .into_iter()
        .flat_map(|envelope| {
            let object = envelope["object"].as_str().unwrap_or("");
            let entries = envelope["entry"].as_array().into_iter().flatten();
            entries.map(move |entry| (object, entry))
        })
        .collect()
}

fn whatsapp(entry: &Value) -> Vec<Item> {
    let mut out = Vec::new();
    for change in entry["changes"].as_array().into_iter().flatten() {
        let value = &change["value"];
        let name_of = |wa_id: &str| {
            value["contacts"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["wa_id"] == wa_id)
                .and_then(|c| c["profile"]["name"].as_str())
                .map(str::to_owned)
        };
        for m in value["messages"].as_array().into_iter().flatten() {
            let (Some(from), Some(id)) = (m["from"].as_str(), m["id"].as_str()) else {
                out.push(Err("a WhatsApp message without `from` or `id`".into()));
                continue;
            };
            let sent_at = m["timestamp"]
                .as_str()
                .and_then(|t| t.parse::<i64>().ok())
                .and_then(|s| Utc.timestamp_opt(s, 0).single());
            let text = whatsapp_text(m);
            let mut message = raw(Network::Whatsapp, id, from, name_of(from), text, sent_at);
            // The business number it was sent to (`domain::inbox`).
            message.inboxes = inbox(&value["metadata"]["phone_number_id"]);
            out.push(Ok(message));
        }
    }
    out
}

/// What a WhatsApp message says, whatever its type.
pub fn whatsapp_text(m: &Value) -> String {
    let kind = m["type"].as_str().unwrap_or("unknown");
    let part = &m[kind];
    let mut text = match kind {
        "text" => part["body"].as_str().unwrap_or("").to_owned(),
        "image" | "video" | "document" | "audio" | "sticker" => media(kind, part),
        "interactive" => interactive(part),
        "button" => labelled("button", part["text"].as_str(), "payload", &part["payload"]),
        "location" => location(part),
        "reaction" => format!(
            "[reaction {} to {}]",
            part["emoji"].as_str().unwrap_or(""),
            part["message_id"].as_str().unwrap_or("?")
        ),
        "contacts" => contacts(part),
        _ => unknown(kind, part),
    };
    if let Some(replied) = m["context"]["id"].as_str() {
        text.push_str(&format!("\n[in reply to {replied}]"));
    }
    text
}

/// `caption` then `[image id=… type=image/jpeg file=…]`.
fn media(kind: &str, part: &Value) -> String {
    let mut tag = format!("[{kind}");
    for (name, field) in [("id", "id"), ("type", "mime_type"), ("file", "filename")] {
        if let Some(v) = part[field].as_str() {
            tag.push_str(&format!(" {name}={v}"));
        }
    }
    tag.push(']');
    match part["caption"].as_str() {
        Some(caption) if !caption.is_empty() => format!("{caption}\n{tag}"),
        _ => tag,
    }
}

fn interactive(part: &Value) -> String {
    match part["type"].as_str() {
        Some("button_reply") => {
            let b = &part["button_reply"];
            labelled("button", b["title"].as_str(), "id", &b["id"])
        }
        Some("list_reply") => {
            let l = &part["list_reply"];
            let title = match (l["title"].as_str(), l["description"].as_str()) {
                (Some(t), Some(d)) => Some(format!("{t} ({d})")),
                (t, _) => t.map(str::to_owned),
            };
            labelled("list", title.as_deref(), "id", &l["id"])
        }
        Some("nfm_reply") => unknown("form", &part["nfm_reply"]),
        _ => unknown("interactive", part),
    }
}

/// `[button] Yes, please (id: confirm-1)`.
fn labelled(kind: &str, title: Option<&str>, key: &str, id: &Value) -> String {
    let title = title.unwrap_or("");
    match id.as_str() {
        Some(id) => format!("[{kind}] {title} ({key}: {id})"),
        None => format!("[{kind}] {title}"),
    }
}

fn location(part: &Value) -> String {
    let place: Vec<&str> = [part["name"].as_str(), part["address"].as_str()]
        .into_iter()
        .flatten()
        .collect();
    format!(
        "[location {}, {}] {}",
        part["latitude"],
        part["longitude"],
        place.join(", ")
    )
    .trim_end()
    .to_owned()
}

fn contacts(part: &Value) -> String {
    let names: Vec<String> = part
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let name = c["name"]["formatted_name"].as_str().unwrap_or("?");
            let phones: Vec<&str> = c["phones"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p["phone"].as_str())
                .collect();
            format!("{name} {}", phones.join(" ")).trim_end().to_owned()
        })
        .collect();
    format!("[contacts] {}", names.join("; "))
}

/// A part this adapter does not read yet, kept as (bounded) JSON.
fn unknown(kind: &str, part: &Value) -> String {
    let mut json = part.to_string();
    if json.len() > MAX_UNKNOWN_JSON {
        let cut = (0..=MAX_UNKNOWN_JSON)
            .rev()
            .find(|i| json.is_char_boundary(*i))
            .unwrap_or(0);
        json.truncate(cut);
        json.push('…');
    }
    if part.is_null() {
        format!("[{kind}]")
    } else {
        format!("[{kind}] {json}")
    }
}

fn messaging(entry: &Value, network: Network) -> Vec<Item> {
    let mut out = Vec::new();
    for event in entry["messaging"].as_array().into_iter().flatten() {
        let message = &event["message"];
        let postback = &event["postback"];
        if message["is_echo"].as_bool() == Some(true) || (message.is_null() && postback.is_null()) {
            continue; // our own echoes, deliveries, reads
        }
        let Some(from) = event["sender"]["id"].as_str() else {
            out.push(Err("a Messenger event without `sender.id`".into()));
            continue;
        };
        let timestamp = event["timestamp"].as_i64();
        let sent_at = timestamp.and_then(|ms| Utc.timestamp_millis_opt(ms).single());
        let item = if message.is_null() {
            // A postback (the "Get Started" button, a persistent menu item) may have no
            // mid; the sender and the time of the tap name it.
            let id = postback["mid"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| timestamp.map(|t| format!("postback:{from}:{t}")));
            let text = labelled(
                "postback",
                postback["title"].as_str(),
                "payload",
                &postback["payload"],
            );
            id.map(|id| raw(network, &id, from, None, text, sent_at))
                .ok_or_else(|| "a postback without `mid` or `timestamp`".to_owned())
        } else {
            message["mid"]
                .as_str()
                .map(|id| raw(network, id, from, None, messenger_text(message), sent_at))
                .ok_or_else(|| "a Messenger message without `mid`".to_owned())
        };
        // The page (or Instagram account) it was sent to (`domain::inbox`).
        let page = inbox(&event["recipient"]["id"]);
        out.push(item.map(|mut m| {
            m.inboxes.clone_from(&page);
            m
        }));
    }
    out
}

/// The inbox a Meta id names: `meta:<id>`.
fn inbox(id: &Value) -> Vec<String> {
    id.as_str()
        .map(|id| format!("meta:{id}"))
        .into_iter()
        .collect()
}

/// Text, quick-reply payload and every attachment of a Messenger/Instagram message.
pub fn messenger_text(message: &Value) -> String {
    let mut lines: Vec<String> = message["text"]
        .as_str()
        .map(str::to_owned)
        .into_iter()
        .collect();
    if let Some(payload) = message["quick_reply"]["payload"].as_str() {
        lines.push(format!("[quick reply: {payload}]"));
    }
    for a in message["attachments"].as_array().into_iter().flatten() {
        let kind = a["type"].as_str().unwrap_or("attachment");
        let p = &a["payload"];
        lines.push(match p["url"].as_str() {
            Some(url) => format!("[{kind}: {url}]"),
            None if !p["coordinates"].is_null() => format!(
                "[location {}, {}]",
                p["coordinates"]["lat"], p["coordinates"]["long"]
            ),
            None => unknown(kind, p),
        });
    }
    if let Some(replied) = message["reply_to"]["mid"].as_str() {
        lines.push(format!("[in reply to {replied}]"));
    }
    lines.join("\n")
}

fn raw(
    network: Network,
    id: &str,
    from: &str,
    name: Option<String>,
    text: String,
    sent_at: Option<DateTime<Utc>>,
) -> RawInbound {
    RawInbound {
        inboxes: Vec::new(),
        group: None,
        language: None,
        skills: None,
        channel: Channel::Social,
        network: Some(network),
        external_id: id.to_owned(),
        from: from.to_owned(),
        identities: vec![],
        display_name: name,
        subject: None,
        text: Some(text),
        sent_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wa(message: &str) -> String {
        let m: Value = serde_json::from_str(message).expect("json");
        whatsapp_text(&m)
    }

    #[test]
    fn whatsapp_keeps_what_the_customer_sent_or_tapped() {
        let cases = [
            (
                r#"{"type":"image","image":{"id":"1479537139650973","mime_type":"image/jpeg","sha256":"x","caption":"the broken part"}}"#,
                "the broken part\n[image id=1479537139650973 type=image/jpeg]",
            ),
            (
                r#"{"type":"document","document":{"id":"9","mime_type":"application/pdf","filename":"invoice.pdf"}}"#,
                "[document id=9 type=application/pdf file=invoice.pdf]",
            ),
            (
                r#"{"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"confirm-1","title":"Yes, please"}}}"#,
                "[button] Yes, please (id: confirm-1)",
            ),
            (
                r#"{"type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"slot-9","title":"9:00","description":"Tomorrow"}}}"#,
                "[list] 9:00 (Tomorrow) (id: slot-9)",
            ),
            (
                r#"{"type":"button","button":{"payload":"STOP_PROMOS","text":"Stop promotions"}}"#,
                "[button] Stop promotions (payload: STOP_PROMOS)",
            ),
            (
                r#"{"type":"location","location":{"latitude":52.52,"longitude":13.4,"name":"Shop","address":"Main St 1"}}"#,
                "[location 52.52, 13.4] Shop, Main St 1",
            ),
            (
                r#"{"type":"text","text":{"body":"this one"},"context":{"from":"1","id":"wamid.PREV"}}"#,
                "this one\n[in reply to wamid.PREV]",
            ),
            (
                r#"{"type":"order","order":{"catalog_id":"7"}}"#,
                r#"[order] {"catalog_id":"7"}"#,
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(wa(message), expected, "{message}");
        }
    }

    #[test]
    fn messenger_postbacks_quick_replies_and_attachment_urls_reach_the_agent() {
        let page: Value = serde_json::from_str(r#"{"object":"page","entry":[{"id":"P","time":1,"messaging":[
            {"sender":{"id":"U"},"recipient":{"id":"P"},"timestamp":1700000000000,"postback":{"title":"Get Started","payload":"GET_STARTED"}},
            {"sender":{"id":"U"},"recipient":{"id":"P"},"timestamp":1700000000001,"message":{"mid":"m.2","text":"Red","quick_reply":{"payload":"COLOR_RED"}}},
            {"sender":{"id":"U"},"recipient":{"id":"P"},"timestamp":1700000000002,"message":{"mid":"m.3","attachments":[{"type":"image","payload":{"url":"https://cdn.example/p.jpg"}}]}},
            {"recipient":{"id":"P"},"timestamp":1700000000003,"message":{"mid":"m.4","text":"no sender"}}]}]}"#).expect("json");
        let got = messages(&page);
        assert_eq!(got.len(), 4);
        let ok: Vec<&RawInbound> = got.iter().flatten().collect();
        assert_eq!(ok[0].external_id, "postback:U:1700000000000");
        assert_eq!(
            ok[0].text.as_deref(),
            Some("[postback] Get Started (payload: GET_STARTED)")
        );
        assert_eq!(ok[1].text.as_deref(), Some("Red\n[quick reply: COLOR_RED]"));
        assert_eq!(
            ok[2].text.as_deref(),
            Some("[image: https://cdn.example/p.jpg]")
        );
        assert!(got[3].is_err(), "no sender: reported, not dropped silently");
    }
}
