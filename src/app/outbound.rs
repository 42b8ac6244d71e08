//! Where agents' replies are delivered: the channel adapters' URLs and the secret the
//! deliveries are signed with (`X-Switchboard-Signature: sha256=<hex HMAC-SHA256>`).

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::Channel;

/// Where replies go.
#[derive(Clone)]
pub struct OutboundConfig {
    pub default_url: Option<String>,
    pub channel_urls: HashMap<Channel, String>,
    pub secret: String,
    pub client: reqwest::Client,
}

impl OutboundConfig {
    /// The adapter URL for a channel, if any is configured.
    pub fn url_for(&self, channel: Channel) -> Option<&str> {
        self.channel_urls
            .get(&channel)
            .or(self.default_url.as_ref())
            .map(String::as_str)
    }
}

/// `sha256=<hex HMAC-SHA256 of body>`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hex_hmac_sha256_of_the_body() {
        // GitHub's published X-Hub-Signature-256 vector: the same construction.
        assert_eq!(
            sign("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }
}
