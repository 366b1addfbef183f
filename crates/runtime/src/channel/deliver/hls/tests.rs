#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Duration;

use control::medialive::groups::{HttpTarget, TsLayout};
use live::{Packet, Track};
use media::pes::{PesAssembler, CLOCK_HZ};
use media::ts::{Pid, TsPacket, PACKET_SIZE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::super::{OutputMux, Sink};
use super::*;

const FRAME: i64 = 3_600; // 25 fps
const AAC_FRAME: i64 = 1_920; // 1024 samples at 48 kHz
const START: i64 = 900_000;

fn plan(modifier: &str) -> OutputPlan {
    OutputPlan {
        name: modifier.trim_start_matches('_').into(),
        video: 0,
        audio: vec![0],
        name_modifier: modifier.into(),
        ts: TsLayout::default(),
        udp: None,
    }
}

fn push_settings(segment_secs: u64) -> HlsPush {
    HlsPush {
        target: HttpTarget {
            authority: "127.0.0.1:9".into(),
            base_path: "/in/channel".into(),
            credentials: None,
        },
        segment_length: Duration::from_secs(segment_secs),
        index_n: 3,
        program_date_time: None,
        retry_interval: Duration::from_millis(10),
        retries: 0,
        resolution: true,
        integer_durations: false,
    }
}

/// `seconds` of 25 fps video with an IDR every `gop` frames, and AAC, in
/// decoding order.
fn packets(seconds: i64, gop: i64) -> Vec<Packet> {
    let mut out = Vec::new();
    let frames = seconds * CLOCK_HZ as i64 / FRAME;
    let mut audio_pts = START;
    for n in 0..frames {
        let pts = START + n * FRAME;
        while audio_pts <= pts {
            out.push(Packet {
                track: Track::Audio(0),
                pts: audio_pts,
                dts: audio_pts,
                key: true,
                data: [&[0xFF, 0xF1, 0x50, 0x80][..], &[0x11; 196]].concat(),
            });
            audio_pts += AAC_FRAME;
        }
        let key = n % gop == 0;
        let data = if key {
            [
                &[0, 0, 0, 1, 0x09, 0xF0][..],
                &[0, 0, 0, 1, 0x67, 0x4D, 0x40, 0x15, 0xAA],
                &[0, 0, 0, 1, 0x68, 0xEE],
                &[0, 0, 0, 1, 0x65, 0x88],
                &[0x5A; 3000],
            ]
            .concat()
        } else {
            [
                &[0, 0, 0, 1, 0x09, 0xF0][..],
                &[0, 0, 0, 1, 0x41, 0x9A],
                &[0x3C; 800],
            ]
            .concat()
        };
        out.push(Packet {
            track: Track::Video(0),
            pts,
            dts: pts,
            key,
            data,
        });
    }
    out
}

/// Runs `packets` through one muxer and cutter per output on a shared grid;
/// the segments each output produced.
fn cut(outputs: &[&str], segment_secs: u64, packets: &[Packet]) -> Vec<Vec<HlsSegment>> {
    let stats = Arc::new(DeliveryStats::default());
    let mut grids = vec![CutGrid::new(Duration::from_secs(segment_secs))];
    let mut receivers = Vec::new();
    let mut muxes: Vec<OutputMux> = outputs
        .iter()
        .enumerate()
        .map(|(n, m)| {
            let (tx, rx) = mpsc::channel(QUEUE);
            receivers.push(rx);
            let cutter =
                HlsCutter::new(n, Duration::from_secs(segment_secs), 0, tx, &stats).unwrap();
            OutputMux::new(&plan(m), Sink::Hls(Box::new(cutter)), &[])
        })
        .collect();
    for p in packets {
        for m in &mut muxes {
            m.packet(p, &mut grids);
        }
    }
    receivers
        .iter_mut()
        .map(|rx| std::iter::from_fn(|| rx.try_recv().ok()).collect())
        .collect()
}

fn pids(data: &[u8]) -> Vec<Pid> {
    data.chunks(PACKET_SIZE)
        .map(|p| TsPacket::parse(p).unwrap().header.pid)
        .collect()
}

/// The PTS of the first video PES of a segment and whether it is an IDR.
fn first_video(data: &[u8]) -> (i64, bool) {
    let mut asm = PesAssembler::new();
    let mut first = None;
    for p in data.chunks(PACKET_SIZE) {
        let p = TsPacket::parse(p).unwrap();
        if p.header.pid == TsLayout::default().video_pid {
            asm.push(p.header.pusi, p.payload.unwrap_or_default());
            first = first.or_else(|| asm.pop());
        }
    }
    asm.flush();
    let pes = first.or_else(|| asm.pop()).unwrap();
    let pts = pes.header.pts.unwrap().value() as i64;
    (pts, media::h264::is_idr(&pes.payload))
}

#[test]
fn segments_start_on_idr_at_the_segment_length_with_the_same_numbers() {
    let segments = cut(&["_hi", "_lo"], 2, &packets(11, 25));
    for (output, list) in segments.iter().enumerate() {
        // Cuts at 0, 2, 4, 6, 8 and 10 s: five segments are finished.
        assert_eq!(
            list.iter().map(|s| s.sequence).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
        for (i, s) in list.iter().enumerate() {
            assert_eq!(s.output, output);
            assert_eq!(s.duration, Duration::from_secs(2));
            assert!(!s.discontinuity);
            assert_eq!(s.data.len() % PACKET_SIZE, 0);
            let pids = pids(&s.data);
            // PAT and PMT first, so a player can start at any segment.
            assert_eq!(&pids[..2], &[Pid::PAT, Pid(480)]);
            assert!(pids.contains(&Pid(482)), "audio is carried");
            let (pts, idr) = first_video(&s.data);
            assert!(idr);
            assert_eq!(pts, START + i as i64 * 2 * CLOCK_HZ as i64);
        }
    }
    // The variants cut alike: same numbers for the same media.
    let starts = |l: &Vec<HlsSegment>| {
        l.iter()
            .map(|s| (s.sequence, first_video(&s.data).0))
            .collect::<Vec<_>>()
    };
    assert_eq!(starts(&segments[0]), starts(&segments[1]));
}

#[test]
fn gops_that_do_not_divide_the_segment_length_still_cut_on_idr() {
    // An IDR every 36 frames (1.44 s), 2 s segments.
    let segments = cut(&["_hi"], 2, &packets(30, 36));
    let list = &segments[0];
    assert!(list.len() >= 10, "{}", list.len());
    for s in list {
        let (pts, idr) = first_video(&s.data);
        assert!(idr);
        assert_eq!((pts - START) % (36 * FRAME), 0);
        assert!(s.duration <= Duration::from_secs(4), "{:?}", s.duration);
    }
    // EXTINF never exceeds EXT-X-TARGETDURATION.
    let push = push_settings(2);
    let mut state = HlsOutputState::new(&plan("_hi"), None);
    for s in list {
        state.listed(s, 100);
    }
    let text = media_playlist(&push, "channel", &state);
    let target: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
        .unwrap()
        .parse()
        .unwrap();
    for extinf in text.lines().filter_map(|l| l.strip_prefix("#EXTINF:")) {
        let d: f64 = extinf.trim_end_matches(',').parse().unwrap();
        assert!(d <= target, "{d} > {target}\n{text}");
    }
}

#[test]
fn every_segment_repeats_the_pmt_with_the_audio_language() {
    let stats = Arc::new(DeliveryStats::default());
    let (tx, mut rx) = mpsc::channel(QUEUE);
    let mut grids = vec![CutGrid::new(Duration::from_secs(2))];
    let cutter = HlsCutter::new(0, Duration::from_secs(2), 0, tx, &stats).unwrap();
    // Audio description (audio_type 3), as the e2e HLS test configures it.
    let languages = [Some((*b"eng", 3))];
    let mut mux = OutputMux::new(&plan("_hi"), Sink::Hls(Box::new(cutter)), &languages);
    for p in packets(7, 25) {
        mux.packet(&p, &mut grids);
    }
    let mut count = 0;
    while let Ok(segment) = rx.try_recv() {
        count += 1;
        // Every segment opens with the program map: read it with the demuxer.
        let mut demux = media::demux::Demuxer::new();
        demux.push(&segment.data);
        demux.flush();
        while demux.poll().is_some() {}
        let program = demux.programs().first_program().unwrap();
        assert_eq!(program.pmt_pid, Pid(480));
        let pmt = program.pmt.as_ref().unwrap();
        let audio = pmt.streams.iter().find(|s| s.pid == Pid(482)).unwrap();
        let languages = audio.languages();
        assert_eq!(languages.len(), 1);
        assert_eq!((languages[0].code, languages[0].audio_type), (*b"eng", 3));
    }
    assert_eq!(count, 3);
}

#[test]
fn a_full_queue_drops_and_counts() {
    let stats = Arc::new(DeliveryStats::default());
    let (tx, mut rx) = mpsc::channel(1);
    let mut grids = vec![CutGrid::new(Duration::from_secs(1))];
    let cutter = HlsCutter::new(0, Duration::from_secs(1), 0, tx, &stats).unwrap();
    let mut mux = OutputMux::new(&plan("_hi"), Sink::Hls(Box::new(cutter)), &[]);
    for p in packets(6, 25) {
        mux.packet(&p, &mut grids);
    }
    assert_eq!(rx.try_recv().unwrap().sequence, 1);
    assert!(rx.try_recv().is_err());
    assert_eq!(stats.hls_dropped.load(Ordering::Relaxed), 4);
}

fn segment(output: usize, sequence: u64, bytes: usize) -> HlsSegment {
    HlsSegment {
        output,
        sequence,
        duration: Duration::from_millis(2_000),
        discontinuity: false,
        discontinuity_sequence: 0,
        data: Bytes::from(vec![0x47; bytes]),
        wall_clock: OffsetDateTime::UNIX_EPOCH + Duration::from_secs(2 * sequence),
    }
}

#[test]
fn playlists_name_the_files_and_the_configured_codecs() {
    let mut push = push_settings(2);
    push.program_date_time = Some(Duration::from_secs(600));
    let hi = VideoSettings::new(480, 270, (30, 1), 700_000);
    let lo = VideoSettings::new(320, 180, (30, 1), 300_000);
    let mut state = vec![
        HlsOutputState::new(&plan("_hi"), Some(&hi)),
        HlsOutputState::new(&plan("_lo"), Some(&lo)),
    ];
    for n in 1..=5 {
        state[0].listed(&segment(0, n, 250_000), push.index_n);
        state[1].listed(&segment(1, n, 100_000), push.index_n);
    }
    let media = media_playlist(&push, "channel", &state[0]);
    assert_eq!(
        media,
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n\
         #EXT-X-DISCONTINUITY-SEQUENCE:0\n\
         #EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:00:06.000Z\n\
         #EXTINF:2.000,\nchannel_hi_00003.ts\n#EXTINF:2.000,\nchannel_hi_00004.ts\n\
         #EXTINF:2.000,\nchannel_hi_00005.ts\n"
    );
    let main = main_playlist(&push, "channel", &state);
    assert_eq!(
        main,
        "#EXTM3U\n#EXT-X-VERSION:3\n\
         #EXT-X-STREAM-INF:BANDWIDTH=1000000,AVERAGE-BANDWIDTH=1000000,RESOLUTION=480x270,\
         CODECS=\"avc1.4D4015,mp4a.40.2\",FRAME-RATE=30.000\nchannel_hi.m3u8\n\
         #EXT-X-STREAM-INF:BANDWIDTH=400000,AVERAGE-BANDWIDTH=400000,RESOLUTION=320x180,\
         CODECS=\"avc1.4D400D,mp4a.40.2\",FRAME-RATE=30.000\nchannel_lo.m3u8\n"
    );
    push.resolution = false;
    assert!(!main_playlist(&push, "channel", &state).contains("RESOLUTION"));
}

#[test]
fn discontinuities_are_tagged_and_counted() {
    let push = push_settings(2);
    let mut state = HlsOutputState::new(&plan("_hi"), None);
    for n in 1..=4 {
        let mut s = segment(0, n, 1000);
        s.discontinuity = n == 3;
        s.discontinuity_sequence = u64::from(n > 3);
        state.listed(&s, 2);
    }
    let media = media_playlist(&push, "channel", &state);
    assert!(media.contains("#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n"));
    assert!(media.contains("#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\nchannel_hi_00003.ts"));
    state.listed(&segment(0, 5, 1000), 2);
    let media = media_playlist(&push, "channel", &state);
    assert!(media.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
    assert!(!media.contains("#EXT-X-DISCONTINUITY\n"));
}

#[test]
fn the_target_duration_never_shrinks() {
    let push = push_settings(2);
    let mut state = HlsOutputState::new(&plan("_hi"), None);
    let mut long = segment(0, 1, 1000);
    long.duration = Duration::from_millis(2_880);
    state.listed(&long, 2);
    for n in 2..=4 {
        state.listed(&segment(0, n, 1000), 2);
    }
    let media = media_playlist(&push, "channel", &state);
    assert!(!media.contains("2.880"));
    assert!(media.contains("#EXT-X-TARGETDURATION:3\n"), "{media}");
}

#[test]
fn stems() {
    assert_eq!(file_stem("/in/v2/a/b/channel"), "channel");
    assert_eq!(file_stem("/main"), "main");
}

/// A server answering every PUT with 201; the request lines, in order.
async fn recording_server() -> (String, tokio::task::JoinHandle<Vec<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authority = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let mut lines = Vec::new();
        while let Ok(Ok((mut s, _))) =
            tokio::time::timeout(Duration::from_millis(500), listener.accept()).await
        {
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = s.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .unwrap()
                        .parse()
                        .unwrap();
                    if got.len() >= head_end + 4 + length {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&got);
            lines.push(text.lines().next().unwrap().to_owned());
            s.write_all(b"HTTP/1.1 201 Created\r\n\r\n").await.unwrap();
        }
        lines
    });
    (authority, server)
}

#[tokio::test]
async fn puts_segment_then_media_playlist_then_main_playlist() {
    let (authority, server) = recording_server().await;
    let mut push = push_settings(2);
    push.target.authority = authority;
    let state = vec![
        HlsOutputState::new(&plan("_hi"), None),
        HlsOutputState::new(&plan("_lo"), None),
    ];
    let stats = Arc::new(DeliveryStats::default());
    let (tx, rx) = mpsc::channel(QUEUE);
    let task = tokio::spawn(put_task(push, state, rx, stats.clone()));
    for s in [segment(0, 1, 188), segment(1, 1, 188), segment(0, 2, 376)] {
        tx.send(s).await.unwrap();
    }
    drop(tx);
    task.await.unwrap();
    let lines = server.await.unwrap();
    assert_eq!(
        lines,
        vec![
            "PUT /in/channel_hi_00001.ts HTTP/1.1",
            "PUT /in/channel_hi.m3u8 HTTP/1.1",
            // The main playlist once every output has a segment.
            "PUT /in/channel_lo_00001.ts HTTP/1.1",
            "PUT /in/channel_lo.m3u8 HTTP/1.1",
            "PUT /in/channel.m3u8 HTTP/1.1",
            // Again when the bandwidths change.
            "PUT /in/channel_hi_00002.ts HTTP/1.1",
            "PUT /in/channel_hi.m3u8 HTTP/1.1",
            "PUT /in/channel.m3u8 HTTP/1.1",
        ]
    );
    assert_eq!(stats.hls_failed.load(Ordering::Relaxed), 0);
}
