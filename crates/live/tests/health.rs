//! A transcoder whose thread dies says so: `is_alive()` turns false and `error()` tells why,
//! so the channel supervisor can log it and restart the engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use live::loss::InputLossConfig;
use live::{TranscodeConfig, Transcoder, VideoSettings};

#[test]
fn a_dead_engine_reports_why() {
    let config = TranscodeConfig {
        video: vec![VideoSettings {
            gop_size: 25,
            b_frames: 0,
            scene_change_detect: false,
            preset: "ultrafast".into(),
            ..VideoSettings::new(64, 36, (25, 1), 100_000)
        }],
        ..TranscodeConfig::default()
    };
    let loss = InputLossConfig {
        threshold: Duration::from_millis(100),
        ..InputLossConfig::default()
    };
    // No input at all: the fill makes packets after 100 ms, and the sink fails on the first.
    let transcoder = Transcoder::spawn_with(config, Some(loss), 16, |_packet| {
        panic!("the packager broke");
    })
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while transcoder.is_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!transcoder.is_alive(), "the engine should have died");
    let why = transcoder.error().unwrap();
    assert!(why.contains("the packager broke"), "{why}");
    assert!(transcoder.finish().is_err());
}
