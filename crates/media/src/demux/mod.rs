//! The one MPEG-TS demultiplexer (ISO/IEC 13818-1 §2.4.3, §2.4.4): packet sync,
//! continuity, program tracking and PES assembly, without I/O.
//!
//! The model is the one of the flow engine: [`Demuxer`] is a plain struct. Callers hand it
//! the bytes they received with [`push`](Demuxer::push) (any cut: a datagram, a file
//! chunk, half a packet) and drain [`Event`]s with [`poll`](Demuxer::poll) until it
//! returns `None`; [`flush`](Demuxer::flush) says the input ended. It never reads a clock,
//! never blocks and never panics, whatever the bytes.
//!
//! Work happens in `poll`, one packet at a time and only once the events of the packet
//! before were taken, so a consumer that reacts to [`Event::Pmt`] by
//! [`select`](Demuxer::select)ing the PIDs it wants gets every PES that starts after that
//! PMT. What it does per packet, in order:
//!
//! 1. Sync (§2.4.3.2): packets are 188 bytes starting with 0x47. Without sync (at the
//!    start, or after a packet slot without 0x47) the demuxer hunts: it skips to a 0x47
//!    that is followed by another one 188 bytes later, waiting for more bytes when it
//!    cannot tell yet. In sync it reads packet after packet. A trailing partial packet is
//!    kept for the next `push`.
//! 2. Packets that do not parse, and packets with transport_error_indicator set, are
//!    counted and dropped; so are null packets (PID 0x1FFF). Scrambled packets are
//!    counted and passed on as packets only: their payload cannot be read.
//! 3. Continuity (§2.4.3.3, [`ContinuityTracker`]): the first repeat of a packet (same
//!    counter, same payload) is a duplicate and is dropped; a counter out of order is an [`Event::ContinuityError`]
//!    and the section or PES being assembled on that PID is dropped, not glued;
//!    discontinuity_indicator (§2.4.3.5) restarts the count.
//! 4. Tables (§2.4.4, [`ProgramTracker`]): PID 0 and the PMT PIDs of the current PAT are
//!    reassembled with [`SectionAssembler`](crate::psi::SectionAssembler) and give
//!    [`Event::Pat`] / [`Event::Pmt`]; the current map is [`programs`](Demuxer::programs).
//! 5. PES (§2.4.3.6, [`PesAssembler`]) on the PIDs [`select`](Demuxer::select)ed: a
//!    payload_unit_start ends the previous packet ([`Event::Pes`] before the packet's own
//!    events), a bounded PES_packet_length ends one as soon as its bytes are in. PTS and
//!    DTS are unwrapped onto one 64-bit timeline per PID with [`Timestamp::extend`]: the
//!    decoding time (DTS, or the PTS without one) against the previous one of the PID,
//!    the PTS against its own DTS.
//! 6. With [`set_packets`](Demuxer::set_packets), every packet that got this far comes
//!    out as [`Event::Packet`] (for remuxers such as the HLS segmenter).
//!
//! Invariants: the events do not depend on how the input was cut into `push` calls (only
//! `flush` ends a wait for look-ahead bytes); every byte pushed is read once, as part of a
//! packet, skipped (counted in [`DemuxStats::skipped_bytes`]) or still buffered; memory is
//! bounded by the bytes not yet polled plus one PES per selected PID
//! ([`MAX_PES_SIZE`](crate::pes::MAX_PES_SIZE)).
//!
//! ```
//! use media::demux::{Demuxer, Event};
//! use media::mux::{h264_aac_streams, TsMuxer};
//! use media::psi::stream_type;
//! use media::ts::Pid;
//!
//! let mut mux = TsMuxer::new(&h264_aac_streams(Pid(0x100), &[Pid(0x101)]), 0);
//! let mut ts = Vec::new();
//! mux.write(1, 9000, 9000, false, &[0xFF, 0xF1], &mut ts).unwrap();
//!
//! let mut demux = Demuxer::new();
//! demux.push(&ts[..100]); // any cut
//! demux.push(&ts[100..]);
//! demux.flush();
//! let mut audio = Vec::new();
//! while let Some(event) = demux.poll() {
//!     match event {
//!         Event::Pmt { program_number, .. } => {
//!             let program = demux.programs().program(program_number).unwrap();
//!             let aac = program.first_of_type(stream_type::AAC_ADTS).unwrap().pid;
//!             demux.select(aac);
//!         }
//!         Event::Pes(pes) => audio.push((pes.stream_type, pes.pts, pes.payload)),
//!         _ => {}
//!     }
//! }
//! assert_eq!(audio, [(Some(stream_type::AAC_ADTS), Some(9000), vec![0xFF, 0xF1])]);
//! ```

