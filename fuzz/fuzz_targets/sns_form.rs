//! The SNS (awsQuery) form body on arbitrary bytes: parsed and read member
//! by member (scalars, lists, tag lists, maps), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    api::sns::fuzz_form(data);
});
