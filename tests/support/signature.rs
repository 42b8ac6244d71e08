//! `sha256=<hex HMAC-SHA256 of body>`, computed here as a provider or an adapter does
//! (Meta's `X-Hub-Signature-256`, our `X-Switchboard-Signature`), independently of the
//! service's own code, so a test of a signature checks it rather than repeats it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub fn sha256_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}