mod continuity;
mod programs;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};

pub use continuity::{ContinuityTracker, Verdict};
pub use programs::{Program, ProgramTracker, TableEvent};

use crate::pes::{PesAssembler, PesDrop, PesError, PesPacket, Timestamp};
use crate::psi::PsiError;
use crate::ts::{Pid, TsError, TsPacket, PACKET_SIZE, SYNC_BYTE};

/// Buffered bytes already read that are dropped from the buffer at once.
const COMPACT_AT: usize = 64 * PACKET_SIZE;

/// One complete PES packet of a selected PID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pes {
    /// The PID it came on.
    pub pid: Pid,
    /// The stream_type the current PMTs give the PID, if any lists it.
    pub stream_type: Option<u8>,
    /// stream_id of the PES header.
    pub stream_id: u8,
    /// Presentation time, 90 kHz, unwrapped (see the [module docs](self)).
    pub pts: Option<i64>,
    /// Decoding time, 90 kHz, unwrapped; `None` when the header has no DTS.
    pub dts: Option<i64>,
    /// The elementary stream bytes after the PES header.
    pub payload: Vec<u8>,
}

impl Pes {
    /// The decoding time: the DTS, or the PTS when there is no DTS.
    pub fn decode_time(&self) -> Option<i64> {
        self.dts.or(self.pts)
    }
}

/// One transport packet, as received (see [`Demuxer::set_packets`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Its PID.
    pub pid: Pid,
    /// payload_unit_start_indicator with a payload present.
    pub unit_start: bool,
    /// The 188 bytes.
    pub bytes: [u8; PACKET_SIZE],
}

/// What the demuxer found; see the [module docs](self) for the order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A valid PAT arrived (every repetition); `changed` when the program list or
    /// version differs from the previous one. The map is [`Demuxer::programs`].
    Pat {
        /// Differs from the previous PAT.
        changed: bool,
    },
    /// A valid PMT of a program of the PAT arrived.
    Pmt {
        /// The program it maps.
        program_number: u16,
        /// The PID it came on.
        pmt_pid: Pid,
        /// Differs from the program's previous PMT.
        changed: bool,
    },
    /// A PES packet of a selected PID is complete.
    Pes(Pes),
    /// A packet (only with [`Demuxer::set_packets`]).
    Packet(Packet),
    /// The continuity_counter of `pid` skipped: packets were lost (§2.4.3.3).
    ContinuityError {
        /// The PID.
        pid: Pid,
        /// The counter that was due.
        expected: u8,
        /// The counter that came.
        found: u8,
    },
    /// A PAT or PMT section could not be read.
    TableError {
        /// The PID it came on.
        pid: Pid,
        /// Why.
        error: PsiError,
    },
    /// A section on PID 0 that is not a PAT.
    UnexpectedTable {
        /// The PID.
        pid: Pid,
        /// Its table_id.
        table_id: u8,
    },
    /// A packet slot that did not parse (bad header or adaptation field).
    BadPacket(TsError),
    /// A PES packet of a selected PID was dropped.
    PesDropped {
        /// The PID.
        pid: Pid,
        /// Why: a header cut short or invalid, or a packet too large.
        reason: PesDrop,
    },
}

/// Running counters; they only grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DemuxStats {
    /// Packets read (in sync, with a sync byte).
    pub packets: u64,
    /// Bytes skipped while hunting for sync, partial packets dropped included.
    pub skipped_bytes: u64,
    /// Times sync was lost after it was held.
    pub sync_losses: u64,
    /// Packets that did not parse.
    pub bad_packets: u64,
    /// Packets with transport_error_indicator set (dropped).
    pub transport_errors: u64,
    /// Scrambled packets (not assembled: their payload cannot be read).
    pub scrambled: u64,
    /// Duplicate packets dropped (§2.4.3.3).
    pub duplicates: u64,
    /// Continuity errors.
    pub continuity_errors: u64,
    /// PAT/PMT sections refused (CRC, syntax) and sections of another table on PID 0.
    pub table_errors: u64,
    /// PES packets of selected PIDs dropped.
    pub pes_errors: u64,
}

/// PES assembly and timestamp state of one selected PID.
#[derive(Clone, Debug, Default)]
struct Track {
    assembler: PesAssembler,
    /// The assembler's error count already reported.
    errors: u64,
    /// Unwrapped decoding time of the previous PES.
    last: Option<i64>,
}

