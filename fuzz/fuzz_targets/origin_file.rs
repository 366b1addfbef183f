//! `package::origin::Origin::parse_file`: what a GET under an origin endpoint
//! names (multivariant, media or I-frame playlist, segment), for an arbitrary
//! manifest name and file. Never panics; what it recognises, written back as
//! the origin names it, is recognised as the same file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use package::origin::{Origin, OriginFile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (manifest, file) = text.split_once('\0').unwrap_or(("index", text));
    let Some(parsed) = Origin::parse_file(manifest, file) else {
        return;
    };
    let name = match parsed {
        OriginFile::Multivariant => format!("{manifest}.m3u8"),
        OriginFile::Media(n) => format!("{manifest}_{n}.m3u8"),
        OriginFile::IFrames(n) => format!("{manifest}_{n}_iframe.m3u8"),
        OriginFile::Segment(n, seq) => format!("{manifest}_{n}_{seq}.ts"),
    };
    assert_eq!(Origin::parse_file(manifest, &name), Some(parsed), "{name}");
});
