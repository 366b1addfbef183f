//! ETSI TR 101 290 first-priority checks (§5.2.1), plus TEI (2.1) and PSI CRC (2.2).
//!
//! [`Analyzer`] is a sans-IO monitor: feed it the bytes of a stream as they arrive with a
//! monotonic `now`, call [`Analyzer::handle_timeout`] periodically (e.g. every 100 ms) so
//! absences are noticed even when nothing arrives, and read [`Analyzer::stats`] whenever
//! you like. Counters only grow until [`Analyzer::reset`].
//!
//! Counting rules, one per counter:
//! - `sync_loss` (1.1): one per transition from in sync to lost (2 consecutive bad sync bytes);
//!   sync is acquired after 5 sync bytes one packet apart.
//! - `sync_byte_errors` (1.2): one per packet slot, while in sync, not starting with 0x47.
//! - `pat_errors` (1.3): one per 0.5 s without a valid PAT, per PID 0 section with another
//!   table_id, per scrambled PID 0 packet.
//! - `continuity_errors` (1.4): one per payload packet whose counter is neither the next nor
//!   a first repeat; null PID, adaptation-only packets and discontinuity_indicator are exempt.
//! - `pmt_errors` (1.5): one per 0.5 s without a valid PMT for a program of the PAT, per
//!   scrambled packet on a PMT PID.
//! - `pid_errors` (1.6): one per 5 s without a packet on an elementary stream PID of a PMT.
//! - `transport_errors` (2.1): one per packet with transport_error_indicator set; such
//!   packets are not checked further.
//! - `crc_errors` (2.2): one per PAT or PMT section whose CRC_32 is wrong.
//!
//! Timers (1.3, 1.5, 1.6) run only while in sync and start when sync is acquired.
//!
//! Packet framing (with the hysteresis of 1.1) and the presence and timeout rules are the
//! analyzer's own; continuity (1.4) and the program map (which PIDs carry PMTs, which
//! streams each PMT lists) come from [`crate::demux`]'s [`ContinuityTracker`] and
//! [`ProgramTracker`], the same rules every demuxer of the workspace uses: sections are
//! read from single-section tables with current_next_indicator set, a duplicate packet
//! (same counter and payload) is not read twice.
//!
//! Why not `dvb-conformance`: it was evaluated first. It covers more (priority
//! 2 and 3), but its API broke through five major versions between June and
//! August 2026 (6.4 to 10.0) and it brings a DVB SI stack; the priority-1 checks
//! a flow needs are small, property-tested here, and report running counters
//! rather than per-packet events. Worth revisiting for priority 2/3 monitoring.

mod sync;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::demux::{ContinuityTracker, ProgramTracker, TableEvent, Verdict};
use crate::psi::PsiError;
use crate::ts::{Pid, TsPacket};
use sync::{Framed, Framer};

/// Longest gap allowed between PATs, and between PMTs of one program.
const PSI_PERIOD: Duration = Duration::from_millis(500);
/// Longest gap allowed between packets of an elementary stream.
const PID_PERIOD: Duration = Duration::from_secs(5);

/// Counters and current state of one monitored stream.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Tr101290Stats {
    /// Packets read while in sync with a good sync byte.
    pub packets: u64,
    /// 1.1 TS_sync_loss events.
    pub sync_loss: u64,
    /// 1.2 Sync_byte_error: packets without 0x47 while in sync.
    pub sync_byte_errors: u64,
    /// 1.3 PAT_error: PAT absent for 0.5 s, wrong table_id on PID 0, scrambled PID 0.
    pub pat_errors: u64,
    /// 1.4 Continuity_count_error: lost, out-of-order or over-repeated packets.
    pub continuity_errors: u64,
    /// 1.5 PMT_error: a PMT of the PAT absent for 0.5 s, or scrambled.
    pub pmt_errors: u64,
    /// 1.6 PID_error: an elementary stream of a PMT absent for 5 s.
    pub pid_errors: u64,
    /// 2.1 Transport_error: packets with transport_error_indicator set.
    pub transport_errors: u64,
    /// 2.2 CRC_error: PAT or PMT sections with a wrong CRC_32.
    pub crc_errors: u64,
    /// Packet boundaries are currently known.
    pub in_sync: bool,
    /// A PAT was seen within the last 0.5 s.
    pub pat_present: bool,
    /// Every PMT the PAT lists was seen within the last 0.5 s.
    pub pmt_present: bool,
    /// Programs in the last PAT (network PID entry excluded).
    pub programs: u32,
}

