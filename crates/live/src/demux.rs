//! Program selection and elementary-stream extraction from an MPEG-TS input.
//!
//! [`Demuxer`] is sans-IO: feed it datagrams (whole 188-byte packets; a trailing partial
//! packet is kept for the next call) and take [`Access`] units back. It follows the PAT to
//! the selected program's PMT (the first program unless told otherwise), picks the first
//! H.264 stream (stream_type 0x1B) and the first AAC ADTS stream (0x0F) — or the audio PID
//! asked for, or the AAC stream whose ISO 639 language descriptor carries the language asked
//! for ([`LanguageSelection`]) — and rebuilds their PES packets with
//! [`media::pes::PesAssembler`]. PTS and DTS are unwrapped from 33 bits onto one 64-bit
//! timeline per stream with [`media::pes::Timestamp::extend`].
//!
//! Audio selection is redone on every PMT: a PID selection follows its PID; a language
//! selection takes the first AAC stream in that language, and when there is none, LOOSE
//! keeps the AAC stream it has (or takes the first one) while STRICT takes none (no audio
//! until the language is back, as MediaLive's `languageSelectionPolicy` says).

use std::collections::VecDeque;

use media::pes::{PesAssembler, PesPacket, Timestamp};
use media::psi::stream_type::{AAC_ADTS as STREAM_TYPE_AAC_ADTS, H264 as STREAM_TYPE_H264};
use media::psi::{Pat, Pmt, Section, SectionAssembler};
use media::ts::{Pid, TsPacket, PACKET_SIZE, SYNC_BYTE};

/// Which elementary stream an access unit belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    /// H.264 video (Annex B byte stream).
    Video,
    /// AAC audio in ADTS frames.
    Audio,
}

/// One PES payload with unwrapped 90 kHz timestamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// Video or audio.
    pub kind: StreamKind,
    /// Presentation time, 90 kHz.
    pub pts: i64,
    /// Decoding time, 90 kHz (the PTS when the PES carries no DTS).
    pub dts: i64,
    /// The elementary stream bytes.
    pub data: Vec<u8>,
}

pub use live_config::{LanguageSelection, Selection};

#[derive(Debug, Default)]
struct Track {
    pid: Option<Pid>,
    pes: PesAssembler,
    cc: Option<u8>,
    last: Option<i64>,
}

impl Track {
    fn timestamps(&mut self, packet: &PesPacket) -> Option<(i64, i64)> {
        let pts = packet.header.pts?;
        let dts = packet.header.dts.unwrap_or(pts);
        let dts = extend(dts, self.last);
        let pts = extend(pts, Some(dts));
        self.last = Some(dts);
        Some((pts, dts))
    }
}

fn extend(t: Timestamp, previous: Option<i64>) -> i64 {
    t.extend(previous.unwrap_or(t.value() as i64))
}

/// Demultiplexes one program's video and audio. See the [module docs](self).
#[derive(Debug, Default)]
pub struct Demuxer {
    selection: Selection,
    carry: Vec<u8>,
    pat: SectionAssembler,
    pmt_pid: Option<Pid>,
    pmt: SectionAssembler,
    video: Track,
    audio: Track,
    ready: VecDeque<Access>,
    errors: u64,
}

impl Demuxer {
    /// A demuxer selecting streams as `selection` says.
    pub fn new(selection: Selection) -> Self {
        Self {
            selection,
            ..Self::default()
        }
    }

    /// Feeds received bytes (normally whole TS packets).
    pub fn push(&mut self, data: &[u8]) {
        self.carry.extend_from_slice(data);
        let mut start = 0;
        while let Some(chunk) = self.carry.get(start..start + PACKET_SIZE) {
            if chunk.first() != Some(&SYNC_BYTE) {
                // Resynchronise on the next sync byte.
                self.errors += 1;
                start += 1;
                continue;
            }
            let chunk: Vec<u8> = chunk.to_vec();
            start += PACKET_SIZE;
            self.packet(&chunk);
        }
        self.carry.drain(..start.min(self.carry.len()));
    }

    /// Ends the input: emits the PES packets still being collected.
    pub fn flush(&mut self) {
        self.video.pes.flush();
        self.audio.pes.flush();
        self.drain_pes();
    }

    /// Takes the oldest complete access unit.
    pub fn pop(&mut self) -> Option<Access> {
        self.ready.pop_front()
    }

    /// Packets dropped as unreadable, plus continuity errors and lost PES packets.
    pub fn errors(&self) -> u64 {
        self.errors + self.video.pes.errors() + self.audio.pes.errors()
    }

