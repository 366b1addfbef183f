//! A small MPEG-2 transport stream multiplexer (ISO/IEC 13818-1 §2.4.3, §2.4.4).
//!
//! [`TsMuxer`] turns encoded access units (with 90 kHz PTS/DTS on an unwrapped 64-bit
//! timeline) into 188-byte packets: one program, a PAT and PMT before the first access
//! unit and again whenever 100 ms of media time (by DTS) have passed, a PCR in the
//! adaptation field of the first packet of every PES on the PCR stream, and continuity
//! counters per PID. It is sans-IO: callers hand it access units and take bytes back.
//!
//! PSI sections longer than one packet's payload (a PMT with many streams or long
//! descriptor loops) continue over as many packets as they need
//! ([`write_section_packets`]); nothing is cut.
//!
//! Video PES packets are unbounded (PES_packet_length 0, §2.4.3.7); other PES packets
//! carry their length when it fits 16 bits.

use crate::pes::{Timestamp, CLOCK_HZ, TIMESTAMP_MODULUS};
use crate::psi::{stream_type, Pat, Pmt, PmtStream};
use crate::ts::{write_packet, Pid, TsError, TsHeader, PACKET_SIZE};

/// PAT/PMT repetition interval in 90 kHz ticks (100 ms).
pub const PSI_INTERVAL: i64 = CLOCK_HZ as i64 / 10;
/// How far the PCR runs behind the DTS of the access unit it is sent with.
const PCR_LEAD: i64 = CLOCK_HZ as i64 / 10;

/// ISO_639_language_descriptor (tag 0x0A, ISO/IEC 13818-1 §2.6.18) for one language:
/// the three-letter code and its audio_type (0 undefined, 1 clean effects, 2 hearing
/// impaired, 3 visual impaired commentary).
pub fn iso_639_descriptor(code: [u8; 3], audio_type: u8) -> Vec<u8> {
    vec![0x0A, 4, code[0], code[1], code[2], audio_type]
}

/// One elementary stream of the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MuxStream {
    /// PID of the stream's packets.
    pub pid: Pid,
    /// stream_type written in the PMT.
    pub stream_type: u8,
    /// PES stream_id (0xE0 for the first video stream, 0xC0 for the first audio stream).
    pub stream_id: u8,
}

/// An H.264 stream on `video` (stream_id 0xE0) and an AAC (ADTS) stream on each of
/// `audio` (0xC0, 0xC1, …): the program layout of every onair output.
pub fn h264_aac_streams(video: Pid, audio: &[Pid]) -> Vec<MuxStream> {
    let mut streams = vec![MuxStream {
        pid: video,
        stream_type: stream_type::H264,
        stream_id: 0xE0,
    }];
    for (i, &pid) in audio.iter().enumerate() {
        streams.push(MuxStream {
            pid,
            stream_type: stream_type::AAC_ADTS,
            stream_id: 0xC0 + u8::try_from(i.min(31)).unwrap_or(0),
        });
    }
    streams
}

/// Why an access unit could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MuxError {
    /// The stream index does not name a configured stream.
    #[error("no stream {0}")]
    NoStream(usize),
    /// A packet could not be built.
    #[error("ts packet: {0}")]
    Ts(#[from] TsError),
}

#[derive(Clone, Debug)]
struct StreamState {
    config: MuxStream,
    cc: u8,
}

/// Multiplexes one program into a transport stream. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct TsMuxer {
    pat: Vec<u8>,
    table: Pmt,
    pmt: Vec<u8>,
    pmt_pid: Pid,
    pat_cc: u8,
    pmt_cc: u8,
    pcr_stream: usize,
    streams: Vec<StreamState>,
    last_psi: Option<i64>,
}

impl TsMuxer {
    /// A muxer for program 1 (PMT on PID 0x1000) carrying `streams`; the PCR goes on
    /// `streams[pcr_stream]` (usually the video stream).
    pub fn new(streams: &[MuxStream], pcr_stream: usize) -> Self {
        Self::with_program(streams, pcr_stream, 1, Pid(0x1000))
    }

