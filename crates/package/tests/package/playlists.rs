use std::time::Duration;

use bytes::Bytes;
use media::h264;
use package::hls::{MultivariantPlaylist, PlaylistType, Rendition, RenditionConfig, Variant};
use package::segmenter::{Segment, SegmenterConfig};
use proptest::prelude::*;
use time::macros::datetime;

use super::segmenter::segment_all;
use super::stream::program;

/// Segments of the given durations (ms), discontinuity before the ones listed.
fn segments(durations_ms: &[u64], discontinuities: &[u64]) -> Vec<Segment> {
    let start = datetime!(2026-11-25 22:00:00 UTC);
    let mut elapsed = 0u64;
    durations_ms
        .iter()
        .enumerate()
        .map(|(i, &ms)| {
            let pdt = start + Duration::from_millis(elapsed);
            elapsed += ms;
            Segment {
                sequence: i as u64,
                duration_ticks: ms * 90,
                start_pts: (elapsed - ms) as i64 * 90,
                discontinuity: discontinuities.contains(&(i as u64)),
                discontinuity_sequence: discontinuities.iter().filter(|&&d| d < i as u64).count()
                    as u64,
                program_date_time: Some(pdt),
                starts_with_idr: true,
                iframe_bytes: Some(188 * 3),
                video_bytes: 188 * (8 + i),
                data: Bytes::from(vec![0x47; 188 * (10 + i)]),
            }
        })
        .collect()
}

fn rendition(kind: PlaylistType, window_secs: u64) -> Rendition {
    let mut config = RenditionConfig::new(kind, Duration::from_secs(2));
    config.window = Duration::from_secs(window_secs);
    config.startover = Duration::from_secs(4);
    config.program_date_time_interval = Some(Duration::from_secs(4));
    Rendition::new(config)
}

const DURATIONS: [u64; 10] = [2000, 2000, 2040, 1960, 2000, 2500, 2000, 2000, 1000, 2000];

#[test]
fn live_sliding_window() {
    let mut r = rendition(PlaylistType::Live, 6);
    for s in segments(&DURATIONS, &[3, 7]) {
        r.push(s);
    }
    // Retention: window (at least 3 × target = 9 s) plus 4 s start-over.
    let kept: Vec<u64> = r.segments().map(|s| s.sequence).collect();
    assert_eq!(kept, vec![3, 4, 5, 6, 7, 8, 9]);
    assert!(r.segment(2).is_none());
    assert_eq!(r.segment(5).unwrap().data.len(), 188 * 15);
    insta::assert_snapshot!("live", r.render());
}

#[test]
fn event_keeps_everything() {
    let mut r = rendition(PlaylistType::Event, 6);
    for s in segments(&DURATIONS, &[3]) {
        r.push(s);
    }
    insta::assert_snapshot!("event", r.render());
}

#[test]
fn vod_ends() {
    let mut r = rendition(PlaylistType::Vod, 6);
    for s in segments(&DURATIONS[..4], &[]) {
        r.push(s);
    }
    r.end();
    insta::assert_snapshot!("vod", r.render());
}

#[test]
fn multivariant() {
    let sps = [0x67, 0x4D, 0x40, 0x1F, 0x96];
    let playlist = MultivariantPlaylist {
        variants: vec![
            Variant {
                uri: "720p/index.m3u8".into(),
                bandwidth: 3_300_000,
                average_bandwidth: Some(3_000_000),
                resolution: Some((1280, 720)),
                codecs: vec![h264::codec_string(&sps).unwrap(), "mp4a.40.2".into()],
                frame_rate: Some(30.0),
            },
            Variant {
                uri: "360p/index.m3u8".into(),
                bandwidth: 880_000,
                average_bandwidth: None,
                resolution: Some((640, 360)),
                codecs: vec!["avc1.42C01E".into(), "mp4a.40.2".into()],
                frame_rate: Some(29.97),
            },
        ],
        ..MultivariantPlaylist::default()
    };
    insta::assert_snapshot!("multivariant", playlist.render());
}

#[test]
fn bitrates_from_segments() {
    let mut r = rendition(PlaylistType::Event, 6);
    for s in segments(&[2000, 1000], &[]) {
        r.push(s);
    }
    // 1880 B in 2 s, 2068 B in 1 s.
    assert_eq!(r.bitrates(), Some((16_544, 10_528)));
}

/// (EXTINF values, TARGETDURATION) read back from a rendered playlist.
fn parse(text: &str) -> (Vec<f64>, f64) {
    let target = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
        .unwrap()
        .parse()
        .unwrap();
    let extinf = text
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|l| l.trim_end_matches(',').parse().unwrap())
        .collect();
    (extinf, target)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn extinf_never_exceeds_target(
        gops in prop::collection::vec(1u64..120, 1..12),
        target_secs in 1u64..6,
        window in 1u64..30,
        kind in prop::sample::select(vec![PlaylistType::Live, PlaylistType::Event, PlaylistType::Vod]),
    ) {
        let mut idrs = Vec::new();
        let mut frame = 0;
        for g in &gops {
            idrs.push(frame);
            frame += g;
        }
        // A stream of a single frame has no frame duration to infer the
        // length of its only segment from; every real stream has more.
        prop_assume!(frame >= 2);
        let data = program(frame, 0, |f| idrs.contains(&f));
        let config = SegmenterConfig::new(Duration::from_secs(target_secs));
        let segs = segment_all(&data, config, 1316);
        let mut config = RenditionConfig::new(kind, Duration::from_secs(target_secs));
        config.window = Duration::from_secs(window);
        let mut r = Rendition::new(config);
        for s in segs {
            r.push(s);
            let (extinf, target) = parse(&r.render());
            for d in &extinf {
                prop_assert!(*d <= target, "EXTINF {} > TARGETDURATION {}", d, target);
                prop_assert!(d.round() <= target);
            }
        }
        let total_ms: u64 = r.segments().map(|s| s.duration.as_millis() as u64).sum();
        if kind != PlaylistType::Live {
            prop_assert_eq!(total_ms, frame * 40);
        }
    }
}
