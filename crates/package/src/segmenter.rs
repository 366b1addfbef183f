//! Cuts an MPEG-TS program into independently decodable segments on IDR frames.
//!
//! [`Segmenter`] is fed transport stream bytes with [`push`](Segmenter::push) (whole UDP
//! datagrams or any other chunking: partial packets are carried over) and hands out
//! finished [`Segment`]s from [`poll_segment`](Segmenter::poll_segment). A
//! [`media::demux::Demuxer`] does the transport work (sync, continuity with duplicates
//! dropped, PAT → PMT → streams, the video PES and its unwrapped PTS); the segmenter
//! follows the first program of the PAT (its first H.264 stream is the video, its first
//! AAC stream the audio), copies the program's packets into segments and cuts
//! before IDR access units where a [`CutGrid`] says so: the first IDR in each later
//! `target_duration` cell of a grid anchored on the first cut. Several segmenters can
//! share one grid ([`push_on`](Segmenter::push_on)) so the renditions of one endpoint
//! cut at the same PTS with the same sequence numbers; [`push`](Segmenter::push) uses
//! the segmenter's own grid. Every segment begins with a fresh PAT and PMT, then the
//! packet that starts the IDR's PES, so a player can start decoding at any segment; the
//! length of that head (PAT, PMT and the IDR picture) is [`Segment::iframe_bytes`], the
//! byte range of an I-frame playlist entry (RFC 8216 §4.3.3.6).
//!
//! Invariants: memory is bounded (a segment is cut at the next access unit once it
//! passes `max_duration` or `max_bytes`, even without an IDR, when the grid allows; else
//! it is dropped at `max_bytes`); packets before the first cut are dropped; 33-bit PTS
//! wrap is unwrapped (by the demuxer, with [`media::pes::Timestamp::extend`]); a PTS step of more than
//! [`MAX_PTS_JUMP`] forward or [`MAX_PTS_BACKWARD`] back ends the segment and the next
//! cut [`rejoin`](CutGrid::rejoin)s the grid (a discontinuity when the timeline is
//! new); [`mark_discontinuity`](Segmenter::mark_discontinuity) flags the next cut as
//! one; a segmenter never takes a sequence number twice.
//!
//! ```
//! use std::time::Duration;
//! use package::segmenter::{Segmenter, SegmenterConfig};
//!
//! let mut segmenter = Segmenter::new(SegmenterConfig::new(Duration::from_secs(2))).unwrap();
//! segmenter.push(&[0x47; 0]); // bytes of one datagram
//! segmenter.flush(); // end of stream: the open segment is finished
//! while let Some(segment) = segmenter.poll_segment() {
//!     println!("#{} {:.3} s, {} bytes", segment.sequence, segment.duration_secs(), segment.data.len());
//! }
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use media::demux::{Demuxer, Event, Packet, Pes};
use media::h264;
use media::mux::write_section_packets;
use media::pes::CLOCK_HZ;
use media::psi::{stream_type, Pat, Pmt};
use media::ts::{Pid, TsPacket, PACKET_SIZE};
use time::OffsetDateTime;

use crate::grid::{Cut, CutGrid};
use crate::timeline::duration_to_ticks;
use crate::Error;

pub use crate::timeline::{ticks_to_duration, MAX_PTS_BACKWARD, MAX_PTS_JUMP};
/// PMT stream_type of AAC audio in ADTS (see [`media::psi::stream_type`]).
pub use media::psi::stream_type::AAC_ADTS as STREAM_TYPE_AAC;
/// PMT stream_type of H.264 video (the one definition is [`media::psi::stream_type`]).
pub use media::psi::stream_type::H264 as STREAM_TYPE_H264;
/// Segments ready for the caller before the oldest is dropped.
const MAX_READY: usize = 16;

/// How the [`Segmenter`] cuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmenterConfig {
    /// A segment ends at the first IDR at least this long after its start.
    pub target_duration: Duration,
    /// A segment this long is cut at the next access unit even without an IDR.
    pub max_duration: Duration,
    /// A segment this large is cut at the next access unit even without an IDR.
    pub max_bytes: usize,
}