    /// A muxer for program `program_number` with its PMT on `pmt_pid`; otherwise as
    /// [`TsMuxer::new`].
    pub fn with_program(
        streams: &[MuxStream],
        pcr_stream: usize,
        program_number: u16,
        pmt_pid: Pid,
    ) -> Self {
        let pcr_pid = streams.get(pcr_stream).map_or(Pid::NULL, |s| s.pid);
        let pat = Pat {
            transport_stream_id: 1,
            version: 0,
            programs: vec![(program_number, pmt_pid)],
        };
        let pmt = Pmt {
            program_number,
            version: 0,
            pcr_pid,
            program_info: Vec::new(),
            streams: streams
                .iter()
                .map(|s| PmtStream {
                    stream_type: s.stream_type,
                    pid: s.pid,
                    es_info: Vec::new(),
                })
                .collect(),
        };
        Self {
            pat: pat.to_section_bytes(),
            pmt: pmt.to_section_bytes(),
            table: pmt,
            pmt_pid,
            pat_cc: 0,
            pmt_cc: 0,
            pcr_stream,
            streams: streams
                .iter()
                .map(|&config| StreamState { config, cc: 0 })
                .collect(),
            last_psi: None,
        }
    }

    /// Sets the descriptors of `streams[stream]` in the PMT (its ES_info loop, e.g. an
    /// ISO 639 language descriptor from [`iso_639_descriptor`]); the next PMT sent
    /// carries them.
    pub fn set_es_info(&mut self, stream: usize, es_info: Vec<u8>) -> Result<(), MuxError> {
        let entry = self
            .table
            .streams
            .get_mut(stream)
            .ok_or(MuxError::NoStream(stream))?;
        entry.es_info = es_info;
        if self.last_psi.is_some() {
            // Receivers re-read a PMT whose version changed.
            self.table.version = (self.table.version + 1) % 32;
        }
        self.pmt = self.table.to_section_bytes();
        Ok(())
    }

    /// Appends the packets of one access unit of `streams[stream]` to `out`, preceded by
    /// PAT and PMT when they are due. `pts` and `dts` are 90 kHz ticks (wrapped to 33 bits
    /// on the wire); `random_access` marks an IDR / key frame.
    pub fn write(
        &mut self,
        stream: usize,
        pts: i64,
        dts: i64,
        random_access: bool,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), MuxError> {
        if stream >= self.streams.len() {
            return Err(MuxError::NoStream(stream));
        }
        let due = self
            .last_psi
            .is_none_or(|t| dts - t >= PSI_INTERVAL || dts < t);
        if due {
            self.last_psi = Some(dts);
            self.write_psi(out)?;
        }
        let with_pcr = stream == self.pcr_stream;
        let Some(state) = self.streams.get_mut(stream) else {
            return Err(MuxError::NoStream(stream));
        };
        let pes = pes_packet(&state.config, pts, dts, data);
        let mut rest: &[u8] = &pes;
        let mut first = true;
        while first || !rest.is_empty() {
            let mut field = Vec::new();
            if first && (with_pcr || random_access) {
                let mut flags = 0u8;
                if random_access {
                    flags |= 0x40;
                }
                if with_pcr {
                    flags |= 0x10;
                }
                field.push(flags);
                if with_pcr {
                    field.extend_from_slice(&pcr_bytes(dts - PCR_LEAD));
                }
            }
            let room = PACKET_SIZE - 4 - if field.is_empty() { 0 } else { field.len() + 1 };
            let take = rest.len().min(room);
            let (chunk, tail) = rest.split_at(take);
            let header = TsHeader {
                tei: false,
                pusi: first,
                priority: false,
                pid: state.config.pid,
                scrambling: 0,
                has_adaptation: !field.is_empty(),
                has_payload: true,
                cc: state.cc,
            };
            let mut packet = [0u8; PACKET_SIZE];
            write_packet(
                &header,
                (!field.is_empty()).then_some(field.as_slice()),
                chunk,
                &mut packet,
            )?;
            out.extend_from_slice(&packet);
            state.cc = (state.cc + 1) & 0x0F;
            rest = tail;
            first = false;
        }
        Ok(())
    }

    fn write_psi(&mut self, out: &mut Vec<u8>) -> Result<(), MuxError> {
        write_section_packets(Pid::PAT, &self.pat, &mut self.pat_cc, out)?;
        write_section_packets(self.pmt_pid, &self.pmt, &mut self.pmt_cc, out)?;
        Ok(())
    }
}

