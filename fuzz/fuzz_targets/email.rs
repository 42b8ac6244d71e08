//! Raw bytes as an inbound e-mail: parsing must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = switchboard::adapters::email::parse(data);
});
