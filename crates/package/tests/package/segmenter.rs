use std::time::Duration;

use media::h264;
use media::pes::PesAssembler;
use media::ts::{Pid, TsPacket, PACKET_SIZE};
use package::segmenter::{Segment, Segmenter, SegmenterConfig};
use time::macros::datetime;

use super::stream::{self, program, AUDIO_PID, FRAME, PMT_PID, VIDEO_PID};

pub fn segment_all(data: &[u8], config: SegmenterConfig, chunk: usize) -> Vec<Segment> {
    let mut segmenter = Segmenter::new(config).unwrap();
    let mut out = Vec::new();
    for datagram in data.chunks(chunk) {
        segmenter.push(datagram);
        out.extend(std::iter::from_fn(|| segmenter.poll_segment()));
    }
    segmenter.flush();
    out.extend(std::iter::from_fn(|| segmenter.poll_segment()));
    out
}

fn two_seconds() -> SegmenterConfig {
    SegmenterConfig::new(Duration::from_secs(2))
}

/// PAT, PMT, then a video PES holding an IDR; every packet parses.
fn assert_independent(segment: &Segment) {
    let packets: Vec<TsPacket> = segment
        .data
        .chunks(PACKET_SIZE)
        .map(|p| TsPacket::parse(p).unwrap())
        .collect();
    assert_eq!(packets[0].header.pid, Pid::PAT);
    assert!(packets[0].header.pusi);
    assert_eq!(packets[1].header.pid, PMT_PID);
    assert_eq!(packets[2].header.pid, VIDEO_PID);
    assert!(packets[2].header.pusi);
    let mut asm = PesAssembler::new();
    for p in packets.iter().filter(|p| p.header.pid == VIDEO_PID) {
        asm.push(p.header.pusi, p.payload.unwrap());
    }
    asm.flush();
    let first = asm.pop().unwrap();
    assert!(h264::is_idr(&first.payload));
    assert!(segment.starts_with_idr);
}

#[test]
fn cuts_every_two_seconds_on_idr() {
    // 10 s, IDR every 25 frames (1 s).
    let data = program(250, 900_000, |f| f % 25 == 0);
    let segments = segment_all(&data, two_seconds(), 7 * PACKET_SIZE);
    let durations: Vec<u64> = segments.iter().map(|s| s.duration_ticks).collect();
    assert_eq!(durations, vec![180_000; 5]);
    for (i, s) in segments.iter().enumerate() {
        assert_eq!(s.sequence, i as u64);
        assert!(!s.discontinuity);
        assert_eq!(s.start_pts, 900_000 + i as i64 * 180_000);
        assert_independent(s);
        let has_audio = s
            .data
            .chunks(PACKET_SIZE)
            .any(|p| TsPacket::parse(p).unwrap().header.pid == AUDIO_PID);
        assert!(has_audio);
    }
    // Nothing lost: every source video and audio packet is in some segment.
    let count = |data: &[u8], pid| {
        data.chunks(PACKET_SIZE)
            .filter(|p| TsPacket::parse(p).unwrap().header.pid == pid)
            .count()
    };
    for pid in [VIDEO_PID, AUDIO_PID] {
        let total: usize = segments.iter().map(|s| count(&s.data, pid)).sum();
        assert_eq!(total, count(&data, pid));
    }
}

#[test]
fn chunking_does_not_matter() {
    let data = program(100, 0, |f| f % 25 == 0);
    let whole = segment_all(&data, two_seconds(), data.len());
    let bytes = segment_all(&data, two_seconds(), 1);
    let odd = segment_all(&data, two_seconds(), 1000);
    assert_eq!(whole, bytes);
    assert_eq!(whole, odd);
    assert_eq!(whole.len(), 2);
}

#[test]
fn waits_for_idr_past_target() {
    // IDR every 60 frames (2.4 s): segments are 2.4 s.
    let data = program(240, 0, |f| f % 60 == 0);
    let segments = segment_all(&data, two_seconds(), 1316);
    let durations: Vec<u64> = segments.iter().map(|s| s.duration_ticks).collect();
    assert_eq!(durations, vec![216_000; 4]);
}

#[test]
fn drops_until_first_idr() {
    let data = program(100, 0, |f| f == 13 || f == 63);
    let segments = segment_all(&data, two_seconds(), 1316);
    assert_eq!(segments.len(), 2);
    assert_eq!(segments[0].start_pts, 13 * FRAME as i64);
    assert_eq!(segments[0].duration_ticks, 50 * FRAME);
    assert_independent(&segments[0]);
}

#[test]
fn pts_wrap_is_seamless() {
    // Starts 3 s before the 33-bit wrap.
    let start = (1u64 << 33) - 270_000;
    let data = program(250, start, |f| f % 25 == 0);
    let segments = segment_all(&data, two_seconds(), 1316);
    let durations: Vec<u64> = segments.iter().map(|s| s.duration_ticks).collect();
    assert_eq!(durations, vec![180_000; 5]);
    assert!(segments.iter().all(|s| !s.discontinuity));
}

#[test]
fn pts_jump_is_a_discontinuity() {
    let mut data = program(100, 0, |f| f % 25 == 0);
    data.extend(program(100, 50_000_000, |f| f % 25 == 0));
    let segments = segment_all(&data, two_seconds(), 1316);
    let flags: Vec<bool> = segments.iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, vec![false, false, true, false]);
    let durations: Vec<u64> = segments.iter().map(|s| s.duration_ticks).collect();
    assert_eq!(durations, vec![180_000; 4]);
    assert!(segments.iter().all(|s| s.starts_with_idr));
}

