//! Phone numbers to E.164 for every country: the one place the `phonenumber` crate is
//! called, with the parts of libphonenumber's parsing that the crate gets wrong.

use phonenumber::country::{self, Source};
use phonenumber::metadata::DATABASE;
use phonenumber::{NationalNumber, ParseError, PhoneNumber};

/// Parses a phone number, applying `region` only to numbers written nationally.
///
/// `phonenumber` 0.3 strips a national prefix from numbers that carry their own
/// `+<country code>`: the default region's (under `US`, `+49 151 23456789` loses the `1`
/// of `151` and becomes another German subscriber) and even the number's own (`+7 800…`
/// loses Russia's trunk `8`). So a number written internationally (`+`, `00`, the
/// region's exit code such as `011`, or its own country code without `+`) is split into
/// country code and national number here, as libphonenumber does, and only validated by
/// the crate; national numbers are left to the crate's parser with the default region.
pub(crate) fn parse_phone(region: country::Id, raw: &str) -> Result<PhoneNumber, ParseError> {
    let compact: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}'))
        .collect();
    let compact = compact.strip_prefix("tel:").unwrap_or(&compact);
    let digits = |s: &str| -> String { s.chars().take_while(char::is_ascii_digit).collect() };
    if let Some(rest) = compact.strip_prefix('+') {
        return international(&digits(rest)).ok_or(ParseError::NoNumber);
    }
    // `00` is the exit code of most of the world; no national number starts with it.
    if let Some(number) = compact
        .strip_prefix("00")
        .and_then(|r| international(&digits(r)))
    {
        return Ok(number);
    }
    let number = phonenumber::parse(Some(region), raw)?;
    let all = digits(compact);
    let code = number.code().value();
    match number.code().source() {
        // Dialled with the region's exit code (`011 49 …` from the US): whatever follows
        // the exit code is an international number.
        Source::Idd => Ok((1..=5)
            .filter_map(|skip| all.get(skip..))
            .filter(|rest| rest.starts_with(&code.to_string()))
            .find_map(international)
            .unwrap_or(number)),
        // The crate read a leading country code without `+`; as libphonenumber does, keep
        // the number as written when that is a valid national number of the region.
        Source::Number => Ok(national(code, &all, Trunk::Literal)
            .or_else(|| international(&all))
            .unwrap_or(number)),
        // Written nationally. The crate may strip the trunk prefix twice (Russia's
        // `8 800 …`), so the region's own reading comes first: without the trunk prefix,
        // as dialled at home, then as written.
        _ => Ok(national(code, &all, Trunk::Stripped).unwrap_or(number)),
    }
}

/// `digits` (country code first) as a valid international number, if it is one.
fn international(digits: &str) -> Option<PhoneNumber> {
    // Country codes are prefix-free: at most one length names a known one.
    let (code, rest) = (1..=3).find_map(|len| {
        let code: u16 = digits.get(..len)?.parse().ok()?;
        DATABASE.by_code(&code).map(|_| (code, &digits[len..]))
    })?;
    national(code, rest, Trunk::Literal)
}

/// Which reading of a leading trunk prefix (`0`, `1`, `8`, ...) is tried first.
#[derive(Clone, Copy, PartialEq)]
enum Trunk {
    Literal,
    Stripped,
}

/// The valid number `+<code><rest>`, read with or without a leading trunk prefix in the
/// order `first` says: a trunk prefix written inside an international number
/// (`+44 (0)20 …`) is dropped only when the number is invalid with it.
fn national(code: u16, rest: &str, first: Trunk) -> Option<PhoneNumber> {
    let stripped = without_trunk(code, rest);
    let literal = std::iter::once(rest);
    let readings: Vec<&str> = match first {
        Trunk::Literal => literal.chain(stripped).collect(),
        Trunk::Stripped => stripped.into_iter().chain(literal).collect(),
    };
    readings
        .into_iter()
        .filter_map(|n| assemble(code, n))
        .find(phonenumber::is_valid)
}

/// `rest` without the trunk prefix of any region of `code`, read as libphonenumber reads
/// it (`national_prefix_for_parsing`, e.g. Belarus's `0|80?`, else `national_prefix`).
/// Regions whose prefix rewrites the number (a transform rule) are left to the crate.
fn without_trunk(code: u16, rest: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for meta in DATABASE.by_code(&code).unwrap_or_default() {
        if meta.national_prefix_transform_rule().is_some() {
            continue;
        }
        let by_pattern = meta
            .national_prefix_for_parsing()
            .and_then(|re| re.find(rest))
            .filter(|m| m.start() == 0 && m.end() > 0)
            .map(|m| &rest[m.end()..]);
        let by_prefix = meta.national_prefix().and_then(|p| rest.strip_prefix(p));
        out.extend(by_pattern.into_iter().chain(by_prefix));
    }
    out
}

/// Builds the crate's `PhoneNumber` from its parts. Its fields are private, but the type
/// is `Deserialize`, which is its one public constructor.
fn assemble(code: u16, national: &str) -> Option<PhoneNumber> {
    let zeros = national.chars().take_while(|&c| c == '0').count();
    let value: u64 = national.get(zeros..)?.parse().ok()?;
    let national = NationalNumber::new(value, u8::try_from(zeros).ok()?).ok()?;
    serde_json::from_value(serde_json::json!({
        "code": { "value": code, "source": "plus" },
        "national": national,
        "extension": null,
        "carrier": null,
    }))
    .ok()
}
