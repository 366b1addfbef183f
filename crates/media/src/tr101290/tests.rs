#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use std::collections::HashMap;

use crate::psi::{Pat, Pmt, PmtStream};
use crate::ts::{write_packet, TsHeader, PACKET_SIZE};

const PMT_PID: Pid = Pid(0x100);
const VIDEO: Pid = Pid(0x101);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn header(pid: Pid, cc: u8) -> TsHeader {
    TsHeader {
        pid,
        has_payload: true,
        cc,
        ..TsHeader::default()
    }
}

/// One packet carrying a whole section, payload stuffed with 0xFF.
fn section_packet(pid: Pid, cc: u8, section: &[u8]) -> [u8; PACKET_SIZE] {
    let mut payload = vec![0u8];
    payload.extend_from_slice(section);
    payload.resize(184, 0xFF);
    let h = TsHeader {
        pusi: true,
        ..header(pid, cc)
    };
    let mut out = [0u8; PACKET_SIZE];
    write_packet(&h, None, &payload, &mut out).unwrap();
    out
}

fn pat_section() -> Vec<u8> {
    Pat {
        transport_stream_id: 1,
        version: 0,
        programs: vec![(0, Pid(0x10)), (1, PMT_PID)],
    }
    .to_section_bytes()
}

fn pmt_section() -> Vec<u8> {
    Pmt {
        program_number: 1,
        version: 0,
        pcr_pid: VIDEO,
        program_info: vec![],
        streams: vec![PmtStream {
            stream_type: crate::psi::stream_type::H264,
            pid: VIDEO,
            es_info: vec![],
        }],
    }
    .to_section_bytes()
}

fn es_packet(pid: Pid, cc: u8) -> [u8; PACKET_SIZE] {
    let mut out = [0u8; PACKET_SIZE];
    write_packet(&header(pid, cc), None, &[0xAB; 184], &mut out).unwrap();
    out
}

fn null_packet() -> [u8; PACKET_SIZE] {
    es_packet(Pid::NULL, 0)
}

/// Builds a healthy multiplex, one 7-packet datagram every `step`.
struct Mux {
    cc: HashMap<Pid, u8>,
    send_pat: bool,
    send_pmt: bool,
    send_video: bool,
}

impl Mux {
    fn new() -> Self {
        Mux {
            cc: HashMap::new(),
            send_pat: true,
            send_pmt: true,
            send_video: true,
        }
    }

    fn next_cc(&mut self, pid: Pid) -> u8 {
        let cc = self.cc.entry(pid).or_insert(15);
        *cc = (*cc + 1) & 0x0F;
        *cc
    }

    fn datagram(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.send_pat {
            let cc = self.next_cc(Pid::PAT);
            out.extend_from_slice(&section_packet(Pid::PAT, cc, &pat_section()));
        }
        if self.send_pmt {
            let cc = self.next_cc(PMT_PID);
            out.extend_from_slice(&section_packet(PMT_PID, cc, &pmt_section()));
        }
        while out.len() < 7 * PACKET_SIZE {
            if self.send_video {
                let cc = self.next_cc(VIDEO);
                out.extend_from_slice(&es_packet(VIDEO, cc));
            } else {
                out.extend_from_slice(&null_packet());
            }
        }
        out
    }

    /// Feeds one datagram every 100 ms over `[from, to)`.
    fn run(&mut self, a: &mut Analyzer, from: u64, to: u64) {
        for t in (from..to).step_by(100) {
            let d = self.datagram();
            a.feed(ms(t), &d);
        }
    }
}

fn errors(s: &Tr101290Stats) -> u64 {
    s.sync_loss
        + s.sync_byte_errors
        + s.pat_errors
        + s.continuity_errors
        + s.pmt_errors
        + s.pid_errors
        + s.transport_errors
        + s.crc_errors
}

#[test]
fn healthy_stream_has_no_errors() {
    let mut a = Analyzer::new();
    Mux::new().run(&mut a, 0, 10_000);
    let s = a.stats();
    assert_eq!(errors(&s), 0, "{s:?}");
    assert!(s.in_sync && s.pat_present && s.pmt_present);
    assert_eq!(s.programs, 1);
    assert_eq!(s.packets, 700);
}

#[test]
fn single_packet_datagrams_sync_after_five() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    let d = mux.datagram();
    for (i, packet) in d.chunks(PACKET_SIZE).enumerate() {
        a.feed(ms(i as u64), packet);
        assert_eq!(a.stats().in_sync, i >= 4);
    }
    assert_eq!(a.stats().packets, 7);
}

