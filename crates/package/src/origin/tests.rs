//! Unit tests of the origin store: re-cutting, failover, variants and their
//! alignment, selection, I-frame playlists, retention.

use super::*;
use media::pes::PesAssembler;
use media::ts::{TsPacket, PACKET_SIZE};

#[test]
fn stream_keys() {
    assert_eq!(stream_key("channel12.ts"), "channel");
    assert_eq!(stream_key("v0/seg_3.ts"), "v0/seg_");
}

#[test]
fn origin_files() {
    let f = |s| Origin::parse_file("index", s);
    assert_eq!(f("index.m3u8"), Some(OriginFile::Multivariant));
    assert_eq!(f("index_1.m3u8"), Some(OriginFile::Media(1)));
    assert_eq!(f("index_12.m3u8"), Some(OriginFile::Media(12)));
    assert_eq!(f("index_2_iframe.m3u8"), Some(OriginFile::IFrames(2)));
    assert_eq!(f("index_1_42.ts"), Some(OriginFile::Segment(1, 42)));
    assert_eq!(f("index_3_0.ts"), Some(OriginFile::Segment(3, 0)));
    assert_eq!(f("index_0.m3u8"), None);
    assert_eq!(f("index_99.m3u8"), None);
    assert_eq!(f("index_1_.ts"), None);
    assert_eq!(f("index_1_-1.ts"), None);
    assert_eq!(f("index_1_99999999999999999999.ts"), None);
    assert_eq!(f("index_1_2_3.ts"), None);
    assert_eq!(f("other.m3u8"), None);
}

#[test]
fn natural_order() {
    let mut v = vec![
        "channel_10_",
        "channel_2_",
        "channel_1_",
        "10/in-process",
        "2/in-process",
        "0/in-process",
    ];
    v.sort_by(|a, b| natural_cmp(a, b));
    assert_eq!(
        v,
        [
            "0/in-process",
            "2/in-process",
            "10/in-process",
            "channel_1_",
            "channel_2_",
            "channel_10_"
        ]
    );
    assert_eq!(natural_cmp("a007", "a7"), Ordering::Equal);
}

use super::test_stream as stream;

const SECOND: Duration = Duration::from_secs(1);

fn at(secs: u64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

/// `secs` seconds of synthetic stream (IDR every second) cut into 2 s encoder
/// segments, as ffmpeg `-hls_time 2` would PUT them.
fn encoder_segments(secs: u64) -> Vec<Vec<u8>> {
    let per_segment = 50; // frames
    (0..secs / 2)
        .map(|i| {
            // Each chunk is its own program run starting where the last ended.
            let start = 90_000 + i * per_segment * stream::FRAME;
            stream::program(per_segment, start, |f| f % 25 == 0)
        })
        .collect()
}

fn endpoint(segment_secs: u64, window_secs: u64) -> EndpointConfig {
    EndpointConfig {
        window: SECOND * u32::try_from(window_secs).unwrap(),
        ..EndpointConfig::new("ep", "index", SECOND * u32::try_from(segment_secs).unwrap())
    }
}

fn media_sequence(playlist: &str) -> u64 {
    playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .unwrap()
        .parse()
        .unwrap()
}

fn extinfs(playlist: &str) -> Vec<f64> {
    playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|l| l.trim_end_matches(',').parse().unwrap())
        .collect()
}

#[test]
fn in_process_ts_is_packaged_like_pushed_segments() {
    let mut origin = Origin::default();
    let eps = [endpoint(2, 60)];
    for (i, chunk) in encoder_segments(12).iter().enumerate() {
        let t = 2 * u64::try_from(i).unwrap();
        assert_eq!(
            origin.ingest_ts("ch", "medialive", "0", chunk, &eps, at(t)),
            Ingested::Segment
        );
    }
    let playlist = origin.media_playlist("ch", "ep", 1, at(12)).unwrap().0;
    assert!(extinfs(&playlist).len() >= 4, "{playlist}");
    assert!(origin.segment("ch", "ep", 1, 0, at(12)).is_some());
}

