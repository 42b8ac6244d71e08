//! An inbound customer message, parsed once from what an adapter sent.

use chrono::{DateTime, Utc};

use super::{
    CardNumbers, Channel, DomainError, Identity, IdentityKind, IdentityNormaliser, Medium, Network,
    Requirements, RoutingGroup, Skills,
};

/// Field limits for inbound messages (characters, not bytes).
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_text_chars: usize,
    pub max_subject_chars: usize,
    pub max_display_name_chars: usize,
    pub max_external_id_chars: usize,
    pub max_identities: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_text_chars: 64 * 1024,
            max_subject_chars: 1000,
            max_display_name_chars: 256,
            max_external_id_chars: 512,
            max_identities: 16,
        }
    }
}

impl Limits {
    /// Brings a provider's message within the field limits by cutting, never refusing:
    /// a provider answered 4xx drops the message (a mail relay bounces it), so a long
    /// e-mail is better stored cut, with a marker saying how much is missing.
    pub fn fit(&self, mut raw: RawInbound) -> RawInbound {
        raw.text = raw.text.map(|t| cut(t, self.max_text_chars));
        raw.subject = raw.subject.map(|t| cut(t, self.max_subject_chars));
        raw.display_name = raw
            .display_name
            .map(|t| cut(t, self.max_display_name_chars));
        raw
    }
}

/// `text` within `max` characters, the marker included.
fn cut(text: String, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text;
    }
    let marker = |missing: usize| format!("\n[truncated: {missing} more characters]");
    let keep = max.saturating_sub(marker(total).chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(&marker(total - keep));
    out
}

/// One extra identity as the adapter sent it.
#[derive(Debug, Clone)]
pub struct RawIdentity {
    pub kind: IdentityKind,
    pub value: String,
}

/// An inbound message as the adapter sent it, before any check.
#[derive(Debug, Clone)]
pub struct RawInbound {
    pub channel: Channel,
    pub network: Option<Network>,
    pub external_id: String,
    pub from: String,
    pub identities: Vec<RawIdentity>,
    pub display_name: Option<String>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// The routing group the adapter names (the inbox or line used), if any.
    pub group: Option<String>,
    /// The customer's language (BCP 47) and the skills the conversation needs, if the
    /// adapter knows them.
    pub language: Option<String>,
    pub skills: Option<Skills>,
    /// Where it arrived (`domain::inbox`): what the settings' inboxes are matched on.
    pub inboxes: Vec<String>,
}

/// A checked inbound message: normalised identities, bounded fields.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    medium: Medium,
    external_id: String,
    from: Identity,
    identities: Vec<Identity>,
    display_name: Option<String>,
    subject: Option<String>,
    text: String,
    sent_at: Option<DateTime<Utc>>,
    /// The routing group the adapter names (the inbox or line used); it decides where a
    /// customer without a personal agent is routed.
    group: Option<RoutingGroup>,
    /// The language and skills a new conversation needs.
    requirements: Requirements,
}

impl InboundMessage {
    pub fn parse(
        raw: RawInbound,
        normaliser: &IdentityNormaliser,
        limits: &Limits,
    ) -> Result<Self, DomainError> {
        let medium = Medium::new(raw.channel, raw.network)?;
        let external_id = raw.external_id.trim().to_owned();
        bounded("external_id", &external_id, limits.max_external_id_chars)?;
        if external_id.is_empty() {
            return Err(DomainError::invalid("external_id", "must not be empty"));
        }
        if raw.identities.len() > limits.max_identities {
            return Err(DomainError::invalid(
                "identities",
                format!("more than {} identities", limits.max_identities),
            ));
        }
        let sender = match medium.channel() {
            Channel::Phone => normaliser.phone_sender(&raw.from, &external_id),
            _ => normaliser.normalise(IdentityKind::of_sender(&medium), &raw.from),
        };
        let mut identities = sender.map_err(|e| rename_field(e, "from"))?;
        let from = identities[0].clone();
        for extra in &raw.identities {
            identities.extend(normaliser.normalise(extra.kind, &extra.value)?);
        }
        identities.sort();
        identities.dedup();
        let text = raw.text.unwrap_or_default();
        bounded("text", &text, limits.max_text_chars)?;
        let display_name = one_line(raw.display_name);
        let subject = one_line(raw.subject);
        if let Some(name) = &display_name {
            bounded("display_name", name, limits.max_display_name_chars)?;
        }
        if let Some(subject) = &subject {
            bounded("subject", subject, limits.max_subject_chars)?;
        }
        Ok(Self {
            medium,
            external_id,
            from,
            identities,
            display_name,
            subject,
            text,
            sent_at: raw.sent_at,
            group: raw.group.as_deref().map(str::parse).transpose()?,
            requirements: Requirements {
                language: raw.language.as_deref().map(str::parse).transpose()?,
                skills: raw.skills.unwrap_or_default(),
            },
        })
    }