#[test]
fn byte_stream_in_odd_chunks() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    let mut stream = vec![0x47, 0x00, 0x12];
    for _ in 0..20 {
        stream.extend(mux.datagram());
    }
    for (i, chunk) in stream.chunks(100).enumerate() {
        a.feed(ms(i as u64 * 10), chunk);
    }
    let s = a.stats();
    assert_eq!(errors(&s), 0, "{s:?}");
    assert_eq!(s.packets, 140);
}

#[test]
fn pat_gap_of_600_ms_is_one_error() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    mux.run(&mut a, 0, 600);
    mux.send_pat = false;
    mux.run(&mut a, 600, 1100);
    a.handle_timeout(ms(1050));
    assert!(!a.stats().pat_present);
    mux.send_pat = true;
    mux.run(&mut a, 1100, 3000);
    let s = a.stats();
    assert_eq!(s.pat_errors, 1, "{s:?}");
    assert!(s.pat_present);
}

#[test]
fn pat_timeout_repeats_every_half_second() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    mux.run(&mut a, 0, 100);
    a.handle_timeout(ms(2_050));
    assert_eq!(a.stats().pat_errors, 4);
    a.handle_timeout(ms(2_100));
    assert_eq!(a.stats().pat_errors, 4);
}

#[test]
fn no_timers_before_sync() {
    let mut a = Analyzer::new();
    a.handle_timeout(ms(10_000));
    assert_eq!(a.stats(), Tr101290Stats::default());
}

#[test]
fn wrong_table_on_pid_0_and_scrambled_pat() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    mux.run(&mut a, 0, 500);
    let cc = mux.next_cc(Pid::PAT);
    a.feed(ms(500), &section_packet(Pid::PAT, cc, &pmt_section()));
    assert_eq!(a.stats().pat_errors, 1);
    let cc = mux.next_cc(Pid::PAT);
    let mut scrambled = section_packet(Pid::PAT, cc, &pat_section());
    scrambled[3] |= 0x80;
    a.feed(ms(510), &scrambled);
    let s = a.stats();
    assert_eq!(s.pat_errors, 2);
    assert_eq!(s.continuity_errors, 0);
}

#[test]
fn pat_crc_error() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    mux.run(&mut a, 0, 300);
    let mut section = pat_section();
    let last = section.len() - 1;
    section[last] ^= 0xFF;
    let cc = mux.next_cc(Pid::PAT);
    a.feed(ms(300), &section_packet(Pid::PAT, cc, &section));
    let s = a.stats();
    assert_eq!(s.crc_errors, 1);
    assert_eq!(s.pat_errors, 0);
}

#[test]
fn a_duplicate_psi_packet_is_read_once() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    mux.run(&mut a, 0, 300);
    let mut section = pat_section();
    let last = section.len() - 1;
    section[last] ^= 0xFF;
    let cc = mux.next_cc(Pid::PAT);
    let packet = section_packet(Pid::PAT, cc, &section);
    // The packet and its one allowed duplicate (§2.4.3.3): one bad section, not two.
    a.feed(ms(300), &packet);
    a.feed(ms(300), &packet);
    let s = a.stats();
    assert_eq!(s.crc_errors, 1);
    assert_eq!(s.continuity_errors, 0);
}

#[test]
fn cc_skip_is_one_error() {
    let mut a = Analyzer::new();
    let mut stream = Vec::new();
    for cc in [0, 1, 2, 4, 5, 6, 7] {
        stream.extend_from_slice(&es_packet(VIDEO, cc));
    }
    a.feed(ms(0), &stream);
    assert_eq!(a.stats().continuity_errors, 1);
}

#[test]
fn duplicate_allowed_once() {
    let mut a = Analyzer::new();
    let mut stream = Vec::new();
    for cc in [14, 15, 15, 0, 1, 1, 2] {
        stream.extend_from_slice(&es_packet(VIDEO, cc));
    }
    a.feed(ms(0), &stream);
    assert_eq!(a.stats().continuity_errors, 0);
    // A third copy is an error.
    let mut more = Vec::new();
    for cc in [2, 2] {
        more.extend_from_slice(&es_packet(VIDEO, cc));
    }
    a.feed(ms(1), &more);
    assert_eq!(a.stats().continuity_errors, 1);
}

#[test]
fn discontinuity_indicator_null_and_adaptation_only_are_exempt() {
    let mut a = Analyzer::new();
    let mut stream = Vec::new();
    for cc in [0, 1, 2] {
        stream.extend_from_slice(&es_packet(VIDEO, cc));
    }
    let mut out = [0u8; PACKET_SIZE];
    let h = TsHeader {
        has_adaptation: true,
        ..header(VIDEO, 9)
    };
    write_packet(&h, Some(&[0x80]), &[0; 100], &mut out).unwrap();
    stream.extend_from_slice(&out);
    stream.extend_from_slice(&es_packet(VIDEO, 10));
    // Adaptation-only packet (PCR carrier): counter does not advance.
    let h = TsHeader {
        has_adaptation: true,
        has_payload: false,
        ..header(VIDEO, 10)
    };
    write_packet(&h, Some(&[0x10, 0, 0, 0, 0, 0, 0]), &[], &mut out).unwrap();
    stream.extend_from_slice(&out);
    stream.extend_from_slice(&es_packet(VIDEO, 11));
    for _ in 0..3 {
        stream.extend_from_slice(&null_packet());
    }
    a.feed(ms(0), &stream);
    let s = a.stats();
    assert_eq!(s.continuity_errors, 0, "{s:?}");
    assert_eq!(s.packets, 10);
}

