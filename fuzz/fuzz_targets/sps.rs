//! The H.264 SPS parser (picture size, VUI frame rate) on arbitrary bytes:
//! never panics, and what it reads is within H.264's limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(info) = package::sps::parse(data) {
        assert!(info.frame_rate.is_none_or(|r| (1.0..=300.0).contains(&r)));
    }
});