impl Track {
    /// Unwraps the timestamps of one PES (see the module docs).
    fn timestamps(&mut self, packet: &PesPacket) -> (Option<i64>, Option<i64>) {
        let Some(decode) = packet.header.dts.or(packet.header.pts) else {
            return (None, None);
        };
        let extend =
            |t: Timestamp, previous: Option<i64>| t.extend(previous.unwrap_or(t.value() as i64));
        let dts = extend(decode, self.last);
        self.last = Some(dts);
        let pts = packet.header.pts.map(|p| p.extend(dts));
        (pts, packet.header.dts.map(|_| dts))
    }
}

/// The sans-IO demultiplexer; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct Demuxer {
    buf: Vec<u8>,
    /// Bytes of `buf` already read.
    pos: usize,
    in_sync: bool,
    /// [`flush`](Self::flush) was called: no look-ahead, then end the PES packets.
    ending: bool,
    packets: bool,
    continuity: ContinuityTracker,
    programs: ProgramTracker,
    tracks: BTreeMap<Pid, Track>,
    events: VecDeque<Event>,
    stats: DemuxStats,
}

impl Demuxer {
    /// A demuxer without sync, tables or selected PIDs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes; they are read by [`poll`](Self::poll).
    pub fn push(&mut self, data: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos.min(self.buf.len()));
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The input ended (for now): packets waiting for look-ahead are read and the PES
    /// packets being assembled are finished, as the next [`poll`](Self::poll)s return.
    /// A trailing partial packet stays buffered.
    pub fn flush(&mut self) {
        self.ending = true;
    }