#[test]
fn forces_a_cut_without_idr() {
    let data = program(400, 0, |f| f == 0);
    let mut config = two_seconds();
    config.max_duration = Duration::from_secs(6);
    let segments = segment_all(&data, config, 1316);
    assert_eq!(segments[0].duration_ticks, 540_000);
    assert!(segments[0].starts_with_idr);
    assert!(!segments[1].starts_with_idr);

    let mut config = two_seconds();
    config.max_bytes = 100_000;
    let segments = segment_all(&program(100, 0, |f| f == 0), config, 1316);
    assert!(segments.len() > 1);
    assert!(segments.iter().all(|s| s.data.len() <= 100_000));
}

#[test]
fn program_date_time_follows_media_time() {
    let data = program(150, 0, |f| f % 25 == 0);
    let mut segmenter = Segmenter::new(two_seconds()).unwrap();
    segmenter.set_wall_clock(datetime!(2026-11-25 22:00:00 UTC));
    segmenter.push(&data);
    segmenter.flush();
    let pdts: Vec<_> = std::iter::from_fn(|| segmenter.poll_segment())
        .map(|s| s.program_date_time.unwrap())
        .collect();
    assert_eq!(
        pdts,
        vec![
            datetime!(2026-11-25 22:00:00 UTC),
            datetime!(2026-11-25 22:00:02 UTC),
            datetime!(2026-11-25 22:00:04 UTC),
        ]
    );
}

#[test]
fn garbage_never_panics() {
    let mut segmenter = Segmenter::new(two_seconds()).unwrap();
    let mut data = program(30, 0, |f| f % 25 == 0);
    for (i, b) in data.iter_mut().enumerate() {
        if i % 97 == 0 {
            *b = b.wrapping_mul(31).wrapping_add(7);
        }
    }
    segmenter.push(&data);
    segmenter.push(&[0x47; 1000]);
    segmenter.flush();
    while segmenter.poll_segment().is_some() {}
    assert!(Segmenter::new(SegmenterConfig::new(Duration::ZERO)).is_err());
}

#[test]
fn real_ffmpeg_stream() {
    let path = std::env::temp_dir().join(format!("onair-package-{}.ts", std::process::id()));
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
        ])
        .args([
            "-f", "lavfi", "-i", "sine", "-t", "6", "-c:v", "libx264", "-g", "25",
        ])
        .args(["-c:a", "aac", "-f", "mpegts"])
        .arg(&path)
        .status();
    let Ok(status) = status else {
        eprintln!("ffmpeg missing: skipped");
        return;
    };
    assert!(status.success());
    let data = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let segments = segment_all(&data, two_seconds(), 1316);
    let durations: Vec<f64> = segments.iter().map(|s| s.duration_secs()).collect();
    assert_eq!(segments.len(), 3, "{durations:?}");
    for s in &segments {
        assert!((s.duration_secs() - 2.0).abs() < 0.05, "{durations:?}");
        assert!(s.starts_with_idr);
    }
    // The RFC 6381 codec string comes from the stream's SPS: x264 High profile.
    let first_video = segments[0]
        .data
        .chunks(PACKET_SIZE)
        .map(|p| TsPacket::parse(p).unwrap())
        .find(|p| p.header.pusi && p.header.pid == Pid(0x100))
        .unwrap();
    let mut asm = PesAssembler::new();
    asm.push(true, first_video.payload.unwrap());
    asm.flush();
    let pes = asm.pop().unwrap();
    let codec = h264::find_sps(&pes.payload).and_then(h264::codec_string);
    assert!(
        codec.as_deref().unwrap().starts_with("avc1.6400"),
        "{codec:?}"
    );
}

#[test]
fn memory_is_bounded_when_video_stops() {
    let mut config = two_seconds();
    config.max_bytes = 50_000;
    let mut segmenter = Segmenter::new(config).unwrap();
    segmenter.push(&program(30, 0, |f| f % 25 == 0));
    // Audio only from here: no video access unit ever completes.
    let mut mux = stream::Muxer::default();
    for i in 0..2000 {
        mux.packetize(AUDIO_PID, &stream::pes(0xC0, i * 1920, &[0xFF; 200], true));
    }
    segmenter.push(&mux.out);
    assert!(segmenter.stats().dropped_packets > 0);
    segmenter.flush();
    let total: usize = std::iter::from_fn(|| segmenter.poll_segment())
        .map(|s| s.data.len())
        .sum();
    assert!(total < 200_000, "{total}");
}

#[test]
fn duplicate_packets_are_dropped_once_not_segmented_twice() {
    // ISO/IEC 13818-1 §2.4.3.3: a packet may be sent twice with the same counter.
    let data = program(100, 90_000, |f| f % 50 == 0);
    let mut doubled = Vec::new();
    for p in data.chunks(PACKET_SIZE) {
        doubled.extend_from_slice(p);
        if TsPacket::parse(p).unwrap().header.pid == VIDEO_PID {
            doubled.extend_from_slice(p);
        }
    }
    let clean = segment_all(&data, two_seconds(), 1316);
    let segments = segment_all(&doubled, two_seconds(), 1316);
    assert_eq!(segments, clean);
    assert!(!clean.is_empty());
}