#[test]
fn pmt_gap_is_one_error() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    mux.run(&mut a, 0, 1000);
    mux.send_pmt = false;
    mux.run(&mut a, 1000, 1600);
    assert!(!a.stats().pmt_present);
    mux.send_pmt = true;
    mux.run(&mut a, 1600, 3000);
    let s = a.stats();
    assert_eq!(s.pmt_errors, 1, "{s:?}");
    assert!(s.pmt_present);
    assert_eq!(s.pat_errors, 0);
}

#[test]
fn pmt_never_sent_counts_every_half_second() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    mux.send_pmt = false;
    mux.run(&mut a, 0, 2000);
    let s = a.stats();
    // PAT at 0 ms: deadlines at 500, 1000, 1500 passed by 1900 ms.
    assert_eq!(s.pmt_errors, 3, "{s:?}");
    assert!(!s.pmt_present);
}

#[test]
fn scrambled_pmt_is_an_error() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    mux.run(&mut a, 0, 300);
    let cc = mux.next_cc(PMT_PID);
    let mut packet = section_packet(PMT_PID, cc, &pmt_section());
    packet[3] |= 0xC0;
    a.feed(ms(300), &packet);
    assert_eq!(a.stats().pmt_errors, 1);
}

#[test]
fn missing_elementary_stream_is_a_pid_error() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    mux.run(&mut a, 0, 1000);
    mux.send_video = false;
    mux.run(&mut a, 1000, 7000);
    mux.send_video = true;
    mux.run(&mut a, 7000, 8000);
    let s = a.stats();
    assert_eq!(s.pid_errors, 1, "{s:?}");
    assert_eq!(s.pmt_errors + s.pat_errors + s.continuity_errors, 0);
}

#[test]
fn transport_error_indicator_is_counted() {
    let mut a = Analyzer::new();
    let mut stream = Vec::new();
    for cc in 0..6 {
        let mut p = es_packet(VIDEO, cc);
        if cc == 3 {
            p[1] |= 0x80;
        }
        stream.extend_from_slice(&p);
    }
    a.feed(ms(0), &stream);
    let s = a.stats();
    assert_eq!(s.transport_errors, 1);
    // The TEI packet is not trusted, so its counter looks lost.
    assert_eq!(s.continuity_errors, 1);
}

#[test]
fn one_bad_sync_byte_keeps_sync() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    mux.run(&mut a, 0, 100);
    let mut d = mux.datagram();
    d[3 * PACKET_SIZE] = 0x00;
    a.feed(ms(100), &d);
    let s = a.stats();
    assert_eq!(s.sync_byte_errors, 1);
    assert_eq!(s.sync_loss, 0);
    assert!(s.in_sync);
}

#[test]
fn garbage_loses_then_regains_sync() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    mux.run(&mut a, 0, 300);
    a.feed(ms(300), &[0u8; 400]);
    let s = a.stats();
    assert!(!s.in_sync);
    assert_eq!(s.sync_loss, 1);
    assert_eq!(s.sync_byte_errors, 2);
    mux.run(&mut a, 400, 1000);
    let s = a.stats();
    assert!(s.in_sync);
    assert_eq!(s.sync_loss, 1);
    assert_eq!(
        s.pat_errors + s.continuity_errors + s.pmt_errors,
        0,
        "{s:?}"
    );
}

#[test]
fn reset_forgets_everything() {
    let mut a = Analyzer::new();
    let mut mux = Mux::new();
    mux.run(&mut a, 0, 300);
    a.feed(ms(300), &[0u8; 400]);
    a.reset();
    assert_eq!(a.stats(), Tr101290Stats::default());
    // A new source with unrelated counters raises nothing.
    Mux::new().run(&mut a, 400, 1000);
    assert_eq!(errors(&a.stats()), 0);
}

#[test]
fn arbitrary_bytes_never_panic() {
    use proptest::prelude::*;
    proptest!(|(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 0..10))| {
        let mut a = Analyzer::new();
        for (i, c) in chunks.iter().enumerate() {
            a.feed(ms(i as u64 * 300), c);
        }
        a.handle_timeout(ms(0));
        let _ = a.stats();
    });
}
