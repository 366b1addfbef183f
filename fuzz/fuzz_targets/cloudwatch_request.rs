//! CloudWatch operations on arbitrary request bodies (plain and gzip).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    api::cloudwatch::fuzz_request(data);
});
