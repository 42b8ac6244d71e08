//! What a redacted entry becomes (CONTRACT "Redact one entry"), shared by both stores
//! and the archive: its text, and its subject when it has one, read `[redacted]`.

use crate::domain::Message;

/// What a redacted text or subject reads.
pub const REDACTED: &str = "[redacted]";

/// `m` with its text and subject redacted.
pub fn redacted(mut m: Message) -> Message {
    m.text = REDACTED.to_owned();
    if m.subject.is_some() {
        m.subject = Some(REDACTED.to_owned());
    }
    m
}

/// A delivery's JSON body with its `text` redacted; `None` when it has none to redact.
pub fn redacted_body(body: &str) -> Option<String> {
    let mut value: serde_json::Value = serde_json::from_str(body).ok()?;
    let text = value.get_mut("text")?;
    *text = serde_json::Value::from(REDACTED);
    if let Some(subject) = value.get_mut("subject").filter(|s| !s.is_null()) {
        *subject = serde_json::Value::from(REDACTED);
    }
    Some(value.to_string())
}
