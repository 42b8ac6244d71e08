//! Quoting personal data where it must not appear whole: problem details, log lines.
//! A customer's number, address or text is never echoed; a masked quote keeps enough
//! (its first character, its last two, its length) for whoever sent it to recognise
//! which value was meant, and nothing an onlooker could use.

use std::fmt;

/// A masked quote of a personal value: `+***99 (12 characters)`.
pub struct Masked<'a>(pub &'a str);

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars: Vec<char> = self.0.chars().collect();
        let n = chars.len();
        if n <= 4 {
            return write!(f, "*** ({n} characters)");
        }
        let tail: String = chars[n - 2..].iter().collect();
        write!(f, "{}***{tail} ({n} characters)", chars[0])
    }
}

/// A masked identity: its kind in clear, its value masked (`phone:+***99 (12 characters)`).
pub struct MaskedIdentity<'a>(pub &'a super::Identity);

impl fmt::Display for MaskedIdentity<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0.kind().as_str(), Masked(self.0.value()))
    }
}

/// At most `max` characters of something a request carried (a method, a path), for a
/// log line or a problem detail: whatever a client sends, the line stays short.
pub fn clipped(raw: &str, max: usize) -> String {
    match raw.char_indices().nth(max) {
        None => raw.to_owned(),
        Some((cut, _)) => format!("{}…", &raw[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_quote_keeps_no_more_than_three_characters_of_the_value() {
        assert_eq!(Masked("+14155550999").to_string(), "+***99 (12 characters)");
        assert_eq!(
            Masked("victoria@example.com").to_string(),
            "v***om (20 characters)"
        );
        assert_eq!(Masked("abc").to_string(), "*** (3 characters)");
        assert!(!Masked("+14155550999").to_string().contains("4155"));
    }

    #[test]
    fn clipped_quotes_cut_long_input() {
        assert_eq!(clipped("GET", 16), "GET");
        assert_eq!(clipped(&"P".repeat(60_000), 16).chars().count(), 17);
        assert_eq!(clipped("ääää", 2), "ää…");
    }
}