#[test]
fn recuts_at_the_endpoint_duration_and_bounds_retention() {
    let mut origin = Origin::default();
    let eps = [endpoint(4, 12)];
    let mut t = 0;
    for (i, seg) in encoder_segments(60).iter().enumerate() {
        let name = format!("channel{i}.ts");
        assert_eq!(
            origin.ingest("ch", "a", &name, seg, &eps, at(t)),
            Ingested::Segment
        );
        let playlist = format!("#EXTM3U\n#EXTINF:2.0,\nchannel{i}.ts\n");
        assert_eq!(
            origin.ingest("ch", "a", "channel.m3u8", playlist.as_bytes(), &eps, at(t)),
            Ingested::Playlist
        );
        t += 2;
    }
    let (playlist, target) = origin.media_playlist("ch", "ep", 1, at(t)).unwrap();
    assert_eq!(target, 4);
    let durations = extinfs(&playlist);
    assert!(durations.len() >= 3 && durations.len() <= 4, "{playlist}");
    assert!(
        durations.iter().all(|d| (*d - 4.0).abs() < 0.01),
        "{playlist}"
    );
    assert!(playlist.contains("#EXT-X-TARGETDURATION:4\n"));
    let first = media_sequence(&playlist);
    assert!(first > 0, "{playlist}");
    assert!(playlist.contains(&format!("\nindex_1_{first}.ts\n")));
    // Retention is the window: the first segments are gone, listed ones are served.
    assert!(origin.segment("ch", "ep", 1, 0, at(t)).is_none());
    assert!(origin
        .segment("ch", "ep", 1, first, at(t))
        .is_some_and(|b| b.len() % 188 == 0));
    assert!(origin.segment("ch", "ep", 1, first + 100, at(t)).is_none());
    // Unknown endpoint or channel.
    assert!(origin.media_playlist("ch", "other", 1, at(t)).is_none());
    let all = ServeOptions::default();
    assert!(origin.multivariant("nope", "ep", &all, at(t)).is_none());

    let master = origin.multivariant("ch", "ep", &all, at(t)).unwrap().0;
    assert!(master.contains("BANDWIDTH="), "{master}");
    assert!(master.contains("AVERAGE-BANDWIDTH="), "{master}");
    assert!(
        master.contains("CODECS=\"avc1.64001F,mp4a.40.2\""),
        "{master}"
    );
    assert!(master.ends_with("\nindex_1.m3u8\n"), "{master}");
}

#[test]
fn endlist_flushes_the_last_segment() {
    let mut origin = Origin::default();
    let eps = [endpoint(2, 60)];
    for (i, seg) in encoder_segments(10).iter().enumerate() {
        origin.ingest("ch", "a", &format!("channel{i}.ts"), seg, &eps, at(0));
    }
    let before = extinfs(&origin.media_playlist("ch", "ep", 1, at(0)).unwrap().0).len();
    let end = "#EXTM3U\n#EXTINF:2.0,\nchannel4.ts\n#EXT-X-ENDLIST\n";
    origin.ingest("ch", "a", "channel.m3u8", end.as_bytes(), &eps, at(0));
    let after = extinfs(&origin.media_playlist("ch", "ep", 1, at(0)).unwrap().0);
    assert_eq!(after.len(), before + 1);
    let total: f64 = after.iter().sum();
    assert!((total - 10.0).abs() < 0.01, "{after:?}");
}

#[test]
fn endlist_before_its_last_segment_flushes_when_that_segment_arrives() {
    let mut origin = Origin::default();
    let eps = [endpoint(2, 60)];
    let segs = encoder_segments(10);
    for (i, seg) in segs.iter().enumerate().take(4) {
        origin.ingest("ch", "a", &format!("channel{i}.ts"), seg, &eps, at(0));
    }
    let end = "#EXTM3U\n#EXTINF:2.0,\nchannel4.ts\n#EXT-X-ENDLIST\n";
    origin.ingest("ch", "a", "channel.m3u8", end.as_bytes(), &eps, at(0));
    let before = extinfs(&origin.media_playlist("ch", "ep", 1, at(0)).unwrap().0).len();
    origin.ingest("ch", "a", "channel4.ts", &segs[4], &eps, at(0));
    let after = extinfs(&origin.media_playlist("ch", "ep", 1, at(0)).unwrap().0);
    assert_eq!(after.len(), before + 2, "{after:?}");
}

#[test]
fn standby_ingest_is_ignored_while_the_active_one_is_fresh() {
    let mut origin = Origin::default();
    let eps = [endpoint(2, 60)];
    let segs = encoder_segments(40);
    assert_eq!(
        origin.ingest("ch", "a", "channel0.ts", &segs[0], &eps, at(0)),
        Ingested::Segment
    );
    assert!(matches!(
        origin.ingest("ch", "b", "channel0.ts", &segs[0], &eps, at(1)),
        Ingested::Ignored(_)
    ));
    assert!(matches!(
        origin.ingest("ch", "b", "channel.m3u8", b"#EXTM3U\n", &eps, at(1)),
        Ingested::Ignored(_)
    ));
    // Another variant of the same push is its own stream, not mixed in.
    assert_eq!(
        origin.ingest("ch", "a", "channel_1_0.ts", &segs[1], &eps, at(2)),
        Ingested::Segment
    );
    for i in 1..5 {
        assert_eq!(
            origin.ingest(
                "ch",
                "a",
                &format!("channel{i}.ts"),
                &segs[i],
                &eps,
                at(2 * i as u64)
            ),
            Ingested::Segment
        );
    }
    // `a` stops; `b` takes over once `a` is stale.
    assert!(matches!(
        origin.ingest("ch", "b", "channel5.ts", &segs[5], &eps, at(12)),
        Ingested::Ignored(_)
    ));
    let later = 8 + INGEST_STALE_AFTER.as_secs();
    for i in 5..10 {
        assert_eq!(
            origin.ingest(
                "ch",
                "b",
                &format!("channel{i}.ts"),
                &segs[i],
                &eps,
                at(later + i as u64)
            ),
            Ingested::Segment
        );
    }
    let (playlist, _) = origin.media_playlist("ch", "ep", 1, at(40)).unwrap();
    assert!(playlist.contains("#EXT-X-DISCONTINUITY\n"), "{playlist}");
    // Now `a` is the standby.
    assert!(matches!(
        origin.ingest("ch", "a", "channel5.ts", &segs[5], &eps, at(later + 10)),
        Ingested::Ignored(_)
    ));
}