    /// Masks the card numbers in the text and the subject under `policy`; answers how
    /// many there were. Runs before the message is stored, streamed or logged.
    pub fn mask_card_numbers(&mut self, policy: CardNumbers) -> usize {
        let (text, in_text) = policy.apply(&self.text);
        if in_text > 0 {
            self.text = text.into_owned();
        }
        let Some(subject) = &self.subject else {
            return in_text;
        };
        let (masked, in_subject) = policy.apply(subject);
        if in_subject > 0 {
            self.subject = Some(masked.into_owned());
        }
        in_text + in_subject
    }

    pub fn requirements(&self) -> &Requirements {
        &self.requirements
    }

    pub fn group(&self) -> Option<&RoutingGroup> {
        self.group.as_ref()
    }

    pub fn medium(&self) -> &Medium {
        &self.medium
    }

    pub fn external_id(&self) -> &str {
        &self.external_id
    }

    /// The sender's own identity.
    pub fn from(&self) -> &Identity {
        &self.from
    }

    /// Every identity the message proves, sender included, sorted and without repeats.
    pub fn identities(&self) -> &[Identity] {
        &self.identities
    }

    pub fn display_name(&self) -> Option<&str> {
        self.display_name.as_deref()
    }

    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// When it happened: the provider's time, but never later than when we received it.
    pub fn at(&self, received_at: DateTime<Utc>) -> DateTime<Utc> {
        self.sent_at.map_or(received_at, |s| s.min(received_at))
    }

    /// `(channel, network, external_id)`: a provider's retry of this message has the same key.
    pub fn idempotency_key(&self) -> String {
        format!("{}:{}", self.medium.key(), self.external_id)
    }
}

fn bounded(field: &str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.chars().count() > max {
        Err(DomainError::invalid(
            field,
            format!("longer than {max} characters"),
        ))
    } else {
        Ok(())
    }
}

/// A header-like field (subject, display name) on one line: CR, LF and other control
/// characters become spaces, so an encoded header (`=?UTF-8?B?…?=` decodes to anything)
/// cannot forge lines in a desk, a log or an outbound mail's headers.
fn one_line(s: Option<String>) -> Option<String> {
    s.map(|s| {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .trim()
            .to_owned()
    })
    .filter(|s| !s.is_empty())
}