    fn packet(&mut self, data: &[u8]) {
        let Ok(p) = TsPacket::parse(data) else {
            self.errors += 1;
            return;
        };
        if p.header.tei {
            self.errors += 1;
            return;
        }
        let pid = p.header.pid;
        let payload = p.payload.unwrap_or(&[]);
        if pid == Pid::PAT {
            self.pat.push_packet(&p);
            while let Some(bytes) = self.pat.pop() {
                self.on_pat(&bytes);
            }
        } else if Some(pid) == self.pmt_pid {
            self.pmt.push_packet(&p);
            while let Some(bytes) = self.pmt.pop() {
                self.on_pmt(&bytes);
            }
        } else {
            for track in [&mut self.video, &mut self.audio] {
                if track.pid != Some(pid) || p.payload.is_none() {
                    continue;
                }
                if let Some(cc) = track.cc {
                    if p.header.cc != (cc + 1) & 0x0F && p.header.cc != cc && !p.discontinuity {
                        self.errors += 1;
                        track.pes.reset();
                    }
                }
                track.cc = Some(p.header.cc);
                track.pes.push(p.header.pusi, payload);
            }
            self.drain_pes();
        }
    }

    fn on_pat(&mut self, bytes: &[u8]) {
        let Ok(pat) = Section::parse(bytes).and_then(|s| Pat::parse(&s)) else {
            self.errors += 1;
            return;
        };
        let chosen = pat
            .programs
            .iter()
            .filter(|(number, _)| *number != 0)
            .find(|(number, _)| self.selection.program.is_none_or(|want| want == *number));
        if let Some(&(_, pid)) = chosen {
            if self.pmt_pid != Some(pid) {
                self.pmt_pid = Some(pid);
                self.pmt.reset();
            }
        }
    }

    fn on_pmt(&mut self, bytes: &[u8]) {
        let Ok(pmt) = Section::parse(bytes).and_then(|s| Pmt::parse(&s)) else {
            self.errors += 1;
            return;
        };
        let video = pmt
            .streams
            .iter()
            .find(|s| s.stream_type == STREAM_TYPE_H264)
            .map(|s| s.pid);
        let aac = || {
            pmt.streams
                .iter()
                .filter(|s| s.stream_type == STREAM_TYPE_AAC_ADTS)
        };
        let audio = match (self.selection.audio_pid, self.selection.audio_language) {
            (Some(pid), _) => pmt.streams.iter().find(|s| s.pid == pid).map(|s| s.pid),
            (None, Some(lang)) => aac()
                .find(|s| s.languages().iter().any(|l| l.is(&lang.code)))
                .map(|s| s.pid)
                .or_else(|| {
                    if lang.strict {
                        return None;
                    }
                    aac()
                        .find(|s| Some(s.pid) == self.audio.pid)
                        .or_else(|| aac().next())
                        .map(|s| s.pid)
                }),
            (None, None) => aac().next().map(|s| s.pid),
        };
        if self.video.pid != video {
            self.video = Track {
                pid: video,
                ..Track::default()
            };
        }
        if self.audio.pid != audio {
            self.audio = Track {
                pid: audio,
                ..Track::default()
            };
        }
    }

