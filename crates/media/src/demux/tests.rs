#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use super::*;
use crate::mux::{h264_aac_streams, iso_639_descriptor, TsMuxer};
use crate::psi::{stream_type, Pat, Pmt, PmtStream};
use crate::ts::{write_packet, TsHeader};
use proptest::prelude::*;

const VIDEO: Pid = Pid(0x100);
const AUDIO: Pid = Pid(0x101);

/// A program with H.264 on 0x100 and AAC on 0x101: `n` video access units of 400 bytes
/// (several packets each) and `n` one-packet audio frames, PTS from `start`.
fn stream(n: i64, start: i64) -> Vec<u8> {
    let mut mux = TsMuxer::new(&h264_aac_streams(VIDEO, &[AUDIO]), 0);
    let mut ts = Vec::new();
    for i in 0..n {
        let t = start + i * 3000;
        let video: Vec<u8> = (0..400).map(|b| (b as u8) ^ (i as u8)).collect();
        mux.write(0, t + 3000, t, i == 0, &video, &mut ts).unwrap();
        mux.write(1, t, t, false, &[0xFF, 0xF1, i as u8], &mut ts)
            .unwrap();
    }
    ts
}

/// Every event of `chunks` fed in order, selecting every elementary stream of every PMT.
fn run<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> (Vec<Event>, DemuxStats) {
    let mut d = Demuxer::new();
    let mut events = Vec::new();
    let take = |d: &mut Demuxer, events: &mut Vec<Event>| {
        while let Some(event) = d.poll() {
            if let Event::Pmt { program_number, .. } = event {
                let pids: Vec<Pid> = d
                    .programs()
                    .program(program_number)
                    .map(|p| p.streams().iter().map(|s| s.pid).collect())
                    .unwrap_or_default();
                for pid in pids {
                    d.select(pid);
                }
            }
            events.push(event);
        }
    };
    for chunk in chunks {
        d.push(chunk);
        take(&mut d, &mut events);
    }
    d.flush();
    take(&mut d, &mut events);
    (events, d.stats())
}

fn pes_of(events: &[Event], pid: Pid) -> Vec<Pes> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Pes(p) if p.pid == pid => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn packets(ts: &[u8]) -> Vec<&[u8]> {
    ts.chunks(PACKET_SIZE).collect()
}

#[test]
fn demuxes_a_program_and_unwraps_timestamps() {
    let start = (1i64 << 33) - 6000;
    let ts = stream(5, start);
    let (events, stats) = run([&ts[..]]);
    assert_eq!(
        stats.continuity_errors + stats.skipped_bytes + stats.pes_errors,
        0
    );
    assert!(matches!(events[0], Event::Pat { changed: true }));
    let video = pes_of(&events, VIDEO);
    assert_eq!(video.len(), 5);
    let dts: Vec<i64> = video.iter().map(|p| p.dts.unwrap()).collect();
    assert_eq!(dts, (0..5).map(|i| start + i * 3000).collect::<Vec<_>>());
    assert_eq!(video[4].pts, Some(start + 15000));
    assert_eq!(video[0].stream_type, Some(stream_type::H264));
    assert_eq!(video[0].stream_id, 0xE0);
    assert_eq!(video[1].payload[0], 1);
    let audio = pes_of(&events, AUDIO);
    assert_eq!(audio.len(), 5);
    assert_eq!(audio[2].payload, [0xFF, 0xF1, 2]);
    assert_eq!(audio[2].dts, None);
    assert_eq!(audio[2].decode_time(), Some(start + 6000));
}

#[test]
fn a_duplicate_packet_is_dropped_not_assembled_twice() {
    let ts = stream(3, 0);
    let mut dup = Vec::new();
    for p in packets(&ts) {
        dup.extend_from_slice(p);
        let parsed = TsPacket::parse(p).unwrap();
        // Repeat a middle packet of the video PES and an audio packet.
        if (parsed.header.pid == VIDEO && !parsed.header.pusi) || parsed.header.pid == AUDIO {
            dup.extend_from_slice(p);
        }
    }
    let (clean, _) = run([&ts[..]]);
    let (events, stats) = run([&dup[..]]);
    assert!(stats.duplicates >= 4);
    assert_eq!(stats.continuity_errors, 0);
    assert_eq!(pes_of(&events, VIDEO), pes_of(&clean, VIDEO));
    assert_eq!(pes_of(&events, AUDIO), pes_of(&clean, AUDIO));
}

