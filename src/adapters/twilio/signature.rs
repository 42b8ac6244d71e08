//! `X-Twilio-Signature`: base64 HMAC-SHA1, keyed by the auth token, of the full public URL
//! followed by every posted parameter sorted by name (each name's values sorted and
//! de-duplicated), as Twilio's SDKs compute it. Twilio signs URLs inconsistently with
//! and without the scheme's default port, so both forms are accepted, as the SDKs do.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// The signature Twilio would send for `url` and form `params`.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        by_name.entry(name).or_default().insert(value);
    }
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, values) in by_name {
        for value in values {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `presented` is Twilio's signature of the request, compared in constant time
/// against the URL as given, with the default port added, and with the port removed.
pub fn is_valid(auth_token: &str, url: &str, params: &[(String, String)], presented: &str) -> bool {
    let mut ok = false;
    for candidate in url_forms(url) {
        let expected = sign(auth_token, &candidate, params);
        ok |= bool::from(expected.as_bytes().ct_eq(presented.as_bytes()));
    }
    ok
}

/// The URL as given, with the scheme's default port, and without any port.
fn url_forms(url: &str) -> Vec<String> {
    let Some(scheme_end) = url.find("://") else {
        return vec![url.to_owned()];
    };
    let scheme = &url[..scheme_end];
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let host = match hostport.rfind(':') {
        Some(colon)
            if !hostport[colon + 1..].is_empty()
                && hostport[colon + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &hostport[..colon]
        }
        _ => hostport,
    };
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        "443"
    } else {
        "80"
    };
    let with_default = format!("{scheme}://{userinfo}{host}:{default_port}{tail}");
    let without_port = format!("{scheme}://{userinfo}{host}{tail}");
    vec![url.to_owned(), with_default, without_port]
}

#[cfg(test)]
mod tests {
    //! Twilio's published vectors (`shared/reference/webhooks.md` §1.4, auth token `12345`).
    use super::*;

    const U: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn params(caller: &str) -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", caller),
            ("Digits", "1234"),
            ("From", caller),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn p() -> Vec<(String, String)> {
        params("+14158675309")
    }

    fn valid(url: &str, params: &[(String, String)], sig: &str) -> bool {
        is_valid("12345", url, params, sig)
    }

    #[test]
    fn the_canonical_vector_signs_url_then_sorted_params() {
        assert_eq!(sign("12345", U, &p()), "RSOYDt4T1cUTdK1PDd93/VVr8B8="); // TW-01
    }

    #[test]
    fn ports_are_accepted_as_given_added_or_removed() {
        assert!(valid(
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &p(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        )); // TW-02
        assert!(valid(
            "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &p(),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        )); // TW-03
        assert!(valid(U, &p(), "kvajT1Ptam85bY51eRf/AJRuM3w=")); // TW-04
        assert!(valid(
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &p(),
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        )); // TW-05
        assert!(valid(
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &p(),
            "CYn1h0gLBdNxDGkKJg6hYohgeD8="
        )); // TW-06
    }

    #[test]
    fn userinfo_and_host_case_are_signed_byte_for_byte() {
        assert!(valid(
            "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2",
            &p(),
            "CukzLTc1tT5dXEDIHm/tKBanW10="
        )); // TW-07
        assert!(valid(
            "https://user@mycompany.com/myapp.php?foo=1&bar=2",
            &p(),
            "2YRLlVAflCqxaNicjMpJcSTgzSs="
        )); // TW-08
        assert!(valid(
            "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2",
            &p(),
            "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI="
        )); // TW-09
        assert!(valid(
            "https://MyCompany.com/myapp.php?foo=1&bar=2",
            &p(),
            "g9IN/x4Cft2g517EjYvEvM/W7LU="
        )); // TW-10
        assert!(valid(
            "https://MyCompany.com:1234/myapp.php?foo=1&bar=2",
            &p(),
            "PCqOZm8cnu/L6+u5i5fuEd+Iac4="
        )); // TW-11
        assert!(valid(
            "http://MyCompany.com/myapp.php?foo=1&bar=2",
            &p(),
            "XY7AlKOKL6im4yWyX84gldUrtis="
        )); // TW-12
        assert!(valid(
            "http://username:password@MyCompany.com/myapp.php?foo=1&bar=2",
            &p(),
            "PJ08CxXr7KLPjEQCTc8LkUSMwSM="
        )); // TW-13
        assert!(valid(
            "HTTP://username:password@MyCompany.com/myapp.php?foo=1&bar=2",
            &p(),
            "hy/l8pca+LFms4cvRdv8uiP6NGc="
        )); // TW-14
        assert!(valid(
            "http://Username:Password@MyCompany.com/myapp.php?foo=1&bar=2",
            &p(),
            "SkTSKyDJH9kUlhItI0slbgZ1UsI="
        )); // TW-15
        assert!(!valid(
            "https://MyCompany.com/myapp.php?foo=1&bar=2",
            &p(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        )); // TW-16
    }

    #[test]
    fn repeated_names_sort_and_deduplicate_their_values() {
        let dup: Vec<(String, String)> = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(sign("12345", U, &dup), "IK+Dwps556ElfBT0I3Rgjkr1wJU="); // TW-17
        let binding: Vec<(String, String)> = [
            ("MessagingBinding.Address", "+1415xxxxxxx"),
            ("MessagingBinding.Address", "+1325xxxxxxx"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(sign("12345", U, &binding), "83O6e2vORAoJHUNzJjDWN1jz+BA="); // TW-18
    }

    #[test]
    fn the_query_is_signed_as_sent_and_names_sort_as_keys() {
        assert_eq!(
            sign("12345", &format!("{U}&Body=It's+amazing"), &p()),
            "dsq4Ehbj6cs+KdTkpF5sSSplOWw="
        ); // TW-19
        let mut reason = p();
        reason.push(("ReasonConferenceEnded".into(), "test".into()));
        reason.push(("Reason".into(), "Participant".into()));
        assert_eq!(sign("12345", U, &reason), "vOEb5UThFn24KEfnOFLQY2AE5FY="); // TW-26
        assert!(valid(
            "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &reason,
            "n2xBNyzSW7rfYStDtOFiFMv7qNo="
        )); // TW-28
        assert!(!valid(U, &reason, "95+Bu0JVPi0r/SsESZCVf0dWAjw=")); // TW-29: concatenation-sorted is wrong
        let form: Vec<(String, String)> = vec![
            ("property".into(), "value".into()),
            ("boolean".into(), "true".into()),
        ];
        assert_eq!(sign("12345", U, &form), "NBdBDr/T/lgjI+tlgpXjKZQZs/k="); // TW-30
    }

    #[test]
    fn documentation_examples_verify() {
        assert_eq!(
            sign("12345", U, &params("+12349013030")),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ); // TW-31
        assert_eq!(
            sign(
                "12345",
                "https://example.com/myapp.php?foo=1&bar=2",
                &params("+14158675310")
            ),
            "L/OH5YylLD5NRKLltdqwSvS0BnU="
        ); // TW-32
        assert_eq!(
            sign("12345", U, &params("+14158675310")),
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        ); // TW-33
    }

    #[test]
    fn a_forged_or_missing_signature_fails() {
        assert!(!valid(U, &p(), ""));
        assert!(!valid(U, &p(), "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
        assert!(!is_valid("54321", U, &p(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        let mut tampered = p();
        tampered[2].1 = "9999".into();
        assert!(!valid(U, &tampered, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    }
}
