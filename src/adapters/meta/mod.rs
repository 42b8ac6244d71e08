//! Meta: WhatsApp Cloud API, Messenger and Instagram. `GET` answers the verification
//! handshake; `POST` events must carry `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of
//! the raw body with the app secret>`, checked in constant time over the bytes as
//! received (never re-serialised). Every message in a batch is ingested; reports on the
//! replies sent (`reports`) move their delivery status; other events are accepted and
//! ignored.

mod payload;
mod reports;

pub use payload::{messages, messenger_text, whatsapp_text};
pub use reports::{reports, MetaReport};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Meta's app secret (event signatures) and verify token (subscription handshake).
#[derive(Debug, Clone)]
pub struct MetaConfig {
    pub app_secret: Option<String>,
    pub verify_token: Option<String>,
}

/// Whether `header` (`sha256=<hex>`) is the app secret's HMAC-SHA256 of `body`.
pub fn signature_matches(app_secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Network;
    use serde_json::Value;

    #[test]
    fn githubs_published_hub_signature_vector_verifies() {
        // HUB-01: the same scheme as Meta's X-Hub-Signature-256.
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_matches(
            "It's a Secret to Everybody",
            b"Hello, World!",
            sig
        ));
        assert!(!signature_matches(
            "It's a Secret to Everybody",
            b"Hello, World?",
            sig
        ));
        assert!(!signature_matches("another secret", b"Hello, World!", sig));
        assert!(
            !signature_matches("It's a Secret to Everybody", b"Hello, World!", &sig[7..]),
            "no sha256= prefix"
        );
    }

    #[test]
    fn the_raw_bytes_are_signed_not_a_re_serialisation() {
        let escaped = br#"{"t":"caf\u00e9"}"#;
        let sig = "sha256=4ea6a0b98c398d90012c91879a402e35f5fb380bf29a0730c5624a620e8be966";
        assert!(signature_matches("test_app_secret", escaped, sig));
        let utf8 = r#"{"t":"café"}"#.as_bytes();
        assert!(signature_matches(
            "test_app_secret",
            utf8,
            "sha256=5dcbb394883ca594568caa1e388f7868c632a00efd8879cf0a6c9059f7d38208"
        ));
        assert!(!signature_matches("test_app_secret", utf8, sig));
    }

    #[test]
    fn every_message_of_a_batch_is_read_and_statuses_are_not() {
        let payload: Value = serde_json::from_str(r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
            {"value":{"messaging_product":"whatsapp","contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
              "messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1749416383","type":"text","text":{"body":"Another color?"}},
                          {"from":"16505551234","id":"wamid.B","timestamp":"1749416384","type":"image","image":{}}]},"field":"messages"},
            {"value":{"messaging_product":"whatsapp","statuses":[{"id":"wamid.X","status":"delivered"}]},"field":"messages"}]}]}"#).expect("json");
        let got: Vec<_> = messages(&payload).into_iter().flatten().collect();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].external_id.as_str(), got[0].from.as_str()),
            ("wamid.A", "16505551234")
        );
        assert_eq!(got[0].display_name.as_deref(), Some("Sheena Nelson"));
        assert_eq!(
            got[1].text.as_deref(),
            Some("[image]"),
            "no id: only the kind"
        );
        let page: Value = serde_json::from_str(r#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[
            {"sender":{"id":"USER"},"recipient":{"id":"PAGE"},"timestamp":1457764197627,"message":{"mid":"mid.1","text":"hello, world!"}},
            {"sender":{"id":"PAGE"},"recipient":{"id":"USER"},"timestamp":1457764197628,"message":{"mid":"mid.2","text":"echo","is_echo":true}},
            {"sender":{"id":"USER"},"recipient":{"id":"PAGE"},"timestamp":1457764197629,"read":{"watermark":1}}]}]}"#).expect("json");
        let got: Vec<_> = messages(&page).into_iter().flatten().collect();
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].network, got[0].text.as_deref()),
            (Some(Network::Messenger), Some("hello, world!"))
        );
        let insta: Value = serde_json::from_str(r#"[{"object":"instagram","entry":[{"id":"IG","time":1,"messaging":[{"sender":{"id":"IGSID"},"recipient":{"id":"IG"},"timestamp":1700000000000,"message":{"mid":"m1","text":"hi"}}]}]}]"#).expect("json");
        let got = messages(&insta).pop().expect("one").expect("valid");
        assert_eq!(got.network, Some(Network::Instagram));
    }
}