#[test]
fn time_delay_holds_segments_back() {
    let mut origin = Origin::default();
    let eps = [EndpointConfig {
        time_delay: SECOND * 20,
        ..endpoint(2, 60)
    }];
    for (i, seg) in encoder_segments(10).iter().enumerate() {
        origin.ingest(
            "ch",
            "a",
            &format!("channel{i}.ts"),
            seg,
            &eps,
            at(2 * i as u64),
        );
    }
    assert!(origin.media_playlist("ch", "ep", 1, at(10)).is_none());
    assert!(origin.segment("ch", "ep", 1, 0, at(10)).is_none());
    let (playlist, _) = origin.media_playlist("ch", "ep", 1, at(24)).unwrap();
    assert!(!extinfs(&playlist).is_empty());
    let shown_late = extinfs(&origin.media_playlist("ch", "ep", 1, at(60)).unwrap().0).len();
    assert!(shown_late > extinfs(&playlist).len());
}

#[test]
fn changed_endpoint_restarts_and_removed_endpoint_goes() {
    let mut origin = Origin::default();
    let segs = encoder_segments(20);
    let eps = [endpoint(2, 60)];
    for i in 0..4 {
        origin.ingest(
            "ch",
            "a",
            &format!("channel{i}.ts"),
            &segs[i],
            &eps,
            at(2 * i as u64),
        );
    }
    assert!(origin.media_playlist("ch", "ep", 1, at(8)).is_some());
    origin.ingest("ch", "a", "channel4.ts", &segs[4], &[], at(8));
    assert!(origin.media_playlist("ch", "ep", 1, at(8)).is_none());
    origin.retain_channels(&[]);
    assert!(origin.channels.is_empty());
}

/// `secs` seconds of two renditions of one picture (IDR every second), in 2 s
/// chunks: (small, large).
fn two_renditions(secs: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    let per = 50;
    (0..secs / 2)
        .map(|i| {
            let start = 90_000 + i * per * stream::FRAME;
            (
                stream::program_sized(per, start, |f| f % 25 == 0, 300),
                stream::program_sized(per, start, |f| f % 25 == 0, 3000),
            )
        })
        .collect()
}

/// PTS of the first video PES of a segment.
fn first_pts(ts: &[u8]) -> u64 {
    let mut asm = PesAssembler::new();
    for p in ts.chunks(PACKET_SIZE) {
        let p = TsPacket::parse(p).unwrap();
        if p.header.pid == stream::VIDEO_PID {
            asm.push(p.header.pusi, p.payload.unwrap_or(&[]));
            if let Some(pes) = asm.pop() {
                return pes.header.pts.unwrap().value();
            }
        }
    }
    asm.flush();
    asm.pop().unwrap().header.pts.unwrap().value()
}

