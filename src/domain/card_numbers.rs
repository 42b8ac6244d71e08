//! Payment card numbers masked before anything keeps them (PCI DSS forbids storing a
//! full card number): every digit but the first 6 and the last 4 becomes `*`, as
//! Zendesk's redaction does, so an agent can still tell which card a customer means.
//!
//! A card number here is 13–19 digits, single spaces or dashes allowed between groups,
//! passing the Luhn check, starting with a payment card's industry digit (1–6: airlines,
//! travel, banking; national phone numbers start with a trunk 0 and are left alone),
//! and not written with a leading `+` (a phone number in international form).

use std::borrow::Cow;

use serde::Deserialize;

/// `SWITCHBOARD_REDACTION__CARD_NUMBERS`: whether texts lose their card numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CardNumbers {
    #[default]
    Mask,
    Off,
}

impl CardNumbers {
    /// `text` with its card numbers masked (under `Mask`), and how many there were.
    pub fn apply(self, text: &str) -> (Cow<'_, str>, usize) {
        match self {
            CardNumbers::Mask => mask(text),
            CardNumbers::Off => (Cow::Borrowed(text), 0),
        }
    }
}

const MIN_DIGITS: usize = 13;
const MAX_DIGITS: usize = 19;
const KEEP_FIRST: usize = 6;
const KEEP_LAST: usize = 4;

/// `text` with every card number masked, and how many were. Text without 13 digits
/// is returned as it is, without copying.
pub fn mask(text: &str) -> (Cow<'_, str>, usize) {
    if text.bytes().filter(u8::is_ascii_digit).count() < MIN_DIGITS {
        return (Cow::Borrowed(text), 0);
    }
    let mut out = text.as_bytes().to_vec();
    let mut masked = 0;
    for run in runs(text.as_bytes()) {
        for span in card_spans(text.as_bytes(), &run) {
            mask_span(&mut out, span);
            masked += 1;
        }
    }
    if masked == 0 {
        return (Cow::Borrowed(text), 0);
    }
    // Only ASCII digits were replaced by ASCII `*`: the bytes are still UTF-8.
    let out = String::from_utf8(out).unwrap_or_else(|_| text.to_owned());
    (Cow::Owned(out), masked)
}

/// A group of digits: its byte range in the text.
type Group = std::ops::Range<usize>;

/// Runs of digit groups joined by one space or dash each, not led by `+`.
fn runs(text: &[u8]) -> Vec<Vec<Group>> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if !text[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let international = i > 0 && text[i - 1] == b'+';
        let mut run = vec![digits_from(text, i)];
        loop {
            let end = run[run.len() - 1].end;
            let joined = matches!(text.get(end), Some(b' ' | b'-'))
                && text.get(end + 1).is_some_and(u8::is_ascii_digit);
            if !joined {
                break;
            }
            run.push(digits_from(text, end + 1));
        }
        i = run[run.len() - 1].end;
        if !international {
            runs.push(run);
        }
    }
    runs
}

fn digits_from(text: &[u8], start: usize) -> Group {
    let len = text[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    start..start + len
}

/// The card numbers in one run, leftmost first, each the longest that starts there: a
/// card number is whole groups of the run (a number never starts or ends mid-group).
/// At most 19 digits are looked at from each group, so a long run costs linear time.
fn card_spans(text: &[u8], run: &[Group]) -> Vec<Group> {
    let mut spans = Vec::new();
    let mut first = 0;
    while first < run.len() {
        let mut digits = Vec::with_capacity(MAX_DIGITS);
        let mut found = None;
        for (last, group) in run.iter().enumerate().skip(first) {
            digits.extend(text[group.clone()].iter().map(|b| b - b'0'));
            if digits.len() > MAX_DIGITS {
                break;
            }
            if is_card_number(&digits) {
                found = Some(last);
            }
        }
        match found {
            Some(last) => {
                spans.push(run[first].start..run[last].end);
                first = last + 1;
            }
            None => first += 1,
        }
    }
    spans
}

fn is_card_number(digits: &[u8]) -> bool {
    (MIN_DIGITS..=MAX_DIGITS).contains(&digits.len())
        && (1..=6).contains(&digits[0])
        && luhn(digits)
}

/// The Luhn check (ISO/IEC 7812-1): doubling every second digit from the right, the
/// sum is a multiple of 10.
fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            match (i % 2 == 1, d * 2) {
                (false, _) => d,
                (true, twice) if twice > 9 => twice - 9,
                (true, twice) => twice,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Replaces the span's digits but the first 6 and the last 4 with `*`; separators stay.
fn mask_span(out: &mut [u8], span: Group) {
    let positions: Vec<usize> = span.filter(|&i| out[i].is_ascii_digit()).collect();
    let hidden = positions.len() - KEEP_LAST;
    for &i in &positions[KEEP_FIRST..hidden] {
        out[i] = b'*';
    }
}

#[cfg(test)]
mod tests;
