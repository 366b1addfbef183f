//! RTMP media to MPEG-TS: the session's [`Event::Video`] and [`Event::Audio`] through
//! the workspace multiplexer ([`media::mux::TsMuxer`]), so that an RTMP push enters the
//! channel engine like any TS input.
//!
//! One program: H.264 on PID 0x100 (carrying the PCR), AAC in ADTS on PID 0x101, the
//! layout of every onair output ([`media::mux::h264_aac_streams`]). RTMP timestamps are
//! 32-bit milliseconds on one timeline for both streams; they are unwrapped once
//! ([`Timeline::extend`]) and scaled to 90 kHz: DTS = timestamp × 90, PTS =
//! (timestamp + composition time) × 90, shifted by [`ORIGIN`] so that a negative composition
//! offset or a slightly late first audio frame never gives a negative PTS.

use media::mux::{h264_aac_streams, TsMuxer};
use media::ts::Pid;

use crate::flv::{AudioFrame, VideoFrame};
use crate::{Error, Event};

/// PID of the video stream.
pub const VIDEO_PID: Pid = Pid(0x100);
/// PID of the audio stream.
pub const AUDIO_PID: Pid = Pid(0x101);
/// 90 kHz ticks added to every timestamp: one second.
pub const ORIGIN: i64 = 90_000;
/// Unwrapped timestamps are kept within ±2^40 ms (35 years) of the first.
const LIMIT_MS: i64 = 1 << 40;

/// Unwraps 32-bit millisecond timestamps onto a 64-bit timeline: each step is taken
/// as the shorter way round (at most 2^31 ms forward or back).
#[derive(Clone, Copy, Debug, Default)]
pub struct Timeline {
    last: Option<(u32, i64)>,
}

impl Timeline {
    /// The unwrapped value of `ms`.
    pub fn extend(&mut self, ms: u32) -> i64 {
        let value = match self.last {
            None => i64::from(ms),
            Some((raw, value)) => {
                // The signed distance from the last raw value, wrapping.
                let step = ms.wrapping_sub(raw) as i32;
                value
                    .saturating_add(i64::from(step))
                    .clamp(-LIMIT_MS, LIMIT_MS)
            }
        };
        self.last = Some((ms, value));
        value
    }
}

/// Muxes a session's media events into TS packets. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct TsAdapter {
    mux: TsMuxer,
    timeline: Timeline,
}

impl Default for TsAdapter {
    fn default() -> Self {
        Self::new()
    }
}

fn ticks(ms: i64) -> i64 {
    ms.saturating_mul(90).saturating_add(ORIGIN)
}

impl TsAdapter {
    /// A muxer for H.264 on [`VIDEO_PID`] and AAC on [`AUDIO_PID`].
    pub fn new() -> Self {
        Self {
            mux: TsMuxer::new(&h264_aac_streams(VIDEO_PID, &[AUDIO_PID]), 0),
            timeline: Timeline::default(),
        }
    }

    /// Appends the packets of a media event to `out`; other events write nothing.
    /// Returns whether the event was media.
    pub fn push(&mut self, event: &Event, out: &mut Vec<u8>) -> Result<bool, Error> {
        match event {
            Event::Video(frame) => self.video(frame, out).map(|()| true),
            Event::Audio(frame) => self.audio(frame, out).map(|()| true),
            _ => Ok(false),
        }
    }

    /// Appends the packets of one access unit to `out`.
    pub fn video(&mut self, frame: &VideoFrame, out: &mut Vec<u8>) -> Result<(), Error> {
        let dts_ms = self.timeline.extend(frame.timestamp_ms);
        let pts_ms = dts_ms.saturating_add(i64::from(frame.composition_ms));
        self.mux.write(
            0,
            ticks(pts_ms),
            ticks(dts_ms),
            frame.keyframe,
            &frame.data,
            out,
        )?;
        Ok(())
    }

    /// Appends the packets of one audio frame to `out`.
    pub fn audio(&mut self, frame: &AudioFrame, out: &mut Vec<u8>) -> Result<(), Error> {
        let ms = self.timeline.extend(frame.timestamp_ms);
        self.mux
            .write(1, ticks(ms), ticks(ms), false, &frame.data, out)?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn timeline_unwraps() {
        let mut t = Timeline::default();
        assert_eq!(t.extend(u32::MAX - 10), i64::from(u32::MAX - 10));
        assert_eq!(t.extend(5), i64::from(u32::MAX) + 6);
        assert_eq!(t.extend(2), i64::from(u32::MAX) + 3);
        let mut t = Timeline::default();
        assert_eq!(t.extend(100), 100);
        assert_eq!(t.extend(90), 90);
    }

    #[test]
    fn muxes_both_streams() {
        let mut adapter = TsAdapter::new();
        let mut out = Vec::new();
        let video = Event::Video(VideoFrame {
            timestamp_ms: 0,
            composition_ms: 40,
            keyframe: true,
            data: vec![0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x65, 0x88],
        });
        assert!(adapter.push(&video, &mut out).unwrap());
        let audio = Event::Audio(AudioFrame {
            timestamp_ms: 3,
            sample_rate: 48_000,
            channels: 2,
            data: vec![0xFF, 0xF1, 0x4C, 0x80, 0x01, 0x3F, 0xFC, 1, 2],
        });
        assert!(adapter.push(&audio, &mut out).unwrap());
        assert!(!adapter.push(&Event::Unpublish, &mut out).unwrap());
        assert_eq!(out.len() % 188, 0);
        // PAT, PMT, one video packet, one audio packet.
        assert_eq!(out.len(), 4 * 188);
        assert!(out.chunks(188).all(|p| p[0] == 0x47));
    }
}
