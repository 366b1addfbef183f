//! Program selection and elementary-stream extraction from an MPEG-TS input.
//!
//! [`Demuxer`] is a thin selection layer over [`media::demux::Demuxer`], which does the
//! transport work (sync, continuity with duplicate packets dropped, PAT → PMT → streams,
//! PES assembly, 33-bit PTS/DTS unwrapping with [`media::pes::Timestamp::extend`]). Feed
//! it datagrams (any cut; a trailing partial packet is kept for the next call) and take
//! [`Access`] units back. It follows the selected program (the first of the PAT unless
//! told otherwise) and picks the first H.264 stream ([`stream_type::H264`]) and the first
//! AAC ADTS stream ([`stream_type::AAC_ADTS`]) — or the audio PID asked for, or the AAC
//! stream whose ISO 639 language descriptor carries the language asked for
//! ([`LanguageSelection`]).
//!
//! Audio selection is redone on every PMT: a PID selection follows its PID; a language
//! selection takes the first AAC stream in that language, and when there is none, LOOSE
//! keeps the AAC stream it has (or takes the first one) while STRICT takes none (no audio
//! until the language is back, as MediaLive's `languageSelectionPolicy` says).

use std::collections::VecDeque;

use media::demux::{self, Event, Pes};
use media::psi::{stream_type, Pmt};
use media::ts::Pid;

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
    /// The first access unit after the selected program's PAT or PMT changed (a new
    /// version or content): the input may have been replaced (see [`crate::seam`]).
    pub discontinuity: bool,
}

pub use live_config::{LanguageSelection, Selection};

