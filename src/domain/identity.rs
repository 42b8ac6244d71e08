//! Customer identities and their normalisation: the one place raw addresses become keys.

use std::fmt;
use std::str::FromStr;

use phonenumber::{country, Mode};

use super::phone::parse_phone;
use super::sender::{is_sender_id, is_withheld, normalise_sender, normalise_sip, strip_scheme};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Channel, DomainError, Masked, Medium, Network};

/// Longest identity value accepted, after trimming.
pub const MAX_IDENTITY_LEN: usize = 256;

/// What an identity value names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum IdentityKind {
    Phone,
    Email,
    Chat,
    Whatsapp,
    Telegram,
    Messenger,
    Instagram,
    X,
    /// A SIP caller (`sip:alice@example.com`), kept as `user@host`.
    Sip,
    /// A Twilio Voice SDK (or similar softphone) client identity (`client:alice`).
    Client,
    /// An SMS short code (`72345`) or alphanumeric sender id (`ACME`): not dialable.
    Sender,
    /// A caller who withheld their number: one per call (its provider id), so two
    /// strangers never share a customer.
    Anonymous,
}

impl IdentityKind {
    pub const ALL: [IdentityKind; 12] = [
        IdentityKind::Phone,
        IdentityKind::Email,
        IdentityKind::Chat,
        IdentityKind::Whatsapp,
        IdentityKind::Telegram,
        IdentityKind::Messenger,
        IdentityKind::Instagram,
        IdentityKind::X,
        IdentityKind::Sip,
        IdentityKind::Client,
        IdentityKind::Sender,
        IdentityKind::Anonymous,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::Phone => "phone",
            IdentityKind::Email => "email",
            IdentityKind::Chat => "chat",
            IdentityKind::Whatsapp => "whatsapp",
            IdentityKind::Telegram => "telegram",
            IdentityKind::Messenger => "messenger",
            IdentityKind::Instagram => "instagram",
            IdentityKind::X => "x",
            IdentityKind::Sip => "sip",
            IdentityKind::Client => "client",
            IdentityKind::Sender => "sender",
            IdentityKind::Anonymous => "anonymous",
        }
    }

    /// The kind of the sender's address on a medium (`from` of an inbound message).
    pub fn of_sender(medium: &Medium) -> IdentityKind {
        match (medium.channel(), medium.network()) {
            (Channel::Phone, _) => IdentityKind::Phone,
            (Channel::Email, _) => IdentityKind::Email,
            (Channel::Chat, _) => IdentityKind::Chat,
            (Channel::Social, Some(Network::Whatsapp)) => IdentityKind::Whatsapp,
            (Channel::Social, Some(Network::Telegram)) => IdentityKind::Telegram,
            (Channel::Social, Some(Network::Messenger)) => IdentityKind::Messenger,
            (Channel::Social, Some(Network::Instagram)) => IdentityKind::Instagram,
            // `Medium` guarantees social has a social network; X is the remaining one.
            (Channel::Social, _) => IdentityKind::X,
        }
    }
}

impl IdentityKind {
    /// The channel (and network) a customer is reached on from an identity of this kind,
    /// the inverse of `of_sender`; `None` for kinds nobody writes from (SIP, softphone
    /// clients, short codes, withheld callers).
    pub fn reachable_on(self) -> Option<(Channel, Option<Network>)> {
        Some(match self {
            IdentityKind::Chat => (Channel::Chat, None),
            IdentityKind::Email => (Channel::Email, None),
            IdentityKind::Phone => (Channel::Phone, Some(Network::Sms)),
            IdentityKind::Whatsapp => (Channel::Social, Some(Network::Whatsapp)),
            IdentityKind::Telegram => (Channel::Social, Some(Network::Telegram)),
            IdentityKind::Messenger => (Channel::Social, Some(Network::Messenger)),
            IdentityKind::Instagram => (Channel::Social, Some(Network::Instagram)),
            IdentityKind::X => (Channel::Social, Some(Network::X)),
            _ => return None,
        })
    }
}

