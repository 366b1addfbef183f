//! Renditions of one endpoint cut on one grid: segment N of every rendition starts at
//! the same PTS whatever order their chunks arrive in, whatever their chunking, and
//! whenever a rendition joins.

use std::collections::BTreeMap;
use std::time::Duration;

use package::grid::CutGrid;
use package::segmenter::{Segmenter, SegmenterConfig};
use proptest::prelude::*;

use super::stream::{program_sized, FRAME};

/// Sequence number → start PTS of what one segmenter cut.
type Map = BTreeMap<u64, i64>;

/// Feeds `renditions` (bytes, chunk size, first chunk fed) to segmenters sharing one
/// grid, in the order `order` picks (then round-robin), and returns each one's map.
fn cut(renditions: &[(Vec<u8>, usize, usize)], order: &[usize], target: Duration) -> Vec<Map> {
    let mut grid = CutGrid::new(target);
    let mut segmenters: Vec<Segmenter> = renditions
        .iter()
        .map(|_| Segmenter::new(SegmenterConfig::new(target)).unwrap())
        .collect();
    let mut chunks: Vec<std::iter::Skip<std::slice::Chunks<u8>>> = renditions
        .iter()
        .map(|(data, size, skip)| data.chunks(*size).skip(*skip))
        .collect();
    let mut maps = vec![Map::new(); renditions.len()];
    let mut feed = |r: usize, chunks: &mut Vec<std::iter::Skip<std::slice::Chunks<u8>>>| {
        let Some(chunk) = chunks[r].next() else {
            return false;
        };
        segmenters[r].push_on(chunk, &mut grid);
        while let Some(s) = segmenters[r].poll_segment() {
            // A segmenter's sequence numbers only grow.
            assert!(maps[r].keys().next_back().is_none_or(|l| *l < s.sequence));
            maps[r].insert(s.sequence, s.start_pts);
        }
        true
    };
    for &r in order {
        feed(r % renditions.len(), &mut chunks);
    }
    loop {
        let mut any = false;
        for r in 0..renditions.len() {
            any |= feed(r, &mut chunks);
        }
        if !any {
            break;
        }
    }
    for (r, s) in segmenters.iter_mut().enumerate() {
        s.flush_on(&mut grid);
        while let Some(seg) = s.poll_segment() {
            maps[r].insert(seg.sequence, seg.start_pts);
        }
    }
    maps
}

fn gop_stream(gops: &[u64], size: usize) -> Vec<u8> {
    let mut idrs = Vec::new();
    let mut frame = 0;
    for g in gops {
        idrs.push(frame);
        frame += g;
    }
    program_sized(frame, 900_000, |f| idrs.contains(&f), size)
}

#[test]
fn two_renditions_fed_one_after_the_other_cut_alike() {
    let gops = [25; 12];
    let a = gop_stream(&gops, 1500);
    let b = gop_stream(&gops, 300);
    let target = Duration::from_secs(2);
    // All of `a` first, then all of `b`; and the other way round.
    let maps = cut(
        &[(a.clone(), 1316, 0), (b.clone(), 188 * 3, 0)],
        &[0; 10_000],
        target,
    );
    assert_eq!(maps[0], maps[1]);
    assert_eq!(maps[0].len(), 6);
    assert!(maps[0]
        .iter()
        .all(|(seq, pts)| *pts == 900_000 + *seq as i64 * 50 * FRAME as i64));
    let swapped = cut(&[(a, 1316, 0), (b, 188 * 3, 0)], &[1; 10_000], target);
    assert_eq!(swapped, maps);
}

