//! Seams: the places where the input the pipeline decodes changes under it — an input
//! switch (failover, switch back; the feed says so with
//! [`Transcoder::input_changed`](crate::Transcoder::input_changed)), or a timeline jump
//! within one input (the encoder behind it restarted, or it came back after a loss).
//!
//! This module holds the sans-IO parts of the seam logic; [`crate::transcode::Pipeline`]
//! applies them:
//!
//! - [`Timeline`] finds a jump: a stream's decoding time going backwards, or forwards by
//!   more than [`MAX_STEP`]; right after one, the other stream's access units still on
//!   the old timeline are [`Step::Stale`] (dropped, not another jump).
//! - [`random_access`] says whether an H.264 access unit can start decoding: an IDR
//!   slice, or a recovery point SEI.
//! - [`AudioHold`] keeps the new input's audio until its first picture fixes the one
//!   offset that maps both streams onto the output timeline.
//!
//! At a seam the pipeline drains and flushes its decoders (a switch also drops the
//! demuxer's partial packets), drops video access units until [`random_access`], keeps
//! the output cadence filled with the last good picture and silence, and maps the first
//! good picture of the new input onto the next output slot; audio and video share that
//! offset, so lip sync is the input's own.

use std::collections::VecDeque;

use media::h264::{nal_type, nal_units, NAL_IDR};

use crate::demux::{Access, StreamKind};
use crate::CLOCK;

/// The largest forward step between two access units of one stream that is not a jump
/// (90 kHz): one second.
pub const MAX_STEP: i64 = CLOCK;

/// Audio kept while a seam waits for its first picture (90 kHz of input time): older
/// access units are dropped first.
pub const MAX_HELD_AUDIO: i64 = 3 * CLOCK;

/// nal_unit_type of a supplemental enhancement information unit.
const NAL_SEI: u8 = 6;
/// SEI payloadType of a recovery point.
const SEI_RECOVERY_POINT: u8 = 6;

/// Whether an H.264 Annex B access unit is a random access point: it holds an IDR slice,
/// or starts with a recovery point SEI (open-GOP and intra-refresh streams).
pub fn random_access(au: &[u8]) -> bool {
    nal_units(au).any(|nal| match nal_type(nal) {
        Some(NAL_IDR) => true,
        Some(NAL_SEI) => nal.get(1) == Some(&SEI_RECOVERY_POINT),
        _ => false,
    })
}

/// What an access unit's decoding time says about its stream's timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// It goes on (or starts).
    Continues,
    /// It broke: earlier than the one before, or more than [`MAX_STEP`] later.
    Jumped,
    /// Just after a jump, an access unit of the other stream still on the old timeline
    /// (more than [`MAX_SKEW`] from where the new one started): the old input's last.
    Stale,
}

/// Watches the decoding times of the video and the audio stream for a jump (sans-IO).
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    last: [Option<i64>; 2],
    /// Where the timeline restarted after a jump.
    restart: Option<i64>,
}

/// How far apart the two streams of one input may be muxed (90 kHz): two seconds.
pub const MAX_SKEW: i64 = 2 * CLOCK;

impl Timeline {
    /// Records an access unit's decoding time, unless it is [`Step::Stale`].
    pub fn step(&mut self, kind: StreamKind, dts: i64) -> Step {
        let restart = self.restart;
        let [video, audio] = &mut self.last;
        let slot = match kind {
            StreamKind::Video => video,
            StreamKind::Audio => audio,
        };
        match *slot {
            Some(last) => {
                *slot = Some(dts);
                if dts < last || dts - last > MAX_STEP {
                    Step::Jumped
                } else {
                    Step::Continues
                }
            }
            None if restart.is_some_and(|r| (dts - r).abs() > MAX_SKEW) => Step::Stale,
            None => {
                *slot = Some(dts);
                Step::Continues
            }
        }
    }

    /// True if the access unit broke its stream's timeline ([`step`](Self::step)).
    pub fn jumped(&mut self, kind: StreamKind, dts: i64) -> bool {
        self.step(kind, dts) == Step::Jumped
    }

    /// The timeline jumped to `dts` of stream `kind`: the other stream starts again
    /// near it (its access units far from it are [`Step::Stale`]).
    pub fn restart(&mut self, kind: StreamKind, dts: i64) {
        self.clear();
        self.restart = Some(dts);
        self.step(kind, dts);
    }

    /// Forgets both streams (a new input starts).
    pub fn clear(&mut self) {
        self.last = [None; 2];
        self.restart = None;
    }
}

/// The audio access units of a new input, kept in order until its first picture is
/// decoded; at most [`MAX_HELD_AUDIO`] of them (the oldest go first).
#[derive(Clone, Debug, Default)]
pub struct AudioHold {
    units: VecDeque<Access>,
    dropped: u64,
}

impl AudioHold {
    /// Keeps one audio access unit.
    pub fn push(&mut self, access: Access) {
        let newest = access.pts;
        self.units.push_back(access);
        while self
            .units
            .front()
            .is_some_and(|a| newest - a.pts > MAX_HELD_AUDIO || a.pts > newest)
        {
            self.units.pop_front();
            self.dropped += 1;
        }
    }