fn rename_field(e: DomainError, field: &str) -> DomainError {
    match e {
        DomainError::Invalid { reason, .. } => DomainError::invalid(field, reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(channel: Channel, network: Option<Network>, from: &str) -> RawInbound {
        RawInbound {
            group: None,
            language: None,
            skills: None,
            channel,
            network,
            external_id: "ext-1".into(),
            from: from.into(),
            identities: vec![],
            display_name: None,
            subject: None,
            text: Some("hi".into()),
            sent_at: None,
            inboxes: Vec::new(),
        }
    }

    fn parse(raw: RawInbound) -> Result<InboundMessage, DomainError> {
        let n = IdentityNormaliser::new("US").expect("region");
        InboundMessage::parse(raw, &n, &Limits::default())
    }

    #[test]
    fn sender_identity_follows_the_medium() {
        let m = parse(raw(Channel::Social, Some(Network::Whatsapp), "14155550100")).expect("ok");
        assert_eq!(m.from().key(), "whatsapp:+14155550100");
        let keys: Vec<_> = m.identities().iter().map(Identity::key).collect();
        assert_eq!(keys, ["phone:+14155550100", "whatsapp:+14155550100"]);
        let m = parse(raw(Channel::Email, None, "Jane@Example.com")).expect("ok");
        assert_eq!(m.from().key(), "email:jane@example.com");
    }

    #[test]
    fn vouched_identities_are_normalised_and_deduplicated() {
        let mut r = raw(Channel::Phone, Some(Network::Sms), "4155550100");
        r.identities = vec![
            RawIdentity {
                kind: IdentityKind::Phone,
                value: "+1 415 555 0100".into(),
            },
            RawIdentity {
                kind: IdentityKind::Email,
                value: "A@B.C".into(),
            },
        ];
        let m = parse(r).expect("ok");
        let keys: Vec<_> = m.identities().iter().map(Identity::key).collect();
        // Sorted by kind (phone before email), then value.
        assert_eq!(keys, ["phone:+14155550100", "email:a@b.c"]);
    }

    #[test]
    fn subjects_and_display_names_lose_their_line_breaks() {
        let mut r = raw(Channel::Email, None, "a@b.c");
        r.subject = Some("Order 1\r\nBcc: victim@example.com".into());
        r.display_name = Some("Eve\n\tAdmin\u{0}".into());
        let m = parse(r).expect("ok");
        assert_eq!(m.subject(), Some("Order 1  Bcc: victim@example.com"));
        assert_eq!(m.display_name(), Some("Eve  Admin"));
    }

    #[test]
    fn limits_and_blank_fields_are_enforced() {
        let mut r = raw(Channel::Chat, None, "visitor-1");
        r.text = Some("x".repeat(Limits::default().max_text_chars + 1));
        assert!(parse(r).is_err(), "text too long");
        let mut r = raw(Channel::Chat, None, "visitor-1");
        r.external_id = "  ".into();
        assert!(parse(r).is_err(), "blank external id");
        let mut r = raw(Channel::Chat, None, "visitor-1");
        r.identities = (0..17)
            .map(|i| RawIdentity {
                kind: IdentityKind::Chat,
                value: format!("v{i}"),
            })
            .collect();
        assert!(parse(r).is_err(), "too many identities");
        let err = parse(raw(Channel::Email, None, "not-an-email")).expect_err("bad from");
        assert!(matches!(err, DomainError::Invalid { ref field, .. } if field == "from"));
    }

    #[test]
    fn a_providers_overlong_fields_are_cut_with_a_marker_not_refused() {
        let limits = Limits::default();
        let mut r = raw(Channel::Email, None, "a@b.c");
        r.text = Some("é".repeat(limits.max_text_chars * 2));
        r.subject = Some("s".repeat(limits.max_subject_chars + 1));
        let fitted = limits.fit(r);
        let text = fitted.text.clone().unwrap_or_default();
        let kept = text.chars().count();
        assert!(
            (limits.max_text_chars - 10..=limits.max_text_chars).contains(&kept),
            "{kept}"
        );
        assert!(
            text.ends_with(" more characters]"),
            "{}",
            &text[text.len() - 60..]
        );
        assert!(text.starts_with("éé"));
        assert!(parse(fitted).is_ok(), "within every limit now");
        let mut short = raw(Channel::Chat, None, "v");
        short.text = Some("fine".into());
        assert_eq!(limits.fit(short).text.as_deref(), Some("fine"));
    }

    #[test]
    fn sent_at_never_lies_in_the_future() {
        let received: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().expect("time");
        let mut r = raw(Channel::Chat, None, "v");
        r.sent_at = Some("2030-01-01T00:00:00Z".parse().expect("time"));
        assert_eq!(parse(r).expect("ok").at(received), received);
        let mut r = raw(Channel::Chat, None, "v");
        let earlier: DateTime<Utc> = "2026-11-22T09:00:00Z".parse().expect("time");
        r.sent_at = Some(earlier);
        assert_eq!(parse(r).expect("ok").at(received), earlier);
    }

    #[test]
    fn idempotency_key_names_channel_network_and_external_id() {
        let m = parse(raw(Channel::Phone, Some(Network::Sms), "4155550100")).expect("ok");
        assert_eq!(m.idempotency_key(), "phone:sms:ext-1");
    }
}