impl SegmenterConfig {
    /// Cuts at `target_duration`, forced at four times that or 64 MiB.
    pub fn new(target_duration: Duration) -> Self {
        Self {
            target_duration,
            max_duration: target_duration.saturating_mul(4),
            max_bytes: 64 << 20,
        }
    }
}

/// One finished segment: TS packets from a cut point to the next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Counts segments from 0 across the life of the segmenter.
    pub sequence: u64,
    /// Duration in 90 kHz ticks, from the start PTS to the next segment's start PTS.
    pub duration_ticks: u64,
    /// Unwrapped PTS of the first access unit.
    pub start_pts: i64,
    /// Timestamps or encoding parameters changed before this segment (RFC 8216 §4.3.2.3).
    pub discontinuity: bool,
    /// Discontinuities before this segment, its own not counted (§4.3.3.3).
    pub discontinuity_sequence: u64,
    /// Wall-clock time of the first sample, if the caller gave one.
    pub program_date_time: Option<OffsetDateTime>,
    /// Begins with an IDR (false only for segments forced by size or duration).
    pub starts_with_idr: bool,
    /// Bytes from the start up to the end of the first video access unit (PAT, PMT,
    /// the IDR picture and what is interleaved with it), when it starts with an IDR.
    pub iframe_bytes: Option<usize>,
    /// Bytes of video packets, for the video bitrate.
    pub video_bytes: usize,
    /// The TS packets: PAT, PMT, then the program's packets.
    pub data: Bytes,
}

impl Segment {
    /// Duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.duration_ticks as f64 / CLOCK_HZ as f64
    }

    /// Duration as a [`Duration`].
    pub fn duration(&self) -> Duration {
        ticks_to_duration(self.duration_ticks)
    }
}

/// The program being segmented.
#[derive(Clone, Debug)]
struct Program {
    pmt_pid: Pid,
    pmt: Pmt,
    video: Pid,
    audio: Option<Pid>,
}

impl Program {
    fn carries(&self, pid: Pid) -> bool {
        pid == self.pmt.pcr_pid || self.pmt.streams.iter().any(|s| s.pid == pid)
    }
}

/// The segment being filled.
#[derive(Debug)]
struct Open {
    sequence: u64,
    start_pts: i64,
    max_pts: i64,
    discontinuity: bool,
    discontinuity_sequence: u64,
    /// Started at an IDR after a PTS jump that the grid could not place yet: kept
    /// while it is offered again at every IDR, dropped if never placed.
    held: bool,
    program_date_time: Option<OffsetDateTime>,
    starts_with_idr: bool,
    iframe_bytes: Option<usize>,
    data: Vec<u8>,
}

/// Counters of what the segmenter dropped or could not read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SegmenterStats {
    /// Packets that did not parse (bad sync, reserved fields).
    pub bad_packets: u64,
    /// Bytes skipped to find packet sync.
    pub skipped_bytes: u64,
    /// Packets dropped before the first IDR or after a discontinuity.
    pub dropped_packets: u64,
    /// Segments cut without an IDR (over `max_duration` or `max_bytes`).
    pub forced_cuts: u64,
    /// Finished segments dropped because the caller did not poll.
    pub dropped_segments: u64,
}

/// Sans-IO HLS segmenter; see the [module docs](self).
#[derive(Debug)]
pub struct Segmenter {
    config: SegmenterConfig,
    max_ticks: i64,
    /// Sync, continuity, PAT/PMT and the video PES: packets come out as events.
    demux: Demuxer,
    transport_stream_id: u16,
    program: Option<Program>,
    /// Packets since the start of the video PES being collected.
    pending: Vec<u8>,
    /// Wall clock when the pending PES started.
    pending_wall: Option<OffsetDateTime>,
    wall_clock: Option<OffsetDateTime>,
    open: Option<Open>,
    last_pts: Option<i64>,
    frame_ticks: i64,
    /// [`mark_discontinuity`](Self::mark_discontinuity) was called: the next cut opens
    /// (or joins) the grid's next epoch.
    discontinuity: bool,
    /// The PTS jumped away from this one (the last before the jump): the next cut
    /// [`rejoin`](CutGrid::rejoin)s the grid's timeline.
    jumped: Option<i64>,
    /// The grid [`push`](Self::push) cuts on.
    grid: CutGrid,
    /// The grid epoch and sequence number of the last cut; `None` before the first.
    epoch: Option<u32>,
    last_sequence: Option<u64>,
    /// This segmenter's id on the grid it cuts on (use one grid only).
    grid_id: Option<u32>,
    pat_cc: u8,
    pmt_cc: u8,
    ready: VecDeque<Segment>,
    stats: SegmenterStats,
}