/// Demultiplexes one program's video and audio. See the [module docs](self).
#[derive(Debug, Default)]
pub struct Demuxer {
    selection: Selection,
    demux: demux::Demuxer,
    video: Option<Pid>,
    audio: Option<Pid>,
    ready: VecDeque<Access>,
    /// PES packets without a PTS.
    untimed: u64,
    /// A PAT / PMT of the selected program was seen (the first one is no change).
    seen_pat: bool,
    seen_pmt: bool,
    /// The selected program's tables changed: the next access unit says so.
    discontinuity: bool,
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
        self.demux.push(data);
        self.pump();
    }

    /// Ends the input: emits the PES packets still being collected.
    pub fn flush(&mut self) {
        self.demux.flush();
        self.pump();
    }

    /// Takes the oldest complete access unit.
    pub fn pop(&mut self) -> Option<Access> {
        self.ready.pop_front()
    }

    /// Bytes skipped to find sync and unreadable packets, plus continuity errors,
    /// unreadable tables, lost PES packets and PES packets without a PTS.
    pub fn errors(&self) -> u64 {
        let s = self.demux.stats();
        s.skipped_bytes
            + s.bad_packets
            + s.transport_errors
            + s.continuity_errors
            + s.table_errors
            + s.pes_errors
            + self.untimed
    }

    fn pump(&mut self) {
        while let Some(event) = self.demux.poll() {
            match event {
                Event::Pat { changed } => {
                    self.discontinuity |= changed && self.seen_pat;
                    self.seen_pat = true;
                    self.reselect();
                }
                Event::Pmt {
                    program_number,
                    changed,
                    ..
                } => {
                    if self.selected_program() == Some(program_number) {
                        self.discontinuity |= changed && self.seen_pmt;
                        self.seen_pmt = true;
                    }
                    self.reselect();
                }
                Event::Pes(pes) => self.access(pes),
                _ => {}
            }
        }
    }

    /// The number of the program followed: the one asked for, or the PAT's first.
    fn selected_program(&self) -> Option<u16> {
        self.selection.program.or_else(|| {
            self.demux
                .programs()
                .first_program()
                .map(|program| program.number)
        })
    }

    /// The selected program's PMT, if it arrived.
    fn pmt(&self) -> Option<&Pmt> {
        let programs = self.demux.programs();
        let program = match self.selection.program {
            Some(number) => programs.program(number),
            None => programs.first_program(),
        };
        program.and_then(|p| p.pmt.as_ref())
    }

    /// Picks video and audio from the selected program's current PMT.
    fn reselect(&mut self) {
        let Some(pmt) = self.pmt() else {
            return;
        };
        let video = pmt
            .streams
            .iter()
            .find(|s| s.stream_type == stream_type::H264)
            .map(|s| s.pid);
        let aac = || {
            pmt.streams
                .iter()
                .filter(|s| s.stream_type == stream_type::AAC_ADTS)
        };
        let audio = match (self.selection.audio_pid, self.selection.audio_language) {
            // Only an audio stream: a selector that names the video's PID (the
            // recipe's 256 with ffmpeg's muxer) selects no audio, as on MediaLive.
            (Some(pid), _) => aac().find(|s| s.pid == pid).map(|s| s.pid),
            (None, Some(lang)) => aac()
                .find(|s| s.languages().iter().any(|l| l.is(&lang.code)))
                .map(|s| s.pid)
                .or_else(|| {
                    if lang.strict {
                        return None;
                    }
                    aac()
                        .find(|s| Some(s.pid) == self.audio)
                        .or_else(|| aac().next())
                        .map(|s| s.pid)
                }),
            (None, None) => aac().next().map(|s| s.pid),
        };
        let video_changed = self.video != video;
        let audio_changed = self.audio != audio;
        // A stream that changes PID restarts: its partial PES and timeline are dropped.
        for (changed, old) in [(video_changed, self.video), (audio_changed, self.audio)] {
            if let Some(old) = old.filter(|_| changed) {
                self.demux.deselect(old);
            }
        }
        for (changed, new) in [(video_changed, video), (audio_changed, audio)] {
            if let Some(new) = new.filter(|_| changed) {
                self.demux.select(new);
            }
        }
        self.video = video;
        self.audio = audio;
    }

    fn access(&mut self, pes: Pes) {
        let kind = if Some(pes.pid) == self.video {
            StreamKind::Video
        } else if Some(pes.pid) == self.audio {
            StreamKind::Audio
        } else {
            return;
        };
        let (Some(pts), Some(dts)) = (pes.pts, pes.decode_time()) else {
            self.untimed += 1;
            return;
        };
        self.ready.push_back(Access {
            kind,
            pts,
            dts,
            data: pes.payload,
            discontinuity: std::mem::take(&mut self.discontinuity),
        });
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use media::mux::{h264_aac_streams, MuxStream, TsMuxer};
    use media::ts::TsPacket;

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

    #[test]
    fn an_audio_pid_that_is_not_audio_selects_none() {
        let mut mux = TsMuxer::new(&streams(&[0x101]), 0);
        let mut ts = Vec::new();
        for i in 0..3 {
            mux.write(0, i * 3000, i * 3000, i == 0, &[0, 0, 1, 9], &mut ts)
                .unwrap();
            mux.write(1, i * 1920, i * 1920, false, &[0xFF, 0xF1], &mut ts)
                .unwrap();
        }
        let mut d = Demuxer::new(Selection {
            audio_pid: Some(Pid(0x100)),
            ..Selection::default()
        });
        d.push(&ts);
        d.flush();
        let got = drain(&mut d);
        assert!(!got.is_empty());
        assert!(got.iter().all(|a| a.kind == StreamKind::Video), "{got:?}");
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

    #[test]
    fn a_duplicate_packet_is_not_assembled_twice() {
        let mut mux = TsMuxer::new(&streams(&[0x101]), 0);
        let mut ts = Vec::new();
        let video: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        for i in 0..3 {
            mux.write(0, i * 3000, i * 3000, i == 0, &video, &mut ts)
                .unwrap();
        }
        // Send every video packet twice, as a 2022-7-less link or a muxer may (§2.4.3.3).
        let mut doubled = Vec::new();
        for p in ts.chunks(188) {
            doubled.extend_from_slice(p);
            if TsPacket::parse(p).unwrap().header.pid == Pid(0x100) {
                doubled.extend_from_slice(p);
            }
        }
        let mut d = Demuxer::new(Selection::default());
        d.push(&doubled);
        d.flush();
        let got = drain(&mut d);
        assert_eq!(d.errors(), 0);
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|a| a.data == video), "payload not repeated");
    }

    #[test]
    fn a_new_pmt_version_marks_the_next_access_unit() {
        let mut mux = TsMuxer::new(&streams(&[0x101]), 0);
        let mut ts = Vec::new();
        for i in 0..6 {
            mux.write(1, i * 9000, i * 9000, false, &[i as u8], &mut ts)
                .unwrap();
        }
        // From the middle on, the PMT says version 1 (same streams).
        let pmt = media::psi::Pmt {
            program_number: 1,
            version: 1,
            pcr_pid: Pid(0x100),
            program_info: vec![],
            streams: streams(&[0x101])
                .iter()
                .map(|s| media::psi::PmtStream {
                    stream_type: s.stream_type,
                    pid: s.pid,
                    es_info: vec![],
                })
                .collect(),
        }
        .to_section_bytes();
        let half = ts.len() / 188 / 2;
        for p in ts.chunks_mut(188).skip(half) {
            if TsPacket::parse(p).unwrap().header.pid == Pid(0x1000) {
                let cc = p[3] & 0x0F;
                let mut packet = vec![0x47, 0x50, 0x00, 0x10 | cc, 0x00];
                packet.extend_from_slice(&pmt);
                packet.resize(188, 0xFF);
                p.copy_from_slice(&packet);
            }
        }
        let mut d = Demuxer::new(Selection::default());
        d.push(&ts);
        d.flush();
        let got = drain(&mut d);
        assert_eq!(d.errors(), 0);
        let marks: Vec<bool> = got.iter().map(|a| a.discontinuity).collect();
        assert_eq!(marks.iter().filter(|m| **m).count(), 1, "{marks:?}");
        assert!(!marks[0], "the first PMT is no change");
    }
}
