//! The origin's request parsers (`api::origin`): a `Range` header over an
//! object's length, `Authorization: Basic` and its base64, the client address
//! from `X-Forwarded-For` and the whitelist CIDR match, and the ingest / origin
//! path router. Never panics; a satisfiable range lies inside the object.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    api::origin::fuzz_headers(data);
});