    /// The next event, reading buffered packets as needed; `None` when every whole
    /// packet was read.
    pub fn poll(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            if self.step() {
                continue;
            }
            if !self.ending {
                return None;
            }
            self.ending = false;
            let pids: Vec<Pid> = self.tracks.keys().copied().collect();
            for pid in pids {
                let finished = self.flush_pid(pid);
                self.events.extend(finished.into_iter().map(Event::Pes));
            }
            if self.events.is_empty() {
                return None;
            }
        }
    }

    /// Assembles the PES packets of `pid` from its next payload unit start on.
    pub fn select(&mut self, pid: Pid) {
        self.tracks.entry(pid).or_default();
    }

    /// Stops assembling `pid`; a PES packet in progress is dropped.
    pub fn deselect(&mut self, pid: Pid) {
        self.tracks.remove(&pid);
    }

    /// Whether `pid` is selected.
    pub fn is_selected(&self, pid: Pid) -> bool {
        self.tracks.contains_key(&pid)
    }

    /// Ends the PES packet being assembled on `pid` now and returns it (and any
    /// finished one not yet polled), e.g. before a consumer switches streams.
    pub fn flush_pid(&mut self, pid: Pid) -> Vec<Pes> {
        let Some(track) = self.tracks.get_mut(&pid) else {
            return Vec::new();
        };
        track.assembler.flush();
        let mut out = Vec::new();
        Self::drain_track(
            pid,
            track,
            &self.programs,
            &mut self.stats,
            &mut |e| match e {
                Event::Pes(pes) => out.push(pes),
                other => self.events.push_back(other),
            },
        );
        out
    }

    /// Drops the PES packet being assembled on `pid`; it restarts at the next unit start.
    pub fn reset_pid(&mut self, pid: Pid) {
        if let Some(track) = self.tracks.get_mut(&pid) {
            track.assembler.reset();
        }
    }

    /// Emit [`Event::Packet`] for every packet read (off by default).
    pub fn set_packets(&mut self, on: bool) {
        self.packets = on;
    }

    /// The program map as read so far.
    pub fn programs(&self) -> &ProgramTracker {
        &self.programs
    }

    /// Counters so far.
    pub fn stats(&self) -> DemuxStats {
        self.stats
    }

    /// Bytes buffered and not read yet (at most a partial packet after `poll` returned
    /// `None`, unless waiting for look-ahead).
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Reads one packet or skips garbage; false when more bytes are needed.
    fn step(&mut self) -> bool {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        if self.in_sync {
            match rest.first() {
                _ if rest.len() < PACKET_SIZE => return false,
                Some(&SYNC_BYTE) => {
                    self.read_packet();
                    return true;
                }
                _ => {
                    self.in_sync = false;
                    self.stats.sync_losses += 1;
                }
            }
        }
        // Hunting: bytes that cannot start a packet are skipped as soon as they arrive,
        // so what is skipped does not depend on how the input was cut.
        match rest.iter().position(|&b| b == SYNC_BYTE) {
            None if rest.is_empty() => return false,
            None => self.skip(rest.len()),
            Some(0) => match rest.get(PACKET_SIZE) {
                Some(&SYNC_BYTE) => {
                    self.in_sync = true;
                    self.read_packet();
                }
                Some(_) => self.skip(1),
                None if self.ending && rest.len() == PACKET_SIZE => {
                    self.in_sync = true;
                    self.read_packet();
                }
                None => return false,
            },
            Some(offset) => self.skip(offset),
        }
        if self.pos >= COMPACT_AT {
            self.buf.drain(..self.pos.min(self.buf.len()));
            self.pos = 0;
        }
        true
    }

    fn skip(&mut self, n: usize) {
        self.pos += n;
        self.stats.skipped_bytes += n as u64;
    }

    /// Reads the packet at `pos` (which starts with a sync byte) and moves past it.
    fn read_packet(&mut self) {
        let mut bytes = [0u8; PACKET_SIZE];
        if let Some(src) = self.buf.get(self.pos..self.pos + PACKET_SIZE) {
            bytes.copy_from_slice(src);
        }
        self.pos += PACKET_SIZE;
        self.stats.packets += 1;
        self.packet(&bytes);
    }

    fn packet(&mut self, bytes: &[u8; PACKET_SIZE]) {
        let packet = match TsPacket::parse(bytes) {
            Ok(packet) => packet,
            Err(error) => {
                self.stats.bad_packets += 1;
                self.events.push_back(Event::BadPacket(error));
                return;
            }
        };
        let header = packet.header;
        if header.tei {
            self.stats.transport_errors += 1;
            return;
        }
        let pid = header.pid;
        if pid == Pid::NULL {
            return;
        }
        match self.continuity.check(&packet) {
            Verdict::Duplicate => {
                self.stats.duplicates += 1;
                return;
            }
            Verdict::Error { expected, found } => {
                self.stats.continuity_errors += 1;
                self.events.push_back(Event::ContinuityError {
                    pid,
                    expected,
                    found,
                });
                self.programs.reset_pid(pid);
                self.reset_pid(pid);
            }
            Verdict::InOrder | Verdict::Discontinuity => {}
        }
        // Scrambled payloads cannot be read (§2.4.3.3): they still come out as packets.
        let scrambled = header.scrambling != 0;
        if scrambled {
            self.stats.scrambled += 1;
        }
        if !scrambled && self.programs.is_psi(pid) {
            let mut tables = Vec::new();
            self.programs.push(&packet, &mut tables);
            for table in tables {
                let event = match table {
                    TableEvent::Pat { changed } => Event::Pat { changed },
                    TableEvent::Pmt {
                        program_number,
                        pmt_pid,
                        changed,
                    } => Event::Pmt {
                        program_number,
                        pmt_pid,
                        changed,
                    },
                    TableEvent::UnexpectedTable { pid, table_id } => {
                        self.stats.table_errors += 1;
                        Event::UnexpectedTable { pid, table_id }
                    }
                    TableEvent::Error { pid, error } => {
                        self.stats.table_errors += 1;
                        Event::TableError { pid, error }
                    }
                };
                self.events.push_back(event);
            }
        }
        let payload = packet.payload.filter(|_| header.has_payload);
        let unit_start = header.pusi && payload.is_some();
        if unit_start {
            // The previous PES ends here, before this packet.
            if let Some(track) = self.tracks.get_mut(&pid) {
                track.assembler.flush();
            }
            self.drain(pid);
        }
        if self.packets {
            self.events.push_back(Event::Packet(Packet {
                pid,
                unit_start,
                bytes: *bytes,
            }));
        }
        if scrambled {
            return;
        }
        if let (Some(track), Some(payload)) = (self.tracks.get_mut(&pid), payload) {
            track.assembler.push(header.pusi, payload);
            self.drain(pid);
        }
    }

    /// Queues the finished PES packets of `pid`.
    fn drain(&mut self, pid: Pid) {
        let Some(track) = self.tracks.get_mut(&pid) else {
            return;
        };
        let events = &mut self.events;
        Self::drain_track(pid, track, &self.programs, &mut self.stats, &mut |e| {
            events.push_back(e)
        });
    }

    fn drain_track(
        pid: Pid,
        track: &mut Track,
        programs: &ProgramTracker,
        stats: &mut DemuxStats,
        emit: &mut dyn FnMut(Event),
    ) {
        while let Some(packet) = track.assembler.pop() {
            let (pts, dts) = track.timestamps(&packet);
            emit(Event::Pes(Pes {
                pid,
                stream_type: programs.stream_type(pid),
                stream_id: packet.header.stream_id,
                pts,
                dts,
                payload: packet.payload,
            }));
        }
        let errors = track.assembler.errors();
        let reason = track
            .assembler
            .last_drop()
            .unwrap_or(PesDrop::Header(PesError::NoStartCode));
        for _ in track.errors..errors {
            stats.pes_errors += 1;
            emit(Event::PesDropped { pid, reason });
        }
        track.errors = errors;
    }
}
