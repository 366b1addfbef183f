//! The burnt-in timecode: HH:MM:SS:FF (SMPTE ST 12-1 non-drop-frame) at an integer frame
//! rate. Every format of the generator has an integer rate (25 or 30 frames per second), so
//! no drop-frame counting is needed: frame `FF` runs from 00 to rate − 1.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds in a day: the timecode wraps at 24:00:00:00.
const DAY: u64 = 86_400;

/// A time of day in hours, minutes, seconds and frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timecode {
    pub hours: u8,
    pub minutes: u8,
    pub seconds: u8,
    pub frames: u8,
}

impl Timecode {
    /// The timecode of frame `frame` counted from midnight at `fps` frames per second,
    /// wrapping at 24 hours. `fps` is clamped to 1..=255.
    pub fn from_frames(frame: u64, fps: u32) -> Self {
        let fps = u64::from(fps.clamp(1, 255));
        let day = DAY.saturating_mul(fps);
        let frame = frame.checked_rem(day).unwrap_or(0);
        let secs = frame.checked_div(fps).unwrap_or(0);
        let part = |v: u64| u8::try_from(v).unwrap_or(0);
        Self {
            hours: part(secs.checked_div(3600).unwrap_or(0)),
            minutes: part(
                secs.checked_rem(3600)
                    .unwrap_or(0)
                    .checked_div(60)
                    .unwrap_or(0),
            ),
            seconds: part(secs.checked_rem(60).unwrap_or(0)),
            frames: part(frame.checked_rem(fps).unwrap_or(0)),
        }
    }

    /// The frame count since midnight of a time of day `since_midnight` (any duration; whole
    /// days are dropped), rounded down to a frame.
    pub fn frames_of(since_midnight: Duration, fps: u32) -> u64 {
        let fps = u64::from(fps.clamp(1, 255));
        let secs = since_midnight.as_secs().checked_rem(DAY).unwrap_or(0);
        let sub = u64::from(since_midnight.subsec_nanos())
            .saturating_mul(fps)
            .checked_div(1_000_000_000)
            .unwrap_or(0);
        secs.saturating_mul(fps).saturating_add(sub)
    }

    /// The frame count since midnight UTC now: where a generator started now begins its
    /// timecode, so that two generators started together show the same time of day.
    pub fn frames_now_utc(fps: u32) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self::frames_of(now, fps)
    }
}

impl fmt::Display for Timecode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}:{:02}:{:02}",
            self.hours, self.minutes, self.seconds, self.frames
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_frames_into_hours_minutes_seconds_frames() {
        assert_eq!(Timecode::from_frames(0, 30).to_string(), "00:00:00:00");
        assert_eq!(Timecode::from_frames(29, 30).to_string(), "00:00:00:29");
        assert_eq!(Timecode::from_frames(30, 30).to_string(), "00:00:01:00");
        assert_eq!(Timecode::from_frames(24, 25).to_string(), "00:00:00:24");
        assert_eq!(Timecode::from_frames(25, 25).to_string(), "00:00:01:00");
        // 12:34:56 and 7 frames at 25 fps.
        let f = (12 * 3600 + 34 * 60 + 56) * 25 + 7;
        assert_eq!(Timecode::from_frames(f, 25).to_string(), "12:34:56:07");
        // The last frame of the day, then midnight again.
        let day = 86_400 * 30;
        assert_eq!(
            Timecode::from_frames(day - 1, 30).to_string(),
            "23:59:59:29"
        );
        assert_eq!(Timecode::from_frames(day, 30).to_string(), "00:00:00:00");
        assert_eq!(Timecode::from_frames(u64::MAX, 0).frames, 0);
    }

    #[test]
    fn time_of_day_to_frames() {
        let t = Duration::from_millis((3 * 86_400 + 3661) * 1000 + 500);
        // 01:01:01 and half a second: frame 15 at 30 fps, 12 at 25 fps.
        assert_eq!(
            Timecode::from_frames(Timecode::frames_of(t, 30), 30).to_string(),
            "01:01:01:15"
        );
        assert_eq!(
            Timecode::from_frames(Timecode::frames_of(t, 25), 25).to_string(),
            "01:01:01:12"
        );
        assert!(Timecode::frames_now_utc(30) < 86_400 * 30);
    }
}