#[test]
fn a_lost_packet_is_a_continuity_error_and_drops_the_torn_pes() {
    let ts = stream(3, 0);
    let mut lossy = Vec::new();
    let mut video_seen = 0;
    for p in packets(&ts) {
        if TsPacket::parse(p).unwrap().header.pid == VIDEO {
            video_seen += 1;
            if video_seen == 2 {
                continue; // second packet of the first video PES
            }
        }
        lossy.extend_from_slice(p);
    }
    let (events, stats) = run([&lossy[..]]);
    assert_eq!(stats.continuity_errors, 1);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::ContinuityError {
            pid: VIDEO,
            expected: 1,
            found: 2
        }
    )));
    let video = pes_of(&events, VIDEO);
    assert_eq!(video.len(), 2, "the torn first PES is dropped");
    assert_eq!(video[0].dts, Some(3000));
    assert_eq!(pes_of(&events, AUDIO).len(), 3);
}

#[test]
fn discontinuity_indicator_resets_the_counter() {
    let h = |cc| TsHeader {
        pid: AUDIO,
        cc,
        has_payload: true,
        has_adaptation: true,
        ..TsHeader::default()
    };
    let mut ts = Vec::new();
    for (cc, flags) in [(0u8, 0x00u8), (1, 0x00), (9, 0x80), (10, 0x00)] {
        let mut out = [0u8; PACKET_SIZE];
        write_packet(&h(cc), Some(&[flags]), &[0; 10], &mut out).unwrap();
        ts.extend_from_slice(&out);
    }
    let (_, stats) = run([&ts[..]]);
    assert_eq!(stats.continuity_errors, 0);
    assert_eq!(stats.packets, 4);
}

#[test]
fn resyncs_after_garbage_and_keeps_partial_packets() {
    let ts = stream(3, 0);
    let (clean, _) = run([&ts[..]]);
    let mut dirty = vec![0x47, 1, 2, 3, 0x47, 0x47];
    dirty.extend_from_slice(&ts[..PACKET_SIZE * 4]);
    dirty.extend_from_slice(&[0, 0x47, 0x47, 1, 2, 3, 4]);
    let rest = &ts[PACKET_SIZE * 4..];
    dirty.extend_from_slice(rest);
    let (events, stats) = run(dirty.chunks(100));
    assert_eq!(stats.sync_losses, 1);
    // 6 bytes before the first packet, 7 in the middle: 13, nothing else.
    assert_eq!(stats.skipped_bytes, 13);
    assert_eq!(pes_of(&events, AUDIO), pes_of(&clean, AUDIO));
    assert_eq!(pes_of(&events, VIDEO), pes_of(&clean, VIDEO));

    // A partial packet waits for the rest.
    let mut d = Demuxer::new();
    d.push(&ts[..PACKET_SIZE + 10]);
    while d.poll().is_some() {}
    assert_eq!(d.stats().packets, 1);
    assert_eq!(d.buffered(), 10);
    d.push(&ts[PACKET_SIZE + 10..PACKET_SIZE * 2]);
    d.flush();
    while d.poll().is_some() {}
    assert_eq!(d.stats().packets, 2);
    assert_eq!(d.buffered(), 0);
}

fn psi_packet(pid: Pid, cc: u8, section: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cc = cc;
    crate::mux::write_section_packets(pid, section, &mut cc, &mut out).unwrap();
    out
}