impl Segmenter {
    /// A segmenter waiting for a PAT; fails if `target_duration` is zero or
    /// `max_duration` is shorter than it.
    pub fn new(config: SegmenterConfig) -> Result<Self, Error> {
        if config.target_duration.is_zero() {
            return Err(Error::InvalidConfig("target duration is zero"));
        }
        if config.max_duration < config.target_duration {
            return Err(Error::InvalidConfig(
                "max duration is shorter than target duration",
            ));
        }
        Ok(Self {
            config,
            max_ticks: duration_to_ticks(config.max_duration),
            demux: {
                let mut demux = Demuxer::new();
                demux.set_packets(true);
                demux
            },
            transport_stream_id: 1,
            program: None,
            pending: Vec::new(),
            pending_wall: None,
            wall_clock: None,
            open: None,
            last_pts: None,
            frame_ticks: 0,
            discontinuity: false,
            jumped: None,
            grid: CutGrid::new(config.target_duration),
            epoch: None,
            grid_id: None,
            last_sequence: None,
            pat_cc: 0,
            pmt_cc: 0,
            ready: VecDeque::new(),
            stats: SegmenterStats::default(),
        })
    }

    /// The configuration this segmenter cuts with.
    pub fn config(&self) -> &SegmenterConfig {
        &self.config
    }

    /// Sets the wall-clock time of the bytes pushed next. The first segment (and the
    /// first after a discontinuity) takes its program date-time from it; later ones
    /// continue from the previous segment's date-time plus its duration.
    pub fn set_wall_clock(&mut self, now: OffsetDateTime) {
        self.wall_clock = Some(now);
    }

    /// Ends the open segment at the next IDR and flags the one after as a discontinuity
    /// (call when the source switches, e.g. on input failover).
    pub fn mark_discontinuity(&mut self) {
        self.discontinuity = true;
    }

    /// Feeds transport stream bytes; partial packets at the end are kept for the next call.
    pub fn push(&mut self, data: &[u8]) {
        let mut grid = std::mem::replace(&mut self.grid, CutGrid::new(Duration::ZERO));
        self.push_on(data, &mut grid);
        self.grid = grid;
    }

    /// [`push`](Self::push), cutting on a grid shared with other segmenters.
    pub fn push_on(&mut self, data: &[u8], grid: &mut CutGrid) {
        self.demux.push(data);
        self.pump(grid);
    }

    /// End of stream: finishes the last access unit and the open segment.
    pub fn flush(&mut self) {
        let mut grid = std::mem::replace(&mut self.grid, CutGrid::new(Duration::ZERO));
        self.flush_on(&mut grid);
        self.grid = grid;
    }

    /// [`flush`](Self::flush), cutting on a shared grid.
    pub fn flush_on(&mut self, grid: &mut CutGrid) {
        self.demux.flush();
        self.pump(grid);
        self.finish();
    }

    /// Appends what is pending to the open segment and closes it.
    fn finish(&mut self) {
        if let Some(open) = self.open.as_mut() {
            open.data.append(&mut self.pending);
            if open.iframe_bytes.is_none() && open.starts_with_idr {
                open.iframe_bytes = Some(open.data.len());
            }
        }
        self.pending.clear();
        let end = self
            .open
            .as_ref()
            .map(|o| o.max_pts.saturating_add(self.frame_ticks));
        if let Some(end) = end {
            self.close(end);
        }
    }

