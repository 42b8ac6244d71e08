//! Arbitrary text as every kind of identity, and as an `?identity=` key.
#![no_main]
use libfuzzer_sys::fuzz_target;
use switchboard::domain::{IdentityKind, IdentityNormaliser};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let normaliser = IdentityNormaliser::new("US").expect("US is a region");
    for kind in [IdentityKind::Phone, IdentityKind::Email, IdentityKind::Whatsapp, IdentityKind::X, IdentityKind::Chat] {
        let _ = normaliser.normalise(kind, &text);
    }
    let _ = normaliser.parse_key(&text);
});