    /// Access units dropped because the hold was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The units kept, oldest first.
    pub fn take(&mut self) -> VecDeque<Access> {
        std::mem::take(&mut self.units)
    }

    /// Number of units kept.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// True when nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

/// Where the first picture after a seam goes on the output timeline: the next fill slot
/// when the output was being filled, else the next output slot of the renditions'
/// cadence (`grid`), else one picture after the last (`next`); `None` when nothing was
/// output yet (the offset stays).
pub fn seam_slot(fill: Option<i64>, grid: Option<i64>, next: Option<i64>) -> Option<i64> {
    fill.or(grid).or(next)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn audio(pts: i64) -> Access {
        Access {
            kind: StreamKind::Audio,
            pts,
            dts: pts,
            data: vec![0xFF, 0xF1],
            discontinuity: false,
        }
    }

    #[test]
    fn random_access_points() {
        // AUD, SPS, PPS, IDR slice.
        let idr = [
            0, 0, 0, 1, 9, 0xF0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xCE, 0, 0, 1, 0x65, 0x88,
        ];
        assert!(random_access(&idr));
        // AUD, non-IDR slice.
        assert!(!random_access(&[0, 0, 0, 1, 9, 0xF0, 0, 0, 1, 0x41, 0x9A]));
        // Parameter sets alone are not enough.
        assert!(!random_access(&[0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xCE]));
        // A recovery point SEI (payloadType 6) opens an intra-refresh stream; user data
        // (payloadType 5) does not.
        assert!(random_access(&[
            0, 0, 1, 0x06, 6, 1, 0x84, 0, 0, 1, 0x41, 0x9A
        ]));
        assert!(!random_access(&[
            0, 0, 1, 0x06, 5, 1, 0x84, 0, 0, 1, 0x41, 0x9A
        ]));
        assert!(!random_access(&[]));
    }

    #[test]
    fn jumps_are_backwards_or_a_second_forwards_per_stream() {
        let mut t = Timeline::default();
        assert!(!t.jumped(StreamKind::Video, 900_000));
        assert!(!t.jumped(StreamKind::Video, 903_000));
        // Audio has its own timeline (muxed ahead of video, say).
        assert!(!t.jumped(StreamKind::Audio, 950_000));
        assert!(!t.jumped(StreamKind::Audio, 951_920));
        // Dropped pictures (under a second) are no jump.
        assert!(!t.jumped(StreamKind::Video, 903_000 + 80_000));
        // An encoder restart: back to 1.4 s.
        assert!(t.jumped(StreamKind::Video, 126_000));
        assert!(!t.jumped(StreamKind::Video, 129_000));
        assert!(t.jumped(StreamKind::Audio, 126_000));
        // Forwards by more than a second.
        assert!(t.jumped(StreamKind::Video, 129_000 + MAX_STEP + 1));
        t.clear();
        assert!(!t.jumped(StreamKind::Video, 5));
        assert!(!t.jumped(StreamKind::Audio, 1 << 40));
    }

    #[test]
    fn after_a_jump_the_old_side_of_the_other_stream_is_stale() {
        let mut t = Timeline::default();
        t.step(StreamKind::Video, 1_800_000);
        t.step(StreamKind::Audio, 1_790_000);
        // The new encoder's video comes first: a jump; the timeline restarts there.
        assert_eq!(t.step(StreamKind::Video, 126_000), Step::Jumped);
        t.restart(StreamKind::Video, 126_000);
        // The old encoder's last audio PES (ended by the new one's first): stale, and
        // it does not make the new audio a jump.
        assert_eq!(t.step(StreamKind::Audio, 1_791_920), Step::Stale);
        assert_eq!(t.step(StreamKind::Audio, 124_080), Step::Continues);
        assert_eq!(t.step(StreamKind::Audio, 126_000), Step::Continues);
        assert_eq!(t.step(StreamKind::Video, 129_000), Step::Continues);
        // Once both streams are on it, a later jump is a jump again.
        assert_eq!(t.step(StreamKind::Audio, 1_000), Step::Jumped);
    }

    #[test]
    fn audio_hold_keeps_the_newest_seconds_in_order() {
        let mut h = AudioHold::default();
        assert!(h.is_empty());
        for i in 0..200 {
            h.push(audio(i * 1920));
        }
        // 3 s of 1920-tick frames: 141 frames (0..=140 steps back from the newest).
        assert_eq!(h.len(), 141);
        assert_eq!(h.dropped(), 59);
        let kept = h.take();
        assert_eq!(kept.front().unwrap().pts, 59 * 1920);
        assert_eq!(kept.back().unwrap().pts, 199 * 1920);
        assert!(h.is_empty());
        // Time going back (a second jump before the picture): only the new timeline stays.
        h.push(audio(10_000_000));
        h.push(audio(5_000));
        assert_eq!(
            h.take().into_iter().map(|a| a.pts).collect::<Vec<_>>(),
            [5_000]
        );
    }

    #[test]
    fn the_first_picture_takes_the_fill_slot_then_the_grid() {
        assert_eq!(seam_slot(Some(30), Some(20), Some(21)), Some(30));
        assert_eq!(seam_slot(None, Some(20), Some(21)), Some(20));
        assert_eq!(seam_slot(None, None, Some(21)), Some(21));
        assert_eq!(seam_slot(None, None, None), None);
    }
}