    /// Takes the oldest finished segment.
    pub fn poll_segment(&mut self) -> Option<Segment> {
        self.ready.pop_front()
    }

    /// What was dropped so far.
    pub fn stats(&self) -> SegmenterStats {
        let demux = self.demux.stats();
        SegmenterStats {
            bad_packets: demux.bad_packets + demux.transport_errors,
            skipped_bytes: demux.skipped_bytes,
            ..self.stats
        }
    }

    /// Frames per second from the smallest PTS step between video access units.
    pub fn frame_rate(&self) -> Option<f64> {
        (self.frame_ticks > 0).then(|| CLOCK_HZ as f64 / self.frame_ticks as f64)
    }

    /// Reads what the demuxer found in the bytes pushed so far.
    fn pump(&mut self, grid: &mut CutGrid) {
        while let Some(event) = self.demux.poll() {
            match event {
                Event::Pat { .. } => {
                    if let Some(pat) = self.demux.programs().pat() {
                        self.transport_stream_id = pat.transport_stream_id;
                    }
                }
                Event::Pmt {
                    program_number,
                    pmt_pid,
                    ..
                } => self.pmt(program_number, pmt_pid, grid),
                Event::Packet(packet) => self.packet(&packet),
                Event::Pes(pes) if self.program.as_ref().is_some_and(|p| p.video == pes.pid) => {
                    self.video_pes(&pes, grid);
                }
                _ => {}
            }
        }
    }

    /// One packet, after the PES it ends (if any) was placed.
    fn packet(&mut self, packet: &Packet) {
        let Some(program) = &self.program else {
            return;
        };
        if !program.carries(packet.pid) {
            return;
        }
        let video = program.video;
        if packet.pid == video && packet.unit_start {
            // The completed PES and what came with it were placed; a new one starts here.
            self.place_pending_tail();
            if let Some(open) = self.open.as_mut() {
                if open.starts_with_idr && open.iframe_bytes.is_none() {
                    open.iframe_bytes = Some(open.data.len());
                }
            }
            self.pending_wall = self.wall_clock;
        }
        self.pending.extend_from_slice(&packet.bytes);
        if self.pending.len() > self.config.max_bytes {
            // No video access unit ends (the video stopped): drop rather than grow.
            self.stats.dropped_packets += (self.pending.len() / PACKET_SIZE) as u64;
            self.pending.clear();
            self.demux.reset_pid(video);
        }
    }

    /// The PMT of `program_number` arrived: follow it if it is the first program's.
    fn pmt(&mut self, program_number: u16, pmt_pid: Pid, grid: &mut CutGrid) {
        let Some(first) = self.demux.programs().first_program() else {
            return;
        };
        if (first.number, first.pmt_pid) != (program_number, pmt_pid) {
            return;
        }
        let Some(pmt) = first.pmt.clone() else {
            return;
        };
        let Some(video) = first.first_of_type(stream_type::H264).map(|s| s.pid) else {
            return;
        };
        let audio = first.first_of_type(stream_type::AAC_ADTS).map(|s| s.pid);
        if let Some(old) = &self.program {
            if old.pmt == pmt && old.pmt_pid == pmt_pid {
                return;
            }
            let old_video = old.video;
            if old_video != video || old.audio != audio {
                // Other streams: what was collected cannot be continued.
                for pes in self.demux.flush_pid(old_video) {
                    self.video_pes(&pes, grid);
                }
                self.finish();
                self.demux.deselect(old_video);
                self.last_pts = None;
                self.discontinuity = true;
            }
        }
        self.demux.select(video);
        self.program = Some(Program {
            pmt_pid,
            pmt,
            video,
            audio,
        });
    }

    /// Packets collected while no video PES was open go to the open segment, if any.
    fn place_pending_tail(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        match self.open.as_mut() {
            Some(open) => open.data.append(&mut self.pending),
            None => {
                self.stats.dropped_packets += (self.pending.len() / PACKET_SIZE) as u64;
                self.pending.clear();
            }
        }
    }