/// A PMT the PAT says should be on the air.
#[derive(Clone, Debug)]
struct PmtWatch {
    last_seen: Option<Duration>,
    deadline: Duration,
    streams: Vec<Pid>,
}

/// TR 101 290 priority-1 monitor for one transport stream.
#[derive(Debug, Default)]
pub struct Analyzer {
    framer: Framer,
    state: Stream,
}

/// Everything the checks remember, apart from packet framing.
#[derive(Debug, Default)]
struct Stream {
    stats: Tr101290Stats,
    /// Latest time given by the caller.
    now: Duration,
    last_pat: Option<Duration>,
    /// Set once sync is acquired; timers are idle before.
    pat_deadline: Option<Duration>,
    continuity: ContinuityTracker,
    /// PAT → PMT PIDs → streams.
    tables: ProgramTracker,
    /// Keyed by (PMT PID, program_number): programs may share a PMT PID.
    pmts: BTreeMap<(Pid, u16), PmtWatch>,
    /// Elementary stream PIDs of all PMTs, with their 5 s deadline.
    streams: BTreeMap<Pid, Duration>,
}

impl Analyzer {
    /// A monitor that has seen nothing yet (not in sync).
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `data`, any number of bytes continuing the stream (usually the 1..7 packets of
    /// one UDP datagram), received at `now`. Also evaluates the timers.
    pub fn feed(&mut self, now: Duration, data: &[u8]) {
        self.handle_timeout(now);
        let state = &mut self.state;
        self.framer.push(data, |framed| match framed {
            Framed::Acquired => state.sync_acquired(now),
            Framed::Packet(packet) => state.packet(now, packet),
            Framed::SyncByteError => state.stats.sync_byte_errors += 1,
            Framed::Lost => state.sync_lost(),
        });
    }

    /// Counts the PAT, PMT and PID absences due by `now`; call it periodically.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.state.now = self.state.now.max(now);
        if self.framer.in_sync() {
            self.state.check_timers(now);
        }
    }

    /// Counters so far and the state as of the latest `now`.
    pub fn stats(&self) -> Tr101290Stats {
        let s = &self.state;
        let recent = |t: Option<Duration>| t.is_some_and(|t| s.now.saturating_sub(t) <= PSI_PERIOD);
        let pat_present = recent(s.last_pat);
        Tr101290Stats {
            in_sync: self.framer.in_sync(),
            pat_present,
            pmt_present: s.last_pat.is_some() && s.pmts.values().all(|w| recent(w.last_seen)),
            ..s.stats.clone()
        }
    }

    /// Forgets everything, counters included, e.g. after switching to another source.
    pub fn reset(&mut self) {
        *self = Self::new();
    }
}

impl Stream {
    fn sync_acquired(&mut self, now: Duration) {
        let psi = now.saturating_add(PSI_PERIOD);
        self.pat_deadline = Some(self.pat_deadline.map_or(psi, |d| d.max(psi)));
        for watch in self.pmts.values_mut() {
            watch.deadline = watch.deadline.max(psi);
        }
        for deadline in self.streams.values_mut() {
            *deadline = (*deadline).max(now.saturating_add(PID_PERIOD));
        }
    }

    fn sync_lost(&mut self) {
        self.stats.sync_loss += 1;
        // Bytes were lost: restart continuity and section assembly from scratch.
        self.continuity.reset();
        self.tables.reset_assembly();
    }

    fn check_timers(&mut self, now: Duration) {
        if let Some(deadline) = &mut self.pat_deadline {
            self.stats.pat_errors += expire(deadline, PSI_PERIOD, now);
        }
        for watch in self.pmts.values_mut() {
            self.stats.pmt_errors += expire(&mut watch.deadline, PSI_PERIOD, now);
        }
        for deadline in self.streams.values_mut() {
            self.stats.pid_errors += expire(deadline, PID_PERIOD, now);
        }
    }