#[test]
fn new_versions_replace_tables() {
    let pat = |version, programs: Vec<(u16, Pid)>| Pat {
        transport_stream_id: 1,
        version,
        programs,
    };
    let pmt = |program_number, version, es_info: Vec<u8>| Pmt {
        program_number,
        version,
        pcr_pid: VIDEO,
        program_info: vec![],
        streams: vec![
            PmtStream {
                stream_type: stream_type::H264,
                pid: VIDEO,
                es_info: vec![],
            },
            PmtStream {
                stream_type: stream_type::AAC_ADTS,
                pid: AUDIO,
                es_info,
            },
        ],
    };
    let mut ts = Vec::new();
    let p1 = pat(0, vec![(0, Pid(0x10)), (1, Pid(0x1000)), (2, Pid(0x1000))]);
    ts.extend(psi_packet(Pid::PAT, 0, &p1.to_section_bytes()));
    ts.extend(psi_packet(
        Pid(0x1000),
        0,
        &pmt(1, 0, vec![]).to_section_bytes(),
    ));
    ts.extend(psi_packet(Pid::PAT, 1, &p1.to_section_bytes()));
    let eng = iso_639_descriptor(*b"eng", 0);
    ts.extend(psi_packet(
        Pid(0x1000),
        1,
        &pmt(1, 1, eng).to_section_bytes(),
    ));
    ts.extend(psi_packet(
        Pid(0x1000),
        2,
        &pmt(2, 0, vec![]).to_section_bytes(),
    ));
    // Program 1 leaves, 2 stays on its PID; a PMT of an unknown program is ignored.
    ts.extend(psi_packet(
        Pid::PAT,
        2,
        &pat(1, vec![(2, Pid(0x1000))]).to_section_bytes(),
    ));
    ts.extend(psi_packet(
        Pid(0x1000),
        3,
        &pmt(1, 2, vec![]).to_section_bytes(),
    ));

    let mut d = Demuxer::new();
    d.push(&ts);
    d.flush();
    let events: Vec<Event> = std::iter::from_fn(|| d.poll()).collect();
    let pmt_event = |n, changed| Event::Pmt {
        program_number: n,
        pmt_pid: Pid(0x1000),
        changed,
    };
    assert_eq!(
        events,
        [
            Event::Pat { changed: true },
            pmt_event(1, true),
            Event::Pat { changed: false },
            pmt_event(1, true),
            pmt_event(2, true),
            Event::Pat { changed: true },
        ]
    );
    let programs = d.programs();
    assert!(programs.program(1).is_none());
    let two = programs.first_program().unwrap();
    assert_eq!(two.number, 2);
    assert_eq!(two.pmt.as_ref().unwrap().version, 0);
    assert_eq!(programs.stream_type(AUDIO), Some(stream_type::AAC_ADTS));
    assert!(programs.is_pmt_pid(Pid(0x1000)));
}

#[test]
fn a_pat_of_two_sections_is_applied_once_whole() {
    let section = |number: u8, program: u16| {
        let mut bytes = Pat {
            transport_stream_id: 9,
            version: 4,
            programs: vec![(program, Pid(0x1000 + program))],
        }
        .to_section_bytes();
        // section_number / last_section_number, then a fresh CRC.
        bytes[6] = number;
        bytes[7] = 1;
        let len = bytes.len();
        bytes.truncate(len - 4);
        let crc = crate::psi::crc32_mpeg2(&bytes);
        bytes.extend_from_slice(&crc.to_be_bytes());
        bytes
    };
    let mut ts = Vec::new();
    ts.extend(psi_packet(Pid::PAT, 0, &section(1, 2)));
    ts.extend(psi_packet(Pid::PAT, 1, &section(0, 1)));
    ts.extend(psi_packet(Pid::PAT, 2, &section(1, 2)));
    ts.extend(psi_packet(Pid::PAT, 3, &section(0, 1)));
    let mut d = Demuxer::new();
    d.push(&ts);
    d.flush();
    let events: Vec<Event> = std::iter::from_fn(|| d.poll()).collect();
    assert_eq!(
        events,
        [Event::Pat { changed: true }, Event::Pat { changed: false }]
    );
    let pat = d.programs().pat().unwrap();
    assert_eq!(pat.programs, [(1, Pid(0x1001)), (2, Pid(0x1002))]);
    assert_eq!(d.programs().first_program().unwrap().number, 1);
}

#[test]
fn language_descriptors_and_table_errors() {
    let mut mux = TsMuxer::new(&h264_aac_streams(VIDEO, &[AUDIO]), 0);
    mux.set_es_info(1, iso_639_descriptor(*b"spa", 0)).unwrap();
    let mut ts = Vec::new();
    mux.write(1, 0, 0, false, &[1], &mut ts).unwrap();
    // Corrupt the CRC of the PMT (third packet: PAT, PMT, audio).
    let mut bad = ts.clone();
    let pmt_start = PACKET_SIZE + 5;
    let len = 3 + usize::from(u16::from_be_bytes([bad[pmt_start + 1], bad[pmt_start + 2]]) & 0xFFF);
    bad[pmt_start + len - 1] ^= 0xFF;
    let (events, stats) = run([&bad[..]]);
    assert_eq!(stats.table_errors, 1);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::TableError {
            error: PsiError::Crc { .. },
            ..
        }
    )));
    let mut d = Demuxer::new();
    d.push(&ts);
    d.flush();
    while d.poll().is_some() {}
    let program = d.programs().first_program().unwrap();
    let audio = program.first_of_type(stream_type::AAC_ADTS).unwrap();
    assert!(audio.languages()[0].is(b"spa"));
}