    /// A video PES is complete; `self.pending` holds its packets and those interleaved.
    fn video_pes(&mut self, pes: &Pes, grid: &mut CutGrid) {
        // Unwrapped by the demuxer (33-bit wrap, Timestamp::extend).
        let Some(pts) = pes.pts.or(pes.dts) else {
            self.place_pending_tail();
            return;
        };
        if let Some(last) = self.last_pts {
            let step = pts.saturating_sub(last);
            if !(-MAX_PTS_BACKWARD..=MAX_PTS_JUMP).contains(&step) {
                let end = self
                    .open
                    .as_ref()
                    .map(|o| o.max_pts.saturating_add(self.frame_ticks));
                if let Some(end) = end {
                    self.close(end);
                }
                self.jumped = Some(last);
            } else if step > 0 && (self.frame_ticks == 0 || step < self.frame_ticks) {
                self.frame_ticks = step;
            }
        }
        self.last_pts = Some(pts);
        let idr = h264::is_idr(&pes.payload);
        let wall = self.pending_wall.or(self.wall_clock);
        if idr {
            if let Some(open) = self.open.as_ref().filter(|o| o.held) {
                let (start, elapsed) = (open.start_pts, pts.saturating_sub(open.start_pts));
                let id = *self.grid_id.get_or_insert_with(|| grid.join());
                match grid.rejoin(id, start, self.jumped.unwrap_or(start), wall) {
                    Some(cut) => {
                        grid.took(id, cut.epoch, wall);
                        self.discontinuity = false;
                        self.jumped = None;
                        self.epoch = Some(cut.epoch);
                        self.last_sequence = Some(cut.sequence);
                        if let Some(open) = self.open.as_mut() {
                            open.held = false;
                            open.sequence = cut.sequence;
                            open.discontinuity = cut.discontinuity;
                            open.discontinuity_sequence = cut.discontinuity_sequence;
                            open.program_date_time = cut.program_date_time;
                        }
                    }
                    None if elapsed >= self.max_ticks => {
                        // Never placed: give it up and offer this IDR instead.
                        let dropped = self.open.take().map_or(0, |o| o.data.len());
                        self.stats.dropped_packets += (dropped / PACKET_SIZE) as u64;
                    }
                    None => {
                        if let Some(open) = self.open.as_mut() {
                            open.max_pts = open.max_pts.max(pts);
                        }
                        self.place_pending_tail();
                        return;
                    }
                }
            }
        }
        let epoch = self.epoch.unwrap_or(grid.epoch());
        let mut jump_unplaced = false;
        let mut cut = match self.epoch {
            _ if !idr => None,
            Some(e) if self.discontinuity => {
                grid.at_idr(e.saturating_add(1).max(grid.epoch()), pts, wall)
            }
            Some(_) if self.jumped.is_some() => {
                let id = *self.grid_id.get_or_insert_with(|| grid.join());
                let cut = grid.rejoin(id, pts, self.jumped.unwrap_or(pts), wall);
                jump_unplaced = cut.is_none() && self.open.is_none();
                cut
            }
            _ => grid.at_idr(epoch, pts, wall),
        };
        if cut.is_some_and(|c| self.last_sequence.is_some_and(|l| c.sequence <= l)) {
            // A cut this segmenter already took: its timestamps went back.
            cut = None;
            if self.jumped.is_none() {
                self.jumped = self.open.as_ref().map(|o| o.max_pts).or(self.last_pts);
            }
        }
        if jump_unplaced {
            self.start_held(pts);
            return;
        }
        let mut over_bytes = false;
        if let (None, Some(open)) = (cut, self.open.as_ref()) {
            let elapsed = pts.saturating_sub(open.start_pts);
            over_bytes = open.data.len().saturating_add(self.pending.len()) > self.config.max_bytes;
            // A held segment is never cut by force: it is placed whole or dropped.
            if !open.held && (elapsed >= self.max_ticks || over_bytes) {
                cut = grid.forced(epoch, pts, wall);
                if cut.is_some() {
                    self.stats.forced_cuts += 1;
                }
            }
        }
        match cut {
            Some(cut) => {
                self.close(pts);
                let id = *self.grid_id.get_or_insert_with(|| grid.join());
                grid.took(id, cut.epoch, wall);
                self.start(cut, pts, idr);
            }
            None if over_bytes => {
                // No cut allowed here and no room: drop the segment, wait for a cut.
                let dropped = self.open.take().map_or(0, |o| o.data.len()) + self.pending.len();
                self.stats.dropped_packets += (dropped / PACKET_SIZE) as u64;
                self.pending.clear();
            }
            None => {
                if let Some(open) = self.open.as_mut() {
                    open.max_pts = open.max_pts.max(pts);
                }
                self.place_pending_tail();
            }
        }
    }