impl FromStr for IdentityKind {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "phone" => IdentityKind::Phone,
            "email" => IdentityKind::Email,
            "chat" => IdentityKind::Chat,
            "whatsapp" => IdentityKind::Whatsapp,
            "telegram" => IdentityKind::Telegram,
            "messenger" => IdentityKind::Messenger,
            "instagram" => IdentityKind::Instagram,
            "x" => IdentityKind::X,
            "sip" => IdentityKind::Sip,
            "client" => IdentityKind::Client,
            "sender" => IdentityKind::Sender,
            "anonymous" => IdentityKind::Anonymous,
            other => {
                return Err(DomainError::invalid(
                    "kind",
                    format!("unknown identity kind `{other}`"),
                ))
            }
        })
    }
}

/// A normalised identity. Only [`IdentityNormaliser`] builds one, so holding an
/// `Identity` proves its value is canonical (E.164 phone, lower-case e-mail, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
pub struct Identity {
    kind: IdentityKind,
    value: String,
}

impl Identity {
    pub fn kind(&self) -> IdentityKind {
        self.kind
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// `kind:value`, the form used in store keys and in `?identity=` queries.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.value)
    }

    /// Rebuilds an identity from a key this crate wrote itself (store contents).
    pub fn from_stored_key(key: &str) -> Option<Identity> {
        let (kind, value) = key.split_once(':')?;
        Some(Identity {
            kind: kind.parse().ok()?,
            value: value.to_owned(),
        })
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.value)
    }
}

/// Turns raw addresses into canonical identities, with a default region for national numbers.
#[derive(Debug, Clone)]
pub struct IdentityNormaliser {
    region: country::Id,
}

impl IdentityNormaliser {
    /// `region` is an ISO 3166 alpha-2 code such as `US` or `GB`.
    pub fn new(region: &str) -> Result<Self, DomainError> {
        let region = region.trim().to_ascii_uppercase().parse().map_err(|_| {
            DomainError::invalid("default_region", format!("unknown region `{region}`"))
        })?;
        Ok(Self { region })
    }

