//! The SigV4 Authorization header parser on arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = api::sigv4::Authorization::parse(s);
    }
});
