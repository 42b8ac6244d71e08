use phonenumber::{country, Mode};

use super::*;
use crate::domain::phone::parse_phone;
use crate::domain::phone_examples::examples;

/// `prefix` completed with its Luhn check digit, computed here apart from `luhn`.
fn complete(prefix: &str) -> String {
    let weighted: u32 = prefix
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                (d * 2) / 10 + (d * 2) % 10
            } else {
                d
            }
        })
        .sum();
    format!("{prefix}{}", (10 - weighted % 10) % 10)
}

/// What a masked run of plain digits looks like.
fn masked(digits: &str) -> String {
    let n = digits.len();
    format!("{}{}{}", &digits[..6], "*".repeat(n - 10), &digits[n - 4..])
}

#[test]
fn card_numbers_are_masked_and_everything_else_is_left_alone() {
    let maestro_13 = complete("501800000000");
    let maestro_19 = complete("675964982643845300");
    let unionpay_17 = complete("6200000000000000");
    let generated = [
        (maestro_13.clone(), masked(&maestro_13)),
        (maestro_19.clone(), masked(&maestro_19)),
        (unionpay_17.clone(), masked(&unionpay_17)),
    ];
    let table: Vec<(&str, &str)> = vec![
        // Visa, 16, 13 and with separators.
        ("4111111111111111", "411111******1111"),
        ("4111 1111 1111 1111", "4111 11** **** 1111"),
        ("4111-1111-1111-1111", "4111-11**-****-1111"),
        ("4222222222222", "422222***2222"),
        ("4012888888881881", "401288******1881"),
        // Mastercard, 5- and 2-series.
        ("5555555555554444", "555555******4444"),
        ("5105 1051 0510 5100", "5105 10** **** 5100"),
        ("2223003122003222", "222300******3222"),
        // American Express, 15 digits in 4-6-5 groups.
        ("378282246310005", "378282*****0005"),
        ("3714 496353 98431", "3714 49**** *8431"),
        ("3787-344936-71000", "3787-34****-*1000"),
        // Discover, Diners (14), JCB, Maestro, UnionPay (19).
        ("6011111111111117", "601111******1117"),
        ("6011 0009 9013 9424", "6011 00** **** 9424"),
        ("30569309025904", "305693****5904"),
        ("38520000023237", "385200****3237"),
        ("3530111333300000", "353011******0000"),
        ("3566002020360505", "356600******0505"),
        ("6759649826438453", "675964******8453"),
        ("6205500000000000004", "620550*********0004"),
        // Inside text, next to letters and punctuation, twice, in other scripts.
        (
            "my card is 4111 1111 1111 1111, exp 12/27, cvc 123",
            "my card is 4111 11** **** 1111, exp 12/27, cvc 123",
        ),
        (
            "Re: refund to 5555-5555-5555-4444 please",
            "Re: refund to 5555-55**-****-4444 please",
        ),
        ("card:4111111111111111.", "card:411111******1111."),
        (
            "4111111111111111 and then 5555555555554444",
            "411111******1111 and then 555555******4444",
        ),
        (
            "Карта 4111 1111 1111 1111 ✓ 日本",
            "Карта 4111 11** **** 1111 ✓ 日本",
        ),
        // Left alone: a leading `+`, a failed Luhn check, too short or too long, an
        // industry digit no payment card has, dates, phone numbers.
        ("+4111111111111111", "+4111111111111111"),
        ("call +4111 1111 1111 1111", "call +4111 1111 1111 1111"),
        ("order 4111111111111112", "order 4111111111111112"),
        ("order no. 1234567890123", "order no. 1234567890123"),
        ("ref 411111111111", "ref 411111111111"),
        ("41111111111111111111", "41111111111111111111"),
        ("04111111111111111", "04111111111111111"),
        ("79927398713000", "79927398713000"),
        ("2026-12-07 10:09:13", "2026-12-07 10:09:13"),
        (
            "+44 20 7946 0958 or +1 (555) 123-4567",
            "+44 20 7946 0958 or +1 (555) 123-4567",
        ),
        ("", ""),
    ];
    let mut cases: Vec<(String, String)> = table
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    cases.extend(generated);
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (input, expected) in &cases {
        let (got, count) = mask(input);
        let want_count = usize::from(input != expected);
        if got != *expected || (count > 0) != (want_count > 0) {
            failures.push(format!(
                "`{input}`: expected `{expected}`, got `{got}` ({count})"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_regions_example_phone_numbers_are_left_alone_as_customers_write_them() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for meta in phonenumber::metadata::DATABASE.iter() {
        for (kind, example) in examples(meta) {
            let e164 = format!("+{}{}", meta.country_code(), example);
            let Ok(parsed) = parse_phone(country::US, &e164) else {
                continue;
            };
            let forms = [
                e164.clone(),
                parsed.format().mode(Mode::International).to_string(),
                parsed.format().mode(Mode::National).to_string(),
            ];
            for form in forms {
                checked += 1;
                let text = format!("call me on {form} tomorrow");
                if mask(&text).1 != 0 {
                    failures.push(format!("{} {kind}: `{form}`", meta.id()));
                }
            }
        }
    }
    assert!(checked > 2000, "{checked} numbers");
    assert!(
        failures.is_empty(),
        "masked as cards:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_long_run_of_digit_groups_costs_linear_time_and_masks_each_card_once() {
    let text = "0 ".repeat(30_000) + "4111 1111 1111 1111";
    let (got, count) = mask(&text);
    assert_eq!(count, 1);
    assert!(
        got.ends_with("4111 11** **** 1111"),
        "{}",
        &got[got.len() - 30..]
    );
}

#[test]
fn off_keeps_the_text() {
    let (got, count) = CardNumbers::Off.apply("4111111111111111");
    assert_eq!((got.as_ref(), count), ("4111111111111111", 0));
}