/// Writes one PSI section as TS packets on `pid` (§2.4.4.1, §2.4.4.2): pointer_field 0 in
/// the first packet, the section continued over as many packets as it needs, 0xFF
/// stuffing after its end. `cc` is the PID's continuity_counter, advanced per packet.
pub fn write_section_packets(
    pid: Pid,
    section: &[u8],
    cc: &mut u8,
    out: &mut Vec<u8>,
) -> Result<(), TsError> {
    const BODY: usize = PACKET_SIZE - 4;
    let mut payload = Vec::with_capacity(section.len() + BODY);
    payload.push(0);
    payload.extend_from_slice(section);
    let padded = payload.len().div_ceil(BODY) * BODY;
    payload.resize(padded, 0xFF);
    for (i, chunk) in payload.chunks(BODY).enumerate() {
        let header = TsHeader {
            pusi: i == 0,
            pid,
            has_payload: true,
            cc: *cc & 0x0F,
            ..TsHeader::default()
        };
        let mut packet = [0u8; PACKET_SIZE];
        write_packet(&header, None, chunk, &mut packet)?;
        out.extend_from_slice(&packet);
        *cc = (*cc + 1) & 0x0F;
    }
    Ok(())
}

/// Builds a PES packet (§2.4.3.6) with PTS, and DTS when it differs.
fn pes_packet(stream: &MuxStream, pts: i64, dts: i64, data: &[u8]) -> Vec<u8> {
    let wrap = |t: i64| Timestamp(t.rem_euclid(TIMESTAMP_MODULUS as i64) as u64);
    let with_dts = pts != dts;
    let header_data_length: u8 = if with_dts { 10 } else { 5 };
    let mut pes = Vec::with_capacity(data.len() + 19);
    pes.extend_from_slice(&[0, 0, 1, stream.stream_id]);
    let length = 3 + usize::from(header_data_length) + data.len();
    let is_video = stream.stream_id & 0xF0 == 0xE0;
    let length = match u16::try_from(length) {
        Ok(l) if !is_video => l,
        _ => 0,
    };
    pes.extend_from_slice(&length.to_be_bytes());
    // '10', no scrambling, no priority, data_alignment_indicator, no copyright/original.
    pes.push(0x84);
    pes.push(if with_dts { 0xC0 } else { 0x80 });
    pes.push(header_data_length);
    if with_dts {
        pes.extend_from_slice(&wrap(pts).write(0b0011));
        pes.extend_from_slice(&wrap(dts).write(0b0001));
    } else {
        pes.extend_from_slice(&wrap(pts).write(0b0010));
    }
    pes.extend_from_slice(data);
    pes
}

