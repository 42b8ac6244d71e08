//! Inboxes (CONTRACT "Inboxes"): where a message arrived (a Twilio number, a Meta
//! WhatsApp number or page, a Telegram bot, an e-mail address, or the adapter's own
//! `inbox`) decides the routing group, language and skills of a conversation whose
//! adapter named none. A deployment with a sales line and a support line, a Spanish
//! WhatsApp number or a billing inbox routes them apart.
//!
//! An inbox is named by a string each door derives from the message: `twilio:<To>`,
//! `meta:<phone_number_id or page id>`, `telegram:<bot>`, `email:<recipient>`, or what
//! the adapter sent as `inbox` on `POST /v1/messages` (any of these forms, or its own).

use std::collections::HashMap;

use serde::Deserialize;

use super::{DomainError, Language, RawInbound, RoutingGroup, Skills};

/// One `[[inboxes]]` entry of the settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxSettings {
    /// `twilio:+18005550100`, `meta:106540352242922`, `telegram:acme_es_bot`,
    /// `email:billing@example.com`, or an adapter's own name.
    pub inbox: String,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub skills: Option<Skills>,
}

/// The settings' inboxes, by name (names compared case-insensitively).
#[derive(Debug, Clone, Default)]
pub struct Inboxes {
    by_name: HashMap<String, InboxSettings>,
}

impl Inboxes {
    /// Checks every entry: groups and languages must parse, names must be unique.
    pub fn new(entries: &[InboxSettings]) -> Result<Self, DomainError> {
        let mut by_name = HashMap::new();
        for entry in entries {
            let bad =
                |why: String| DomainError::invalid("inboxes", format!("`{}`: {why}", entry.inbox));
            if let Some(group) = &entry.group {
                group
                    .parse::<RoutingGroup>()
                    .map_err(|e| bad(e.to_string()))?;
            }
            if let Some(language) = &entry.language {
                language
                    .parse::<Language>()
                    .map_err(|e| bad(e.to_string()))?;
            }
            let name = entry.inbox.trim().to_lowercase();
            if name.is_empty() || by_name.insert(name, entry.clone()).is_some() {
                return Err(bad("empty, or named twice".into()));
            }
        }
        Ok(Self { by_name })
    }

    /// Fills what the adapter left open (group, language, skills) from the first inbox the
    /// message arrived at that the settings know.
    pub fn apply(&self, raw: &mut RawInbound) {
        if self.by_name.is_empty() {
            return;
        }
        let Some(inbox) = raw
            .inboxes
            .iter()
            .find_map(|name| self.by_name.get(&name.trim().to_lowercase()))
        else {
            return;
        };
        if raw.group.is_none() {
            raw.group.clone_from(&inbox.group);
        }
        if raw.language.is_none() {
            raw.language.clone_from(&inbox.language);
        }
        if raw.skills.is_none() {
            raw.skills.clone_from(&inbox.skills);
        }
    }
}
