//! FLV video and audio tag bodies (AVC and AAC) on arbitrary bytes: records, configs
//! and frames in any order, then the TS adapter on what comes out. No panic; every
//! video frame is Annex B starting with an access unit delimiter, every audio frame an
//! ADTS frame whose header length is its length; the TS is whole 188-byte packets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmp::flv::{AacConfig, AvcConfig, FlvDecoder, Media};
use rtmp::ts::TsAdapter;

fuzz_target!(|data: &[u8]| {
    let _ = AvcConfig::parse(data);
    if let Ok(config) = AacConfig::parse(data) {
        let _ = config.adts_header(data.len());
    }
    let mut decoder = FlvDecoder::new();
    let mut adapter = TsAdapter::new();
    let mut ts = Vec::new();
    let mut timestamp = 0u32;
    // Tags: one byte (bit 7 video/audio, bits 0-6 a timestamp step), two length bytes,
    // then the body.
    let mut rest = data;
    while let Some((&[head, hi, lo], tail)) = rest.split_first_chunk::<3>() {
        let len = usize::from(u16::from_be_bytes([hi, lo])).min(tail.len());
        let (body, tail) = tail.split_at(len);
        rest = tail;
        timestamp = timestamp.wrapping_add(u32::from(head & 0x7F) * 7);
        let media = if head & 0x80 != 0 {
            decoder.video(timestamp, body)
        } else {
            decoder.audio(timestamp, body)
        };
        match media {
            Ok(Media::Video(frame)) => {
                assert_eq!(&frame.data[..4], &[0, 0, 0, 1]);
                assert_eq!(frame.data[4] & 0x1F, 9, "access unit delimiter first");
                adapter.video(&frame, &mut ts).unwrap();
            }
            Ok(Media::Audio(frame)) => {
                let h = &frame.data;
                let len = (usize::from(h[3] & 3) << 11)
                    | (usize::from(h[4]) << 3)
                    | usize::from(h[5] >> 5);
                assert_eq!(len, h.len());
                adapter.audio(&frame, &mut ts).unwrap();
            }
            _ => {}
        }
    }
    assert_eq!(ts.len() % 188, 0);
});