fn uris(playlist: &str) -> Vec<&str> {
    playlist
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

fn feed_two(origin: &mut Origin, eps: &[EndpointConfig], chunks: &[(Vec<u8>, Vec<u8>)], from: u64) {
    for (i, (small, large)) in chunks.iter().enumerate() {
        let t = at(from + 2 * i as u64);
        // Alternate which rendition's chunk comes first.
        if i % 2 == 0 {
            origin.ingest_ts("ch", "medialive", "0", large, eps, t);
            origin.ingest_ts("ch", "medialive", "1", small, eps, t);
        } else {
            origin.ingest_ts("ch", "medialive", "1", small, eps, t);
            origin.ingest_ts("ch", "medialive", "0", large, eps, t);
        }
    }
}

#[test]
fn every_stream_is_an_aligned_variant() {
    let mut origin = Origin::default();
    let eps = [endpoint(2, 60)];
    feed_two(&mut origin, &eps, &two_renditions(20), 0);
    let options = ServeOptions {
        iframes: true,
        ..ServeOptions::default()
    };
    let (master, target) = origin.multivariant("ch", "ep", &options, at(20)).unwrap();
    assert_eq!(target, 2);
    assert_eq!(uris(&master), ["index_1.m3u8", "index_2.m3u8"], "{master}");
    assert_eq!(master.matches("FRAME-RATE=25.000").count(), 2, "{master}");
    assert!(master.contains("URI=\"index_1_iframe.m3u8\""), "{master}");
    assert!(master.contains("URI=\"index_2_iframe.m3u8\""), "{master}");
    let one = origin.media_playlist("ch", "ep", 1, at(20)).unwrap().0;
    let two = origin.media_playlist("ch", "ep", 2, at(20)).unwrap().0;
    assert!(
        uris(&one).iter().all(|u| u.starts_with("index_1_")),
        "{one}"
    );
    assert_eq!(media_sequence(&one), media_sequence(&two));
    assert_eq!(extinfs(&one), extinfs(&two));
    let first = media_sequence(&one);
    for seq in first..first + extinfs(&one).len() as u64 {
        let a = origin.segment("ch", "ep", 1, seq, at(20)).unwrap();
        let b = origin.segment("ch", "ep", 2, seq, at(20)).unwrap();
        assert!(a.len() > b.len());
        assert_eq!(first_pts(&a), first_pts(&b), "segment {seq}");
    }
    assert!(origin.media_playlist("ch", "ep", 3, at(20)).is_none());
    assert!(origin.segment("ch", "ep", 3, first, at(20)).is_none());
}

#[test]
fn playlist_snapshots() {
    let mut origin = Origin::default();
    let eps = [endpoint(2, 60)];
    feed_two(&mut origin, &eps, &two_renditions(12), 0);
    let options = ServeOptions {
        iframes: true,
        ..ServeOptions::default()
    };
    let (master, _) = origin.multivariant("ch", "ep", &options, at(12)).unwrap();
    insta::assert_snapshot!("multivariant_two_variants_iframes", master);
    let (iframes, _) = origin.iframe_playlist("ch", "ep", 2, at(12)).unwrap();
    insta::assert_snapshot!("iframe_playlist", iframes);
    // Each entry's byte range is PAT, PMT and exactly one video access unit, an IDR.
    let first = media_sequence(&iframes);
    let len: usize = iframes
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-BYTERANGE:"))
        .and_then(|r| r.strip_suffix("@0"))
        .unwrap()
        .parse()
        .unwrap();
    let seg = origin.segment("ch", "ep", 2, first, at(12)).unwrap();
    let head = &seg[..len];
    let packets: Vec<TsPacket> = head
        .chunks(PACKET_SIZE)
        .map(|p| TsPacket::parse(p).unwrap())
        .collect();
    assert_eq!(packets[0].header.pid, Pid::PAT);
    assert_eq!(packets[1].header.pid, stream::PMT_PID);
    let mut asm = PesAssembler::new();
    for p in packets.iter().filter(|p| p.header.pid == stream::VIDEO_PID) {
        asm.push(p.header.pusi, p.payload.unwrap());
    }
    asm.flush();
    assert!(h264::is_idr(&asm.pop().unwrap().payload));
    assert!(asm.pop().is_none());
    // The next packet of the segment starts the next picture.
    let next = TsPacket::parse(&seg[len..len + PACKET_SIZE]).unwrap();
    assert!(next.header.pid != stream::VIDEO_PID || next.header.pusi);
}

#[test]
fn stream_selection_filters_and_orders() {
    let mut origin = Origin::default();
    let eps = [endpoint(2, 60)];
    feed_two(&mut origin, &eps, &two_renditions(12), 0);
    let mut options = ServeOptions::default();
    let list = |origin: &mut Origin, o: &ServeOptions| {
        origin.multivariant("ch", "ep", o, at(12)).map(|m| {
            uris(&m.0)
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>()
        })
    };
    options.selection.order = StreamOrder::VideoBitrateAscending;
    assert_eq!(
        list(&mut origin, &options).unwrap(),
        ["index_2.m3u8", "index_1.m3u8"]
    );
    options.selection.order = StreamOrder::VideoBitrateDescending;
    assert_eq!(
        list(&mut origin, &options).unwrap(),
        ["index_1.m3u8", "index_2.m3u8"]
    );
    // 300-byte pictures at 25 fps are ~60 kbit/s of video plus TS overhead; 3000-byte ones ~600.
    options.selection.min_video_bits_per_second = 200_000;
    assert_eq!(list(&mut origin, &options).unwrap(), ["index_1.m3u8"]);
    options.selection.min_video_bits_per_second = 0;
    options.selection.max_video_bits_per_second = 200_000;
    assert_eq!(list(&mut origin, &options).unwrap(), ["index_2.m3u8"]);
    options.selection.max_video_bits_per_second = 1;
    assert!(list(&mut origin, &options).is_none());
}

#[test]
fn a_stalled_stream_does_not_hold_the_others_back() {
    let mut origin = Origin::default();
    let eps = [endpoint(2, 60)];
    let chunks = two_renditions(40);
    feed_two(&mut origin, &eps, &chunks[..5], 0);
    // Stream "1" stops; "0" goes on for 30 s.
    for (i, (_, large)) in chunks.iter().enumerate().skip(5) {
        origin.ingest_ts("ch", "medialive", "0", large, &eps, at(2 * i as u64));
    }
    let one = origin.media_playlist("ch", "ep", 1, at(40)).unwrap().0;
    let two = origin.media_playlist("ch", "ep", 2, at(40)).unwrap().0;
    assert!(
        extinfs(&one).len() > extinfs(&two).len() + 10,
        "{one}\n{two}"
    );
    let (master, _) = origin
        .multivariant("ch", "ep", &ServeOptions::default(), at(40))
        .unwrap();
    assert_eq!(uris(&master), ["index_1.m3u8"], "{master}");
    // It comes back: on the grid again, its playlist restarts.
    let more = two_renditions(48);
    feed_two(&mut origin, &eps, &more[20..24], 40);
    let two = origin.media_playlist("ch", "ep", 2, at(48)).unwrap().0;
    let seq = media_sequence(&two);
    assert!(seq > 10, "{two}");
    for seq in seq..seq + extinfs(&two).len() as u64 {
        let a = origin.segment("ch", "ep", 1, seq, at(48)).unwrap();
        let b = origin.segment("ch", "ep", 2, seq, at(48)).unwrap();
        assert_eq!(first_pts(&a), first_pts(&b));
    }
}

#[test]
fn pushed_variants_are_ordered_by_name() {
    let mut origin = Origin::default();
    let eps = [endpoint(2, 60)];
    for (i, (small, large)) in two_renditions(12).iter().enumerate() {
        let t = at(2 * i as u64);
        origin.ingest("ch", "a", &format!("channel_10_{i}.ts"), small, &eps, t);
        origin.ingest("ch", "a", &format!("channel_2_{i}.ts"), large, &eps, t);
    }
    let (master, _) = origin
        .multivariant("ch", "ep", &ServeOptions::default(), at(12))
        .unwrap();
    assert_eq!(uris(&master), ["index_1.m3u8", "index_2.m3u8"]);
    let one = origin.segment("ch", "ep", 1, 1, at(12)).unwrap();
    let two = origin.segment("ch", "ep", 2, 1, at(12)).unwrap();
    // channel_2_ (large pictures) sorts before channel_10_.
    assert!(one.len() > two.len());
}

#[test]
fn event_retention_is_bounded() {
    let mut origin = Origin::with_retention(Retention {
        media: Duration::from_secs(20),
        bytes: usize::MAX,
    });
    let eps = [EndpointConfig {
        playlist_type: PlaylistType::Event,
        ..endpoint(2, 60)
    }];
    feed_two(&mut origin, &eps, &two_renditions(60), 0);
    let one = origin.media_playlist("ch", "ep", 1, at(60)).unwrap().0;
    let two = origin.media_playlist("ch", "ep", 2, at(60)).unwrap().0;
    assert!(one.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n"));
    let total: f64 = extinfs(&one).iter().sum();
    assert!((16.0..=20.0).contains(&total), "{one}");
    assert!(media_sequence(&one) > 0);
    assert_eq!(media_sequence(&one), media_sequence(&two));
    let warnings = origin.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("retention bound"));
    assert!(origin.take_warnings().is_empty());

    // The byte budget too, all variants together.
    let mut origin = Origin::with_retention(Retention {
        media: MAX_RETAINED_MEDIA,
        bytes: 1 << 20,
    });
    feed_two(&mut origin, &eps, &two_renditions(60), 0);
    let bytes: usize = (1..=2)
        .map(|n| {
            let p = origin.media_playlist("ch", "ep", n, at(60)).unwrap().0;
            let first = media_sequence(&p);
            (first..first + extinfs(&p).len() as u64)
                .map(|s| origin.segment("ch", "ep", n, s, at(60)).unwrap().len())
                .sum::<usize>()
        })
        .sum();
    assert!(bytes <= 1 << 20 && bytes > 1 << 19, "{bytes}");
}

#[test]
fn too_many_streams_are_ignored() {
    let mut origin = Origin::default();
    let eps = [endpoint(2, 60)];
    let seg = &encoder_segments(2)[0];
    for i in 0..MAX_STREAMS {
        assert_eq!(
            origin.ingest("ch", "a", &format!("v{i}/s0.ts"), seg, &eps, at(0)),
            Ingested::Segment
        );
    }
    assert!(matches!(
        origin.ingest("ch", "a", "extra/s0.ts", seg, &eps, at(0)),
        Ingested::Ignored(_)
    ));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn random_ingest_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..6000)) {
        fuzz_origin(&data);
    }
}

