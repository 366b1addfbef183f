//! A synthetic MPEG-TS program: PAT, PMT, H.264 video PES (IDR at chosen frames) and
//! AAC audio PES, interleaved by time.

use media::pes::Timestamp;
use media::psi::{Pat, Pmt, PmtStream};
use media::ts::{write_packet, Pid, TsHeader, PACKET_SIZE};

pub const PMT_PID: Pid = Pid(0x1000);
pub const VIDEO_PID: Pid = Pid(0x100);
pub const AUDIO_PID: Pid = Pid(0x101);
/// 25 fps in 90 kHz ticks.
pub const FRAME: u64 = 3600;
/// 1024 AAC samples at 48 kHz.
pub const AUDIO_FRAME: u64 = 1920;

#[derive(Default)]
pub struct Muxer {
    cc: std::collections::HashMap<u16, u8>,
    pub out: Vec<u8>,
}

impl Muxer {
    fn next_cc(&mut self, pid: Pid) -> u8 {
        let cc = self.cc.entry(pid.0).or_insert(0);
        let now = *cc;
        *cc = (*cc + 1) & 0x0F;
        now
    }

    /// Splits `payload` over packets of `pid`, the first with PUSI.
    pub fn packetize(&mut self, pid: Pid, payload: &[u8]) {
        for (i, chunk) in payload.chunks(184).enumerate() {
            let header = TsHeader {
                pusi: i == 0,
                pid,
                has_payload: true,
                cc: self.next_cc(pid),
                ..TsHeader::default()
            };
            let mut packet = [0u8; PACKET_SIZE];
            write_packet(&header, None, chunk, &mut packet).unwrap();
            self.out.extend_from_slice(&packet);
        }
    }

    pub fn psi(&mut self) {
        let pat = Pat {
            transport_stream_id: 1,
            version: 0,
            programs: vec![(1, PMT_PID)],
        };
        let pmt = Pmt {
            program_number: 1,
            version: 0,
            pcr_pid: VIDEO_PID,
            program_info: vec![],
            streams: vec![
                PmtStream {
                    stream_type: media::psi::stream_type::H264,
                    pid: VIDEO_PID,
                    es_info: vec![],
                },
                PmtStream {
                    stream_type: media::psi::stream_type::AAC_ADTS,
                    pid: AUDIO_PID,
                    es_info: vec![],
                },
            ],
        };
        let mut section = vec![0];
        section.extend(pat.to_section_bytes());
        self.packetize(Pid::PAT, &section);
        let mut section = vec![0];
        section.extend(pmt.to_section_bytes());
        self.packetize(PMT_PID, &section);
    }
}

pub fn pes(stream_id: u8, pts: u64, body: &[u8], bounded: bool) -> Vec<u8> {
    let len = if bounded { 3 + 5 + body.len() } else { 0 };
    let mut out = vec![0, 0, 1, stream_id];
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&[0x80, 0x80, 5]);
    out.extend_from_slice(&Timestamp(pts).write(0b0010));
    out.extend_from_slice(body);
    out
}

/// An access unit: AUD, then SPS+PPS+IDR slice or a non-IDR slice, padded to `size`.
pub fn access_unit(idr: bool, size: usize) -> Vec<u8> {
    let mut au = vec![0, 0, 0, 1, 0x09, 0xF0];
    if idr {
        au.extend_from_slice(&[0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1F, 0xAC]);
        au.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xEE, 0x3C, 0x80]);
        au.extend_from_slice(&[0, 0, 1, 0x65, 0x88]);
    } else {
        au.extend_from_slice(&[0, 0, 1, 0x41, 0x9A]);
    }
    au.resize(size.max(au.len()), 0x55);
    au
}

/// A stream of `frames` video frames from `start_pts` (wrapping at 2^33) with IDRs where
/// `is_idr(frame)` says, audio alongside, PAT/PMT every 10 frames.
pub fn program(frames: u64, start_pts: u64, is_idr: impl Fn(u64) -> bool) -> Vec<u8> {
    program_sized(frames, start_pts, is_idr, 700)
}

/// [`program`] with access units of `size` bytes (another rendition of the same
/// pictures: same timestamps and IDRs, another bitrate).
pub fn program_sized(
    frames: u64,
    start_pts: u64,
    is_idr: impl Fn(u64) -> bool,
    size: usize,
) -> Vec<u8> {
    let mut mux = Muxer::default();
    let mut audio_t = 0u64;
    for frame in 0..frames {
        if frame % 10 == 0 {
            mux.psi();
        }
        let t = frame * FRAME;
        let pts = (start_pts + t) % (1 << 33);
        mux.packetize(
            VIDEO_PID,
            &pes(0xE0, pts, &access_unit(is_idr(frame), size), false),
        );
        while audio_t < t + FRAME {
            let apts = (start_pts + audio_t) % (1 << 33);
            mux.packetize(AUDIO_PID, &pes(0xC0, apts, &[0xFF; 200], true));
            audio_t += AUDIO_FRAME;
        }
    }
    mux.out
}