    /// Opens a segment at the IDR at `pts` that the grid could not place yet.
    fn start_held(&mut self, pts: i64) {
        let mut data = self.psi_packets();
        data.append(&mut self.pending);
        self.open = Some(Open {
            sequence: 0,
            start_pts: pts,
            max_pts: pts,
            discontinuity: false,
            discontinuity_sequence: 0,
            held: true,
            program_date_time: None,
            starts_with_idr: true,
            iframe_bytes: None,
            data,
        });
    }

    fn start(&mut self, cut: Cut, pts: i64, idr: bool) {
        self.discontinuity = false;
        self.jumped = None;
        self.epoch = Some(cut.epoch);
        self.last_sequence = Some(cut.sequence);
        let mut data = self.psi_packets();
        data.append(&mut self.pending);
        self.open = Some(Open {
            sequence: cut.sequence,
            start_pts: pts,
            max_pts: pts,
            discontinuity: cut.discontinuity,
            discontinuity_sequence: cut.discontinuity_sequence,
            held: false,
            program_date_time: cut.program_date_time,
            starts_with_idr: idr,
            iframe_bytes: None,
            data,
        });
    }

    fn close(&mut self, end_pts: i64) {
        let Some(open) = self.open.take() else {
            return;
        };
        if open.held {
            self.stats.dropped_packets += (open.data.len() / PACKET_SIZE) as u64;
            return;
        }
        let duration_ticks = u64::try_from(end_pts.saturating_sub(open.start_pts)).unwrap_or(0);
        let video = self.program.as_ref().map(|p| p.video);
        let video_bytes = open
            .data
            .chunks_exact(PACKET_SIZE)
            .filter(|p| TsPacket::parse(p).is_ok_and(|p| Some(p.header.pid) == video))
            .count()
            * PACKET_SIZE;
        if self.ready.len() >= MAX_READY {
            self.ready.pop_front();
            self.stats.dropped_segments += 1;
        }
        self.ready.push_back(Segment {
            sequence: open.sequence,
            duration_ticks,
            start_pts: open.start_pts,
            discontinuity: open.discontinuity,
            discontinuity_sequence: open.discontinuity_sequence,
            program_date_time: open.program_date_time,
            starts_with_idr: open.starts_with_idr,
            iframe_bytes: open.iframe_bytes.filter(|_| open.starts_with_idr),
            video_bytes,
            data: Bytes::from(open.data),
        });
    }

    /// A PAT naming only our program and the PMT, as TS packets.
    fn psi_packets(&mut self) -> Vec<u8> {
        let Some(program) = &self.program else {
            return Vec::new();
        };
        let pat = Pat {
            transport_stream_id: self.transport_stream_id,
            version: 0,
            programs: vec![(program.pmt.program_number, program.pmt_pid)],
        };
        let mut out = Vec::new();
        let pmt_pid = program.pmt_pid;
        let pmt_section = program.pmt.to_section_bytes();
        // Both only fail for a PID out of range, which a parsed PID never is.
        let _ = write_section_packets(
            Pid::PAT,
            &pat.to_section_bytes(),
            &mut self.pat_cc,
            &mut out,
        );
        let _ = write_section_packets(pmt_pid, &pmt_section, &mut self.pmt_cc, &mut out);
        out
    }
}
