//! Arbitrary JSON as a Meta webhook payload: extracting messages must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = switchboard::adapters::meta::messages(&value);
    }
    let _ = switchboard::adapters::meta::signature_matches("secret", data, "sha256=00");
});
