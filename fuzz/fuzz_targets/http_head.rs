//! The HTTP front's short path on arbitrary bytes read from a connection.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    api::front::fuzz_head(data);
});
