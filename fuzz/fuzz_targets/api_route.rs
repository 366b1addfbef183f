//! The API router's parsers (`api::route`): query strings as the services read
//! them (`parse_query`), checked against the SigV4 canonical query, and the
//! route of an arbitrary path, credential scope and `X-Amz-Target`. Never
//! panics; a rest-json route starts at the first root of the signed service;
//! a refusal is a 4xx.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    api::route::fuzz_route(data);
});