#[test]
fn a_late_rendition_joins_on_the_grid() {
    let gops = [25; 12];
    let a = gop_stream(&gops, 700);
    let b = gop_stream(&gops, 700);
    let target = Duration::from_secs(2);
    // `b` joins after about 3.3 s of `a`: its first segment is the next grid cut.
    let skip = b.len() / 1316 * 3 / 10;
    let maps = cut(&[(a, 1316, 0), (b, 1316, skip)], &[0; 10_000], target);
    let first_b = *maps[1].keys().next().unwrap();
    assert!(first_b >= 2, "{maps:?}");
    for (seq, pts) in &maps[1] {
        assert_eq!(maps[0].get(seq), Some(pts), "{maps:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn interleaving_does_not_change_the_cuts(
        gops in prop::collection::vec(1u64..80, 2..14),
        sizes in prop::collection::vec(prop::sample::select(vec![200usize, 700, 1500, 4000]), 2..4),
        chunk_sizes in prop::collection::vec(1usize..3000, 4),
        order in prop::collection::vec(0usize..4, 0..400),
        late in 0usize..40,
        target_secs in 1u64..5,
    ) {
        let target = Duration::from_secs(target_secs);
        let renditions: Vec<(Vec<u8>, usize, usize)> = sizes
            .iter()
            .enumerate()
            .map(|(i, size)| {
                let skip = if i == sizes.len() - 1 { late } else { 0 };
                (gop_stream(&gops, *size), chunk_sizes[i], skip)
            })
            .collect();
        // The reference: one rendition alone, on its own grid.
        let alone = cut(&renditions[..1], &[], target);
        let maps = cut(&renditions, &order, target);
        if late == 0 {
            // Renditions that start together cut exactly as one alone does.
            for (r, map) in maps.iter().enumerate() {
                prop_assert_eq!(map, &alone[0], "rendition {}", r);
            }
        }
        // Whoever joins late, and however far ahead its chunks run, every sequence
        // number means the same PTS in every rendition.
        for a in &maps {
            for b in &maps {
                for (seq, pts) in a {
                    if let Some(other) = b.get(seq) {
                        prop_assert_eq!(pts, other, "sequence {}", seq);
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The source of every rendition restarts with unrelated timestamps: whichever
    /// rendition notices first, they all cut the new timeline alike.
    #[test]
    fn a_restart_of_every_rendition_keeps_them_aligned(
        gops in prop::collection::vec(10u64..60, 2..8),
        sizes in prop::collection::vec(prop::sample::select(vec![200usize, 700, 1500]), 2..4),
        chunk_sizes in prop::collection::vec(188usize..4000, 4),
        order in prop::collection::vec(0usize..4, 0..400),
        restart_pts in 0u64..(1 << 33),
    ) {
        let target = Duration::from_secs(2);
        let renditions: Vec<(Vec<u8>, usize, usize)> = sizes
            .iter()
            .enumerate()
            .map(|(i, size)| {
                let mut data = gop_stream(&gops, *size);
                let frames: u64 = gops.iter().sum();
                let mut idrs = Vec::new();
                let mut f = 0;
                for g in &gops {
                    idrs.push(f);
                    f += g;
                }
                data.extend(program_sized(frames, restart_pts, |f| idrs.contains(&f), *size));
                (data, chunk_sizes[i], 0)
            })
            .collect();
        let alone = cut(&renditions[..1], &[], target);
        let maps = cut(&renditions, &order, target);
        for (r, map) in maps.iter().enumerate() {
            prop_assert_eq!(map, &alone[0], "rendition {}", r);
        }
    }
}

#[test]
fn a_lone_source_restarting_at_its_old_timestamps_is_a_discontinuity() {
    // ffmpeg restarted: its timestamps begin again where they began before.
    let mut data = gop_stream(&[25; 10], 700);
    data.extend(gop_stream(&[25; 10], 700));
    let mut segmenter = Segmenter::new(SegmenterConfig::new(Duration::from_secs(2))).unwrap();
    segmenter.push(&data);
    segmenter.flush();
    let segments: Vec<_> = std::iter::from_fn(|| segmenter.poll_segment()).collect();
    let sequences: Vec<u64> = segments.iter().map(|s| s.sequence).collect();
    assert_eq!(sequences, (0..10).collect::<Vec<_>>());
    let flagged: Vec<u64> = segments
        .iter()
        .filter(|s| s.discontinuity)
        .map(|s| s.sequence)
        .collect();
    assert_eq!(flagged, [5]);
    assert_eq!(segments[5].start_pts, 900_000);
    assert!(segments[6..].iter().all(|s| s.discontinuity_sequence == 1));
}