/// The 6-byte program_clock_reference field (§2.4.3.5) for a 90 kHz base (extension 0).
fn pcr_bytes(base: i64) -> [u8; 6] {
    let b = base.rem_euclid(TIMESTAMP_MODULUS as i64) as u64;
    [
        (b >> 25) as u8,
        (b >> 17) as u8,
        (b >> 9) as u8,
        (b >> 1) as u8,
        (((b & 1) as u8) << 7) | 0x7E,
        0,
    ]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::demux::{Demuxer, Event, Pes};
    use crate::ts::TsPacket;

    /// Every PES of every stream of the first program, and the demuxer that read them.
    fn demux(ts: &[u8]) -> (Vec<Pes>, Demuxer) {
        let mut d = Demuxer::new();
        d.push(ts);
        d.flush();
        let mut pes = Vec::new();
        while let Some(event) = d.poll() {
            match event {
                Event::Pmt { .. } => {
                    let pids: Vec<Pid> = d
                        .programs()
                        .first_program()
                        .map(|p| p.streams().iter().map(|s| s.pid).collect())
                        .unwrap_or_default();
                    for pid in pids {
                        d.select(pid);
                    }
                }
                Event::Pes(p) => pes.push(p),
                Event::Pat { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        (pes, d)
    }

    fn streams() -> Vec<MuxStream> {
        h264_aac_streams(Pid(0x100), &[Pid(0x101)])
    }

    #[test]
    fn language_descriptors_reach_the_pmt() {
        let mut mux = TsMuxer::with_program(&streams(), 0, 7, Pid(480));
        mux.set_es_info(1, iso_639_descriptor(*b"eng", 3)).unwrap();
        assert!(mux.set_es_info(2, Vec::new()).is_err());
        let mut out = Vec::new();
        mux.write(0, 9000, 9000, true, &[0; 10], &mut out).unwrap();
        let (_, d) = demux(&out);
        let program = d.programs().first_program().unwrap();
        assert_eq!((program.number, program.pmt_pid), (7, Pid(480)));
        let pmt = program.pmt.as_ref().unwrap();
        let langs = crate::psi::descriptor::languages(&pmt.streams[1].es_info);
        assert_eq!(langs.len(), 1);
        assert!(langs[0].is(b"eng"));
        assert_eq!(langs[0].audio_type, 3);
    }

    #[test]
    fn round_trips_through_the_demux_side() {
        let mut mux = TsMuxer::new(&streams(), 0);
        let mut out = Vec::new();
        let video: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        mux.write(0, 9000 + 3003, 9000, true, &video, &mut out)
            .unwrap();
        mux.write(1, 9000, 9000, false, &[1, 2, 3], &mut out)
            .unwrap();
        mux.write(0, 30000, 30000 - 3003, false, &video[..100], &mut out)
            .unwrap();
        assert_eq!(out.len() % PACKET_SIZE, 0);

        let mut ccs = std::collections::HashMap::<u16, u8>::new();
        let mut pcrs = 0;
        for chunk in out.chunks(PACKET_SIZE) {
            let p = TsPacket::parse(chunk).unwrap();
            if let Some(prev) = ccs.insert(p.header.pid.0, p.header.cc) {
                assert_eq!(p.header.cc, (prev + 1) & 0x0F, "cc on {:?}", p.header.pid);
            }
            if p.adaptation
                .is_some_and(|f| f.first().is_some_and(|b| b & 0x10 != 0))
            {
                pcrs += 1;
            }
            assert!([0, 0x1000, 0x100, 0x101].contains(&p.header.pid.0));
        }
        let (pes, d) = demux(&out);
        let pat = d.programs().pat().unwrap();
        assert_eq!(pat.programs, vec![(1, Pid(0x1000))]);
        let pmt = d.programs().program(1).unwrap().pmt.clone().unwrap();
        assert_eq!(pmt.pcr_pid, Pid(0x100));
        assert_eq!(pmt.streams.len(), 2);
        let v: Vec<&Pes> = pes.iter().filter(|p| p.pid == Pid(0x100)).collect();
        assert_eq!(v[0].payload, video);
        assert_eq!(v[0].pts, Some(12003));
        assert_eq!(v[0].dts, Some(9000));
        assert_eq!(v[1].payload, &video[..100]);
        let audio = pes.iter().find(|p| p.pid == Pid(0x101)).unwrap();
        assert_eq!(audio.payload, [1, 2, 3]);
        assert_eq!(audio.dts, None);
        assert_eq!(pcrs, 2);
    }

    #[test]
    fn repeats_psi_every_100_ms_and_wraps_timestamps() {
        let mut mux = TsMuxer::new(&streams(), 0);
        let mut out = Vec::new();
        let base = (1i64 << 33) - 4500;
        for i in 0..10 {
            mux.write(
                1,
                base + i * 3000,
                base + i * 3000,
                false,
                &[0; 10],
                &mut out,
            )
            .unwrap();
        }
        let pats = out
            .chunks(PACKET_SIZE)
            .filter(|c| TsPacket::parse(c).unwrap().header.pid == Pid::PAT)
            .count();
        // DTS 0, 3000, ... 27000: PSI at 0, 9000, 18000, 27000.
        assert_eq!(pats, 4);
        assert!(mux.write(5, 0, 0, false, &[], &mut out).is_err());
    }

    #[test]
    fn long_psi_sections_span_packets_instead_of_being_cut() {
        // 40 audio streams with language descriptors: a PMT of about 500 bytes.
        let audio: Vec<Pid> = (0..40).map(|i| Pid(0x200 + i)).collect();
        let streams = h264_aac_streams(Pid(0x100), &audio);
        let mut mux = TsMuxer::new(&streams, 0);
        for i in 1..streams.len() {
            mux.set_es_info(i, iso_639_descriptor(*b"eng", 0)).unwrap();
        }
        let mut out = Vec::new();
        mux.write(0, 0, 0, true, &[0, 0, 1, 0x65], &mut out)
            .unwrap();
        let pmt_packets = out
            .chunks(PACKET_SIZE)
            .filter(|c| TsPacket::parse(c).unwrap().header.pid == Pid(0x1000))
            .count();
        assert!(pmt_packets >= 3, "{pmt_packets}");
        let (_, d) = demux(&out);
        let pmt = d.programs().program(1).unwrap().pmt.clone().unwrap();
        assert_eq!(pmt.streams.len(), 41);
        assert!(pmt.streams[40].languages()[0].is(b"eng"));
        assert_eq!(d.stats().continuity_errors, 0);
    }
}