#[test]
fn a_stream_sorting_first_that_arrives_late_renumbers_the_others() {
    let mut origin = Origin::default();
    let eps = [endpoint(2, 60)];
    let chunks = two_renditions(12);
    for (i, (small, _)) in chunks.iter().enumerate().take(3) {
        origin.ingest(
            "ch",
            "a",
            &format!("channel_1_{i}.ts"),
            small,
            &eps,
            at(2 * i as u64),
        );
    }
    let alone = origin.media_playlist("ch", "ep", 1, at(6)).unwrap().0;
    assert!(
        uris(&alone).iter().all(|u| u.starts_with("index_1_")),
        "{alone}"
    );
    for (i, (small, large)) in chunks.iter().enumerate().skip(3) {
        let t = at(2 * i as u64);
        origin.ingest("ch", "a", &format!("channel_0_{i}.ts"), large, &eps, t);
        origin.ingest("ch", "a", &format!("channel_1_{i}.ts"), small, &eps, t);
    }
    // channel_1_ is variant 2 now, and its playlist names its segments so.
    let two = origin.media_playlist("ch", "ep", 2, at(12)).unwrap().0;
    assert!(
        uris(&two).iter().all(|u| u.starts_with("index_2_")),
        "{two}"
    );
    let seq = media_sequence(&two);
    let small = origin.segment("ch", "ep", 2, seq, at(12)).unwrap();
    let one = origin.media_playlist("ch", "ep", 1, at(12)).unwrap().0;
    assert!(
        uris(&one).iter().all(|u| u.starts_with("index_1_")),
        "{one}"
    );
    let large = origin
        .segment("ch", "ep", 1, media_sequence(&one), at(12))
        .unwrap();
    assert!(large.len() > small.len());
}