    /// Normalises one raw identity. A WhatsApp id is a phone number, so it yields the
    /// `whatsapp` identity and the `phone` identity of the same number.
    pub fn normalise(&self, kind: IdentityKind, raw: &str) -> Result<Vec<Identity>, DomainError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(DomainError::invalid(kind.as_str(), "must not be empty"));
        }
        if raw.chars().count() > MAX_IDENTITY_LEN {
            return Err(DomainError::invalid(
                kind.as_str(),
                format!("longer than {MAX_IDENTITY_LEN} characters"),
            ));
        }
        let one = |value: String| Ok(vec![Identity { kind, value }]);
        match kind {
            IdentityKind::Phone => one(self.e164(raw)?),
            IdentityKind::Email => one(normalise_email(raw)?),
            IdentityKind::Whatsapp => {
                let number = self.e164(&whatsapp_as_international(raw))?;
                Ok(vec![
                    Identity {
                        kind,
                        value: number.clone(),
                    },
                    Identity {
                        kind: IdentityKind::Phone,
                        value: number,
                    },
                ])
            }
            IdentityKind::X => one(raw.trim_start_matches('@').to_lowercase()),
            IdentityKind::Sip => one(normalise_sip(raw)?),
            IdentityKind::Client => one(strip_scheme(raw, "client:").to_owned()),
            IdentityKind::Sender => one(normalise_sender(raw)?),
            IdentityKind::Chat
            | IdentityKind::Anonymous
            | IdentityKind::Telegram
            | IdentityKind::Messenger
            | IdentityKind::Instagram => one(raw.to_owned()),
        }
    }

    /// The identity of whoever is on the other end of a call or an SMS: a phone number
    /// when there is one; otherwise a SIP or client address, a short code or sender id,
    /// or, for a withheld number, an identity of this call alone (`call_id`).
    pub fn phone_sender(&self, raw: &str, call_id: &str) -> Result<Vec<Identity>, DomainError> {
        let raw = raw.trim();
        if is_withheld(raw) {
            return self.normalise(IdentityKind::Anonymous, call_id);
        }
        let lower = raw.to_ascii_lowercase();
        if lower.starts_with("client:") {
            return self.normalise(IdentityKind::Client, raw);
        }
        if lower.starts_with("sip:") || lower.starts_with("sips:") {
            return self.normalise(IdentityKind::Sip, raw);
        }
        match self.normalise(IdentityKind::Phone, raw) {
            Ok(ids) => Ok(ids),
            Err(e) if is_sender_id(raw) => self.normalise(IdentityKind::Sender, raw).map_err(|_| e),
            Err(e) => Err(e),
        }
    }

    /// Parses `kind:value`, as in `GET /v1/customers?identity=phone:+14155550100`.
    pub fn parse_key(&self, key: &str) -> Result<Identity, DomainError> {
        let (kind, value) = key.split_once(':').ok_or_else(|| {
            DomainError::invalid(
                "identity",
                "expected `kind:value`, e.g. `phone:+14155550100`",
            )
        })?;
        let mut ids = self.normalise(kind.trim().parse()?, value)?;
        // The first identity is always the one of the requested kind.
        Ok(ids.swap_remove(0))
    }

    fn e164(&self, raw: &str) -> Result<String, DomainError> {
        let number = parse_phone(self.region, raw).map_err(|e| {
            DomainError::invalid(
                "phone",
                format!("`{}` is not a phone number: {e}", Masked(raw)),
            )
        })?;
        if !phonenumber::is_valid(&number) {
            return Err(DomainError::invalid(
                "phone",
                format!("`{}` is not a valid phone number", Masked(raw)),
            ));
        }
        Ok(number.format().mode(Mode::E164).to_string())
    }
}

/// WhatsApp ids are international numbers written without `+` (`14155550100`).
fn whatsapp_as_international(raw: &str) -> String {
    let raw = raw.strip_prefix("whatsapp:").unwrap_or(raw).trim();
    if raw.starts_with('+') {
        raw.to_owned()
    } else {
        format!("+{raw}")
    }
}