    fn packet(&mut self, now: Duration, bytes: &[u8]) {
        self.stats.packets += 1;
        if bytes.get(1).is_some_and(|b| b & 0x80 != 0) {
            self.stats.transport_errors += 1;
            return;
        }
        // Reserved adaptation_field_control or a broken adaptation field: nothing to check.
        let Ok(packet) = TsPacket::parse(bytes) else {
            return;
        };
        let pid = packet.header.pid;
        if let Some(deadline) = self.streams.get_mut(&pid) {
            *deadline = now.saturating_add(PID_PERIOD);
        }
        match self.continuity.check(&packet) {
            // Check 1.4 allows one duplicate; it is not read again.
            Verdict::Duplicate => return,
            Verdict::Error { .. } => {
                self.stats.continuity_errors += 1;
                // Packets were lost: a torn section is dropped, not glued.
                self.tables.reset_pid(pid);
            }
            Verdict::InOrder | Verdict::Discontinuity => {}
        }
        let scrambled = packet.header.scrambling != 0;
        if pid == Pid::PAT && scrambled {
            self.stats.pat_errors += 1;
            return;
        }
        if scrambled && self.tables.is_pmt_pid(pid) {
            self.stats.pmt_errors += 1;
            return;
        }
        let mut events = Vec::new();
        self.tables.push(&packet, &mut events);
        for event in events {
            match event {
                TableEvent::Pat { .. } => self.pat_received(now),
                TableEvent::Pmt {
                    program_number,
                    pmt_pid,
                    ..
                } => self.pmt_received(now, pmt_pid, program_number),
                // A section with another table_id on PID 0 (1.3).
                TableEvent::UnexpectedTable { .. } => self.stats.pat_errors += 1,
                TableEvent::Error {
                    error: PsiError::Crc { .. },
                    ..
                } => self.stats.crc_errors += 1,
                TableEvent::Error { .. } => {}
            }
        }
    }

    /// A valid PAT arrived: restart its timer and watch the PMTs it lists.
    fn pat_received(&mut self, now: Duration) {
        self.last_pat = Some(now);
        self.pat_deadline = Some(now.saturating_add(PSI_PERIOD));
        let programs: Vec<(Pid, u16)> = self
            .tables
            .programs()
            .map(|p| (p.pmt_pid, p.number))
            .collect();
        self.stats.programs = u32::try_from(programs.len()).unwrap_or(u32::MAX);
        let mut pmts = BTreeMap::new();
        for key in programs {
            let watch = self.pmts.remove(&key).unwrap_or(PmtWatch {
                last_seen: None,
                deadline: now.saturating_add(PSI_PERIOD),
                streams: Vec::new(),
            });
            pmts.insert(key, watch);
        }
        self.pmts = pmts;
        self.rebuild_streams(now);
    }

    /// A valid PMT of a program of the PAT arrived on `pid`.
    fn pmt_received(&mut self, now: Duration, pid: Pid, program_number: u16) {
        let streams: Vec<Pid> = self
            .tables
            .program(program_number)
            .map(|p| p.streams().iter().map(|s| s.pid).collect())
            .unwrap_or_default();
        let Some(watch) = self.pmts.get_mut(&(pid, program_number)) else {
            return;
        };
        watch.last_seen = Some(now);
        watch.deadline = now.saturating_add(PSI_PERIOD);
        if watch.streams != streams {
            watch.streams = streams;
            self.rebuild_streams(now);
        }
    }

    /// Tracks exactly the elementary streams the current PMTs list.
    fn rebuild_streams(&mut self, now: Duration) {
        let mut streams = BTreeMap::new();
        for pid in self.pmts.values().flat_map(|w| w.streams.iter()) {
            let deadline = self
                .streams
                .get(pid)
                .copied()
                .unwrap_or(now.saturating_add(PID_PERIOD));
            streams.insert(*pid, deadline);
        }
        self.streams = streams;
    }
}

/// Counts the whole periods by which `now` is past `deadline` and moves it past `now`.
fn expire(deadline: &mut Duration, period: Duration, now: Duration) -> u64 {
    let Some(over) = now.checked_sub(*deadline).filter(|d| !d.is_zero()) else {
        return 0;
    };
    let periods = over.as_nanos().div_ceil(period.as_nanos().max(1));
    let advance = period.as_nanos().saturating_mul(periods);
    let next = deadline.as_nanos().saturating_add(advance);
    *deadline = Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX));
    u64::try_from(periods).unwrap_or(u64::MAX)
}
