//! Arbitrary form bodies and signatures through Twilio's signature check.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let params: Vec<(String, String)> = form_urlencoded_parse(data);
    let sig = String::from_utf8_lossy(data.get(..28).unwrap_or(data)).into_owned();
    let _ = switchboard::adapters::twilio::signature::is_valid("12345", "https://h.example/p?x=1", &params, &sig);
});

fn form_urlencoded_parse(data: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(data)
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}
