//! Senders that are not phone numbers: withheld callers, SIP and softphone clients, SMS
//! short codes and alphanumeric sender ids. Identities of their own kinds, so nobody is
//! refused for not having a number and no two strangers share one.

use super::{DomainError, Masked};

/// What carriers and Twilio send for a withheld caller id, including Twilio's keypad
/// spellings (`+266696687` is ANONYMOUS, `+7378742833` RESTRICTED, ...).
pub(super) fn is_withheld(raw: &str) -> bool {
    const WORDS: [&str; 9] = [
        "anonymous",
        "restricted",
        "private",
        "unknown",
        "unavailable",
        "blocked",
        "withheld",
        "unknown caller",
        "no caller id",
    ];
    const KEYPAD: [&str; 5] = [
        "+266696687",
        "+7378742833",
        "+2562533",
        "+8656696",
        "+86282452253",
    ];
    let lower = raw.to_ascii_lowercase();
    WORDS.contains(&lower.as_str()) || KEYPAD.contains(&raw)
}

/// A short code (3-8 digits) or an alphanumeric sender id (up to 11 letters, digits and
/// spaces, with at least one letter), as SMS carriers deliver them.
pub(super) fn is_sender_id(raw: &str) -> bool {
    let short_code = (3..=8).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit());
    let alphanumeric = (1..=11).contains(&raw.len())
        && raw.bytes().any(|b| b.is_ascii_alphabetic())
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ');
    short_code || alphanumeric
}

pub(super) fn normalise_sender(raw: &str) -> Result<String, DomainError> {
    if is_sender_id(raw) {
        Ok(raw.to_ascii_uppercase())
    } else {
        Err(DomainError::invalid(
            "sender",
            format!(
                "`{}` is neither a short code nor an alphanumeric sender id",
                Masked(raw)
            ),
        ))
    }
}

/// `sip:Alice@Example.com;transport=tls` → `alice@example.com`.
pub(super) fn normalise_sip(raw: &str) -> Result<String, DomainError> {
    let rest = strip_scheme(strip_scheme(raw, "sips:"), "sip:");
    let address = rest.split([';', '?']).next().unwrap_or("").to_lowercase();
    match address.split_once('@') {
        Some((user, host)) if !user.is_empty() && !host.is_empty() => Ok(address),
        None if !address.is_empty() => Ok(address),
        _ => Err(DomainError::invalid(
            "sip",
            format!("`{}` is not a SIP address", Masked(raw)),
        )),
    }
}

/// `raw` without a leading `scheme` in any case.
pub(super) fn strip_scheme<'a>(raw: &'a str, scheme: &str) -> &'a str {
    match raw.get(..scheme.len()) {
        Some(head) if head.eq_ignore_ascii_case(scheme) => &raw[scheme.len()..],
        _ => raw,
    }
}