#[test]
fn packets_come_out_in_order_with_pes_before_the_packet_that_ends_it() {
    let ts = stream(2, 0);
    let mut d = Demuxer::new();
    d.set_packets(true);
    d.select(VIDEO);
    d.push(&ts);
    d.flush();
    let events: Vec<Event> = std::iter::from_fn(|| d.poll()).collect();
    let out: Vec<u8> = events
        .iter()
        .filter_map(|e| match e {
            Event::Packet(p) => Some(p.bytes),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(out, ts);
    // The first video PES ends just before the packet that starts the second.
    let at = events
        .iter()
        .position(|e| matches!(e, Event::Pes(p) if p.pid == VIDEO))
        .unwrap();
    assert!(matches!(&events[at + 1], Event::Packet(p) if p.pid == VIDEO && p.unit_start));
}

#[test]
fn flush_pid_and_deselect() {
    let ts = stream(1, 0);
    let mut d = Demuxer::new();
    d.select(VIDEO);
    d.push(&ts);
    while d.poll().is_some() {}
    assert!(d.is_selected(VIDEO));
    let done = d.flush_pid(VIDEO);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].payload.len(), 400);
    d.deselect(VIDEO);
    assert!(!d.is_selected(VIDEO));
    assert!(d.flush_pid(VIDEO).is_empty());
}

#[test]
fn pes_drops_tell_short_from_invalid() {
    let h = |pusi, cc| TsHeader {
        pid: AUDIO,
        pusi,
        cc,
        has_payload: true,
        ..TsHeader::default()
    };
    let mut ts = Vec::new();
    let mut packet = |pusi, cc, payload: &[u8]| {
        let mut out = [0u8; PACKET_SIZE];
        write_packet(&h(pusi, cc), None, payload, &mut out).unwrap();
        ts.extend_from_slice(&out);
    };
    // A header cut short by the next unit start, then one without a start code.
    packet(true, 0, &[0, 0, 1, 0xC0, 0, 20, 0x80]);
    packet(true, 1, &[0, 0, 2, 0xC0, 0, 0, 0x80, 0x00, 0x00]);
    packet(true, 2, &[0, 0, 1, 0xC0, 0, 3, 0x80, 0x00, 0x00]);
    let mut d = Demuxer::new();
    d.select(AUDIO);
    d.push(&ts);
    d.flush();
    let drops: Vec<PesDrop> = std::iter::from_fn(|| d.poll())
        .filter_map(|e| match e {
            Event::PesDropped { pid: AUDIO, reason } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        drops,
        [
            PesDrop::Header(PesError::Short { need: 9, have: 7 }),
            PesDrop::Header(PesError::NoStartCode),
        ]
    );
    assert_eq!(d.stats().pes_errors, 2);
}

proptest! {
    #[test]
    fn random_bytes_never_panic_and_cuts_do_not_matter(
        data in prop::collection::vec(any::<u8>(), 0..3000),
        cuts in prop::collection::vec(1usize..400, 1..20),
    ) {
        let whole = run([&data[..]]);
        let mut chunks = Vec::new();
        let mut rest = &data[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (a, b) = rest.split_at((*cut).min(rest.len()));
            chunks.push(a);
            rest = b;
        }
        prop_assert_eq!(run(chunks), whole);
    }

    #[test]
    fn random_cuts_of_a_valid_stream_give_the_same_output(
        n in 1i64..8,
        start in 0i64..(1i64 << 34),
        cuts in prop::collection::vec(1usize..700, 1..30),
        noise in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut ts = noise.iter().map(|b| if *b == 0x47 { 0 } else { *b }).collect::<Vec<u8>>();
        ts.extend(stream(n, start));
        let whole = run([&ts[..]]);
        prop_assert_eq!(pes_of(&whole.0, VIDEO).len() as i64, n);
        prop_assert_eq!(whole.1.continuity_errors, 0);
        let mut chunks = Vec::new();
        let mut rest = &ts[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (a, b) = rest.split_at((*cut).min(rest.len()));
            chunks.push(a);
            rest = b;
        }
        prop_assert_eq!(run(chunks), whole);
    }

    #[test]
    fn corrupted_streams_never_panic(
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..30),
    ) {
        let mut ts = stream(4, 0);
        for (at, byte) in flips {
            let len = ts.len();
            ts[at % len] = byte;
        }
        let (events, stats) = run(ts.chunks(1316));
        prop_assert!(stats.packets as usize <= ts.len() / PACKET_SIZE);
        prop_assert!(events.len() < 10 * ts.len());
    }
}
