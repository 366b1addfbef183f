//! The origin store fed arbitrary bytes as chunks of up to three renditions and
//! as pushed playlists and segments, with time advancing, then every playlist and
//! segment it serves: never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    package::origin::fuzz_origin(data);
});