/// Two renditions of `secs` seconds starting at `start` PTS, in 2 s chunks.
fn two_renditions_from(secs: u64, start: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    let per = 50;
    (0..secs / 2)
        .map(|i| {
            let pts = start + i * per * stream::FRAME;
            (
                stream::program_sized(per, pts, |f| f % 25 == 0, 300),
                stream::program_sized(per, pts, |f| f % 25 == 0, 3000),
            )
        })
        .collect()
}

#[test]
fn one_rendition_restarting_alone_does_not_strand_the_other() {
    let mut origin = Origin::default();
    let eps = [endpoint(2, 60)];
    feed_two(&mut origin, &eps, &two_renditions(10), 0);
    // Stream "1" restarts with unrelated timestamps; "0" goes on. Whichever is
    // first in each round, "0" keeps being packaged.
    let later = two_renditions(40);
    let restarted = two_renditions_from(30, 50_000_000);
    for i in 5..15 {
        let t = at(2 * i as u64);
        let (small, _) = &restarted[i - 5];
        let (_, large) = &later[i];
        if i % 2 == 0 {
            origin.ingest_ts("ch", "medialive", "1", small, &eps, t);
            origin.ingest_ts("ch", "medialive", "0", large, &eps, t);
        } else {
            origin.ingest_ts("ch", "medialive", "0", large, &eps, t);
            origin.ingest_ts("ch", "medialive", "1", small, &eps, t);
        }
    }
    let one = origin.media_playlist("ch", "ep", 1, at(30)).unwrap().0;
    assert!(extinfs(&one).len() >= 12, "{one}");
    assert!(!one.contains("DISCONTINUITY\n"), "{one}");
    // The restarted one, still delivering but placed nowhere, is not listed.
    let (master, _) = origin
        .multivariant("ch", "ep", &ServeOptions::default(), at(30))
        .unwrap();
    assert_eq!(uris(&master), ["index_1.m3u8"], "{master}");
}

#[test]
fn every_rendition_restarting_opens_one_new_timeline() {
    let mut origin = Origin::default();
    let eps = [endpoint(2, 60)];
    feed_two(&mut origin, &eps, &two_renditions(10), 0);
    feed_two(&mut origin, &eps, &two_renditions_from(10, 50_000_000), 10);
    let one = origin.media_playlist("ch", "ep", 1, at(20)).unwrap().0;
    let two = origin.media_playlist("ch", "ep", 2, at(20)).unwrap().0;
    assert_eq!(one.matches("#EXT-X-DISCONTINUITY\n").count(), 1, "{one}");
    assert_eq!(media_sequence(&one), media_sequence(&two));
    assert_eq!(extinfs(&one), extinfs(&two));
    let first = media_sequence(&one);
    for seq in first..first + extinfs(&one).len() as u64 {
        let a = origin.segment("ch", "ep", 1, seq, at(20)).unwrap();
        let b = origin.segment("ch", "ep", 2, seq, at(20)).unwrap();
        assert_eq!(first_pts(&a), first_pts(&b), "segment {seq}");
    }
}

