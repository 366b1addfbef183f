//! SigV4 whole-request verification (`api::sigv4`): an arbitrary method, raw
//! path, raw query, headers and body verified as received, then signed as
//! onair's client signs and verified again. Never panics; a signed request
//! verifies; the canonical path and query are fixed points.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    api::sigv4::fuzz_request(data);
});