    fn drain_pes(&mut self) {
        for (track, kind) in [
            (&mut self.video, StreamKind::Video),
            (&mut self.audio, StreamKind::Audio),
        ] {
            while let Some(packet) = track.pes.pop() {
                let Some((pts, dts)) = track.timestamps(&packet) else {
                    self.errors += 1;
                    continue;
                };
                self.ready.push_back(Access {
                    kind,
                    pts,
                    dts,
                    data: packet.payload,
                });
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use media::mux::{h264_aac_streams, MuxStream, TsMuxer};

    const WRAP: i64 = 1 << 33;

    fn streams(audio_pids: &[u16]) -> Vec<MuxStream> {
        let audio: Vec<Pid> = audio_pids.iter().copied().map(Pid).collect();
        h264_aac_streams(Pid(0x100), &audio)
    }

    fn drain(d: &mut Demuxer) -> Vec<Access> {
        std::iter::from_fn(|| d.pop()).collect()
    }

    #[test]
    fn unwraps_33_bit_timestamps_across_odd_datagrams() {
        let mut mux = TsMuxer::new(&streams(&[0x101]), 0);
        let mut ts = Vec::new();
        let start = WRAP - 6000;
        for i in 0..6 {
            let t = start + i * 3000;
            mux.write(0, t + 3000, t, i == 0, &[0, 0, 1, 9, i as u8], &mut ts)
                .unwrap();
            mux.write(1, t, t, false, &[0xFF, 0xF1, i as u8], &mut ts)
                .unwrap();
        }
        let mut d = Demuxer::new(Selection::default());
        // Datagrams that split packets: the demuxer must carry the remainder.
        for chunk in ts.chunks(1000) {
            d.push(chunk);
        }
        d.flush();
        let got = drain(&mut d);
        assert_eq!(d.errors(), 0);
        let video: Vec<(i64, i64)> = got
            .iter()
            .filter(|a| a.kind == StreamKind::Video)
            .map(|a| (a.pts, a.dts))
            .collect();
        let first = start % WRAP;
        let expect: Vec<(i64, i64)> = (0..6)
            .map(|i| (first + i * 3000 + 3000, first + i * 3000))
            .collect();
        assert_eq!(video, expect, "continuous across the 2^33 wrap");
        let audio: Vec<&Access> = got.iter().filter(|a| a.kind == StreamKind::Audio).collect();
        assert_eq!(audio.len(), 6);
        assert_eq!(audio[5].pts, first + 15000);
        assert_eq!(audio[2].data, [0xFF, 0xF1, 2]);
    }

    #[test]
    fn selects_audio_by_pid_and_counts_continuity_errors() {
        let mut mux = TsMuxer::new(&streams(&[0x101, 0x102]), 0);
        let mut ts = Vec::new();
        for i in 0..3 {
            mux.write(1, i * 1920, i * 1920, false, &[1], &mut ts)
                .unwrap();
            mux.write(2, i * 1920, i * 1920, false, &[2], &mut ts)
                .unwrap();
        }
        let mut d = Demuxer::new(Selection {
            program: Some(1),
            audio_pid: Some(Pid(0x102)),
            ..Selection::default()
        });
        d.push(&ts);
        d.flush();
        let got = drain(&mut d);
        assert_eq!(got.len(), 3);
        assert!(got
            .iter()
            .all(|a| a.data == [2] && a.kind == StreamKind::Audio));

        // Drop one audio packet of PID 0x102: a continuity error, the rest still decodes.
        let mut lossy = Vec::new();
        let mut seen = 0;
        for p in ts.chunks(188) {
            let pid = TsPacket::parse(p).unwrap().header.pid;
            if pid == Pid(0x102) {
                seen += 1;
                if seen == 2 {
                    continue;
                }
            }
            lossy.extend_from_slice(p);
        }
        let mut d = Demuxer::new(Selection {
            audio_pid: Some(Pid(0x102)),
            ..Selection::default()
        });
        d.push(&lossy);
        d.flush();
        assert_eq!(drain(&mut d).len(), 2);
        assert_eq!(d.errors(), 1);
    }

    /// Two AAC streams (PIDs 0x101 "eng", 0x102 "spa") whose PES carry [1] and [2]: the
    /// muxer's PMT packets are swapped for one with ISO 639 language descriptors.
    fn two_languages() -> Vec<u8> {
        let mut mux = TsMuxer::new(&streams(&[0x101, 0x102]), 0);
        let mut ts = Vec::new();
        for i in 0..3 {
            mux.write(1, i * 1920, i * 1920, false, &[1], &mut ts)
                .unwrap();
            mux.write(2, i * 1920, i * 1920, false, &[2], &mut ts)
                .unwrap();
        }
        let lang = |code: &[u8; 3]| vec![0x0A, 4, code[0], code[1], code[2], 0];
        let pmt = media::psi::Pmt {
            program_number: 1,
            version: 0,
            pcr_pid: Pid(0x100),
            program_info: vec![],
            streams: streams(&[0x101, 0x102])
                .iter()
                .zip([vec![], lang(b"eng"), lang(b"spa")])
                .map(|(s, es_info)| media::psi::PmtStream {
                    stream_type: s.stream_type,
                    pid: s.pid,
                    es_info,
                })
                .collect(),
        }
        .to_section_bytes();
        for p in ts.chunks_mut(188) {
            if TsPacket::parse(p).unwrap().header.pid == Pid(0x1000) {
                let cc = p[3] & 0x0F;
                let mut packet = vec![0x47, 0x50, 0x00, 0x10 | cc, 0x00];
                packet.extend_from_slice(&pmt);
                packet.resize(188, 0xFF);
                p.copy_from_slice(&packet);
            }
        }
        ts
    }

    fn audio_bytes(selection: Selection) -> Vec<u8> {
        let mut d = Demuxer::new(selection);
        d.push(&two_languages());
        d.flush();
        assert_eq!(d.errors(), 0);
        drain(&mut d).into_iter().flat_map(|a| a.data).collect()
    }

    #[test]
    fn selects_audio_by_language() {
        let by = |code: &[u8; 3], strict| Selection {
            audio_language: Some(LanguageSelection {
                code: *code,
                strict,
            }),
            ..Selection::default()
        };
        assert_eq!(audio_bytes(by(b"spa", false)), [2, 2, 2]);
        assert_eq!(audio_bytes(by(b"SPA", true)), [2, 2, 2]);
        assert_eq!(audio_bytes(by(b"eng", true)), [1, 1, 1]);
        // No French: LOOSE takes the first AAC stream, STRICT none.
        assert_eq!(audio_bytes(by(b"fre", false)), [1, 1, 1]);
        assert_eq!(audio_bytes(by(b"fre", true)), Vec::<u8>::new());
        // A PID selection wins over a language.
        let pid = Selection {
            audio_pid: Some(Pid(0x102)),
            ..by(b"eng", true)
        };
        assert_eq!(audio_bytes(pid), [2, 2, 2]);
    }

    #[test]
    fn ignores_garbage_and_an_unselected_program() {
        let mut d = Demuxer::new(Selection {
            program: Some(7),
            ..Selection::default()
        });
        let mut mux = TsMuxer::new(&streams(&[0x101]), 0);
        let mut ts = vec![0u8; 50];
        mux.write(1, 0, 0, false, &[1], &mut ts).unwrap();
        d.push(&ts);
        d.flush();
        assert!(d.pop().is_none());
        assert!(d.errors() > 0);
    }
}
