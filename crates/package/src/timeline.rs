//! The 90 kHz media timeline shared by the [`grid`](crate::grid) and the
//! [`segmenter`](crate::segmenter): tick conversions and the PTS steps read as jumps.
//!
//! It depends on nothing else in the crate, so the grid and the segmenter both use it
//! and the dependency between them goes one way (segmenter → grid).

use std::time::Duration;

use media::pes::CLOCK_HZ;

/// A PTS step forward larger than this (10 s) is a jump (a discontinuity unless it
/// lands on the grid's timeline), not a gap.
pub const MAX_PTS_JUMP: i64 = 10 * CLOCK_HZ as i64;
/// A PTS step back larger than this (3 s: more than any B-frame reordering) is a jump
/// too: the source restarted.
pub const MAX_PTS_BACKWARD: i64 = 3 * CLOCK_HZ as i64;

/// Converts 90 kHz ticks to a [`Duration`].
pub fn ticks_to_duration(ticks: u64) -> Duration {
    Duration::from_secs(ticks / CLOCK_HZ)
        + Duration::from_nanos((ticks % CLOCK_HZ) * 1_000_000_000 / CLOCK_HZ)
}

/// Converts a [`Duration`] to 90 kHz ticks, saturating at `i64::MAX`.
pub fn duration_to_ticks(d: Duration) -> i64 {
    let ticks = d.as_nanos().saturating_mul(u128::from(CLOCK_HZ)) / 1_000_000_000;
    i64::try_from(ticks).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(ticks_to_duration(135_000), Duration::from_millis(1500));
        assert_eq!(duration_to_ticks(Duration::from_millis(1500)), 135_000);
        assert_eq!(duration_to_ticks(Duration::MAX), i64::MAX);
    }
}