/// A store with channels "a" and "b", each fed 12 s of one rendition.
fn two_channel_store() -> (OriginStore, [EndpointConfig; 1]) {
    let store = OriginStore::default();
    let eps = [endpoint(2, 60)];
    for (i, chunk) in encoder_segments(12).iter().enumerate() {
        let t = at(2 * i as u64);
        for ch in ["a", "b"] {
            let (outcome, _) = store.ingest_ts(ch, "medialive", "0", chunk, &eps, t);
            assert_eq!(outcome, Ingested::Segment);
        }
    }
    (store, eps)
}

#[test]
fn a_held_channel_does_not_block_another() {
    let (store, eps) = two_channel_store();
    let options = ServeOptions::default();
    let a = store.channel("a").unwrap();
    let held = lock_channel(&a);
    // With channel "a" locked (a long ingest, say), "b" serves and ingests on
    // another thread; a global lock would never answer.
    let (tx, rx) = std::sync::mpsc::channel();
    let other = store.clone();
    let more = encoder_segments(14).pop().unwrap();
    std::thread::spawn(move || {
        let playlist = other.serve("b", "ep", OriginFile::Media(1), &options, at(12));
        let segment = other.serve("b", "ep", OriginFile::Segment(1, 1), &options, at(12));
        let ingested = other
            .ingest_ts("b", "medialive", "0", &more, &eps, at(12))
            .0;
        let _ = tx.send((playlist.is_some(), segment.is_some(), ingested));
    });
    let answer = rx.recv_timeout(Duration::from_secs(10));
    drop(held);
    assert_eq!(answer, Ok((true, true, Ingested::Segment)));
    // And "a" serves again once released.
    assert!(store
        .serve("a", "ep", OriginFile::Media(1), &options, at(12))
        .is_some());
}

#[test]
fn etags_are_computed_when_stored_and_stable() {
    let (store, eps) = two_channel_store();
    let options = ServeOptions::default();
    let get = |file| store.serve("a", "ep", file, &options, at(12)).unwrap();
    let segment = get(OriginFile::Segment(1, 1));
    assert_eq!(segment.etag, etag(&segment.body.to_bytes()));
    assert_eq!(segment.etag.len(), 34);
    assert_eq!(segment.target_duration, 0);
    // The same bytes and tag every time: shared, not copied or hashed again.
    let again = get(OriginFile::Segment(1, 1));
    assert_eq!(again, segment);
    assert_eq!(again.etag.as_ptr(), segment.etag.as_ptr());
    assert!(again.body.shares(&segment.body));
    // Playlists are rendered once per change of the channel.
    let playlist = get(OriginFile::Media(1));
    assert_eq!(playlist.etag, etag(&playlist.body.to_bytes()));
    assert_eq!(playlist.target_duration, 2);
    let cached = get(OriginFile::Media(1));
    assert!(cached.body.shares(&playlist.body));
    let master = get(OriginFile::Multivariant);
    assert!(get(OriginFile::Multivariant).body.shares(&master.body));
    let more = encoder_segments(16);
    for (i, chunk) in more.iter().skip(6).enumerate() {
        store.ingest_ts("a", "medialive", "0", chunk, &eps, at(12 + 2 * i as u64));
    }
    let changed = store
        .serve("a", "ep", OriginFile::Media(1), &options, at(16))
        .unwrap();
    assert_ne!(changed.body, playlist.body);
    assert_ne!(changed.etag, playlist.etag);
    // The stored segment's tag did not change.
    let segment_later = store
        .serve("a", "ep", OriginFile::Segment(1, 1), &options, at(16))
        .unwrap();
    assert_eq!(segment_later.etag, segment.etag);
    // A rendition computes the tag as it stores the segment.
    let mut origin = Origin::default();
    for (i, chunk) in encoder_segments(6).iter().enumerate() {
        origin.ingest_ts("ch", "m", "0", chunk, &eps, at(2 * i as u64));
    }
    let channel = origin.channels.get("ch").unwrap();
    let rendition = &channel.channel.endpoints["ep"].variants["0/in-process"].rendition;
    for stored in rendition.segments() {
        assert_eq!(stored.etag, etag(&stored.data.to_bytes()));
    }
}