fn normalise_email(raw: &str) -> Result<String, DomainError> {
    let email = raw.to_lowercase();
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid {
        Ok(email)
    } else {
        Err(DomainError::invalid(
            "email",
            format!("`{}` is not an e-mail address", Masked(raw)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us() -> IdentityNormaliser {
        IdentityNormaliser::new("US").expect("US is a region")
    }

    fn phone(raw: &str) -> String {
        us().normalise(IdentityKind::Phone, raw)
            .expect("valid phone")[0]
            .value()
            .to_owned()
    }

    #[test]
    fn usual_written_forms_of_one_number_are_one_identity() {
        for raw in [
            "+1 (415) 555-0100",
            "4155550100",
            "+14155550100",
            "(415) 555-0100",
            "415-555-0100",
            " +1 415 555 0100 ",
            "1-415-555-0100",
        ] {
            assert_eq!(phone(raw), "+14155550100", "{raw}");
        }
    }

    #[test]
    fn international_numbers_keep_their_country() {
        assert_eq!(phone("+44 20 7946 0958"), "+442079460958");
    }

    #[test]
    fn a_foreign_number_is_never_read_with_the_default_regions_trunk_prefix() {
        // Under US (trunk `1`) a German mobile used to lose the `1` of `151` and become
        // an unrelated landline: two strangers, one customer.
        let cases = [
            ("+4915123456789", "+4915123456789", "German mobile"),
            (
                "+49 5123 456789",
                "+495123456789",
                "a different German landline",
            ),
            ("0049 151 23456789", "+4915123456789", "00 exit code"),
            ("011 49 151 23456789", "+4915123456789", "the US exit code"),
            ("+86 131 2345 6789", "+8613123456789", "Chinese mobile"),
            (
                "+44 (0)20 7946 0958",
                "+442079460958",
                "UK trunk written in brackets",
            ),
            (
                "+7 800 123-45-67",
                "+78001234567",
                "Russian toll free (own trunk 8)",
            ),
        ];
        for (raw, e164, why) in cases {
            assert_eq!(phone(raw), e164, "{why}: {raw}");
        }
        assert_ne!(phone("+4915123456789"), phone("+495123456789"));
    }

    #[test]
    fn default_region_applies_to_national_numbers() {
        let gb = IdentityNormaliser::new("gb").expect("GB is a region");
        let ids = gb
            .normalise(IdentityKind::Phone, "020 7946 0958")
            .expect("valid");
        assert_eq!(ids[0].value(), "+442079460958");
    }

    #[test]
    fn whatsapp_id_is_also_the_phone_identity() {
        let ids = us()
            .normalise(IdentityKind::Whatsapp, "14155550100")
            .expect("valid");
        assert_eq!(ids.len(), 2);
        assert_eq!(ids[0].key(), "whatsapp:+14155550100");
        assert_eq!(ids[1].key(), "phone:+14155550100");
    }

    #[test]
    fn email_is_trimmed_and_lower_cased() {
        let ids = us()
            .normalise(IdentityKind::Email, "  Jane.Doe@Example.COM ")
            .expect("valid");
        assert_eq!(ids[0].value(), "jane.doe@example.com");
    }

    #[test]
    fn bad_identities_are_rejected_with_a_reason() {
        let cases = [
            (IdentityKind::Phone, "hello", "not digits"),
            (IdentityKind::Phone, "12", "too short to be a number"),
            (IdentityKind::Email, "no-at-sign", "no @"),
            (IdentityKind::Email, "a@b@c", "two @"),
            (IdentityKind::Email, "@example.com", "empty local part"),
            (IdentityKind::Chat, "   ", "blank"),
        ];
        for (kind, raw, why) in cases {
            assert!(us().normalise(kind, raw).is_err(), "{why}: {raw}");
        }
        let long = "x".repeat(MAX_IDENTITY_LEN + 1);
        assert!(us().normalise(IdentityKind::Chat, &long).is_err());
    }

    #[test]
    fn identity_keys_parse_with_normalisation() {
        let id = us().parse_key("phone:+1 415 555 0100").expect("valid");
        assert_eq!(id.key(), "phone:+14155550100");
        assert!(us().parse_key("fax:123").is_err());
        assert!(us().parse_key("no-colon").is_err());
    }

    #[test]
    fn callers_and_senders_without_a_number_get_an_identity_that_fits() {
        let cases = [
            ("anonymous", "CA1", "anonymous:CA1"),
            ("Restricted", "CA2", "anonymous:CA2"),
            ("+266696687", "CA3", "anonymous:CA3"),
            ("Unavailable", "CA4", "anonymous:CA4"),
            ("client:alice", "CA5", "client:alice"),
            (
                "sip:Bob@PBX.example.com;transport=tls",
                "CA6",
                "sip:bob@pbx.example.com",
            ),
            ("72345", "SM1", "sender:72345"),
            ("Acme Bank", "SM2", "sender:ACME BANK"),
            ("+1 415 555 0100", "CA7", "phone:+14155550100"),
        ];
        for (raw, call, key) in cases {
            let ids = us().phone_sender(raw, call).expect(raw);
            assert_eq!(ids[0].key(), key, "{raw}");
        }
        assert!(
            us().phone_sender("hello world!", "x").is_err(),
            "punctuation"
        );
        assert!(us().phone_sender("sip:", "x").is_err(), "empty SIP address");
        assert!(
            us().phone_sender("  ", "x").is_err(),
            "blank is not withheld"
        );
    }

    #[test]
    fn unknown_region_is_refused() {
        assert!(IdentityNormaliser::new("ZZZ").is_err());
    }
}