#[test]
fn the_delay_queue_is_within_the_retention_bound() {
    let bound = 1 << 18;
    let mut origin = Origin::with_retention(Retention {
        media: Duration::from_secs(20),
        bytes: bound,
    });
    let eps = [EndpointConfig {
        time_delay: SECOND * 3600,
        ..endpoint(2, 60)
    }];
    let segments = encoder_segments(120);
    let mut peak = 0;
    for (i, seg) in segments.iter().enumerate() {
        let t = at(2 * i as u64);
        origin.ingest("ch", "a", &format!("channel{i}.ts"), seg, &eps, t);
        peak = peak.max(origin.retained_bytes());
        let channel = origin.channels.get("ch").unwrap();
        let variant = &channel.channel.endpoints["ep"].variants["channel"];
        assert!(variant.delayed_media <= Duration::from_secs(20) + SECOND * 2);
    }
    assert!(peak <= bound, "{peak} > {bound}");
    assert!(peak > bound / 2, "{peak}");
    // Nothing is due for an hour: nothing is listed, and a warning says why.
    assert!(origin.media_playlist("ch", "ep", 1, at(240)).is_none());
    let warnings = origin.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("timeDelaySeconds"), "{warnings:?}");
    // The media bound too, with bytes to spare.
    let mut origin = Origin::with_retention(Retention {
        media: Duration::from_secs(10),
        bytes: usize::MAX,
    });
    for (i, seg) in segments.iter().enumerate() {
        origin.ingest(
            "ch",
            "a",
            &format!("channel{i}.ts"),
            seg,
            &eps,
            at(2 * i as u64),
        );
    }
    let channel = origin.channels.get("ch").unwrap();
    let variant = &channel.channel.endpoints["ep"].variants["channel"];
    assert!(
        variant.media() <= Duration::from_secs(10),
        "{:?}",
        variant.media()
    );
    assert!(
        variant.media() >= Duration::from_secs(6),
        "{:?}",
        variant.media()
    );
}

#[test]
fn a_short_delay_still_serves_within_the_bound() {
    let mut origin = Origin::with_retention(Retention {
        media: Duration::from_secs(30),
        bytes: usize::MAX,
    });
    let eps = [EndpointConfig {
        time_delay: SECOND * 10,
        ..endpoint(2, 60)
    }];
    for (i, seg) in encoder_segments(80).iter().enumerate() {
        origin.ingest(
            "ch",
            "a",
            &format!("channel{i}.ts"),
            seg,
            &eps,
            at(2 * i as u64),
        );
    }
    let playlist = origin.media_playlist("ch", "ep", 1, at(80)).unwrap().0;
    let total: f64 = extinfs(&playlist).iter().sum();
    assert!((8.0..=26.0).contains(&total), "{playlist}");
    assert!(!playlist.contains("#EXT-X-DISCONTINUITY\n"), "{playlist}");
}

#[test]
fn deleted_channels_and_endpoints_free_their_memory_at_once() {
    let (store, eps) = two_channel_store();
    assert!(store.retained_bytes() > 0);
    let a_bytes = lock_channel(&store.channel("a").unwrap()).retained_bytes();
    // Endpoint "ep" of "b" is deleted; channel "a" is deleted.
    let weak_a = Arc::downgrade(&store.channel("a").unwrap());
    store.sync(&[("b".to_owned(), Vec::new())]);
    assert!(weak_a.upgrade().is_none(), "channel a is still in memory");
    assert!(!store.has_channel("a"));
    assert!(store.has_channel("b"));
    assert_eq!(store.retained_bytes(), 0);
    assert!(a_bytes > 0);
    let options = ServeOptions::default();
    assert!(store
        .serve("b", "ep", OriginFile::Media(1), &options, at(12))
        .is_none());
    // sync creates nothing; an ingest with the endpoint brings it back.
    store.sync(&[
        ("a".to_owned(), eps.to_vec()),
        ("b".to_owned(), eps.to_vec()),
    ]);
    assert!(!store.has_channel("a"));
    let chunk = &encoder_segments(2)[0];
    store.ingest_ts("b", "medialive", "0", chunk, &eps, at(14));
    assert!(store.retained_bytes() > 0 || store.has_channel("b"));
    assert!(store.remove_channel("b"));
    assert_eq!(store.channel_ids(), Vec::<String>::new());
    // A changed endpoint starts again empty.
    let mut channel = ChannelOrigin::default();
    for (i, seg) in encoder_segments(8).iter().enumerate() {
        channel.ingest_ts("m", "0", seg, &eps, at(2 * i as u64));
    }
    assert!(channel.retained_bytes() > 0);
    let changed = [EndpointConfig {
        window: SECOND * 30,
        ..eps[0].clone()
    }];
    channel.configure(&changed);
    assert_eq!(channel.retained_bytes(), 0);
}
