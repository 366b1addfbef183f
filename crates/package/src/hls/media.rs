//! Media playlists (RFC 8216 §4.3.3, §4.3.2).

use std::fmt::Write as _;
use std::time::Duration;

use time::{OffsetDateTime, UtcOffset};

/// EXT-X-PLAYLIST-TYPE (RFC 8216 §4.3.3.5), or its absence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PlaylistType {
    /// No type tag: a live sliding window; old segments leave the playlist.
    Live,
    /// `EVENT`: segments are only ever added.
    Event,
    /// `VOD`: the playlist is complete and never changes; ends with EXT-X-ENDLIST.
    Vod,
}

/// One segment line of a media playlist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaylistSegment {
    /// Segment URI, relative to the playlist.
    pub uri: String,
    /// Exact duration; EXTINF shows it in milliseconds.
    pub duration: Duration,
    /// Preceded by EXT-X-DISCONTINUITY.
    pub discontinuity: bool,
    /// Wall-clock time of its first sample.
    pub program_date_time: Option<OffsetDateTime>,
    /// EXT-X-BYTERANGE as (length, offset) (§4.3.2.2).
    pub byte_range: Option<(usize, usize)>,
}

/// A media playlist, rendered by [`render`](Self::render).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaPlaylist {
    /// EXT-X-TARGETDURATION in seconds; raised when a segment needs more (§4.3.3.1).
    pub target_duration: u64,
    /// EXT-X-MEDIA-SEQUENCE: the sequence number of the first segment (§4.3.3.2).
    pub media_sequence: u64,
    /// EXT-X-DISCONTINUITY-SEQUENCE: discontinuities removed from the front (§4.3.3.3).
    pub discontinuity_sequence: u64,
    /// Playlist type.
    pub playlist_type: PlaylistType,
    /// Write EXT-X-ENDLIST (always for [`PlaylistType::Vod`]).
    pub end_list: bool,
    /// Tag EXT-X-PROGRAM-DATE-TIME on the first segment, after each discontinuity and
    /// then on the first segment at least this much media time after the last tag.
    /// `None` writes no date-times.
    pub program_date_time_interval: Option<Duration>,
    /// An I-frame playlist: EXT-X-I-FRAMES-ONLY (§4.3.3.6), version 4.
    pub iframes_only: bool,
    /// The segments, oldest first.
    pub segments: Vec<PlaylistSegment>,
}

/// Milliseconds of a duration, rounded to the nearest.
fn millis(d: Duration) -> u128 {
    (d.as_nanos() + 500_000) / 1_000_000
}

/// The smallest EXT-X-TARGETDURATION (whole seconds) no segment's EXTINF exceeds: the
/// ceiling of the longest duration as written (milliseconds), so each EXTINF is at most
/// the target, and rounded to the nearest integer also within it as §4.3.3.1 requires.
pub fn target_duration_for<'a>(durations: impl IntoIterator<Item = &'a Duration>) -> u64 {
    durations
        .into_iter()
        .map(|d| u64::try_from(millis(*d).div_ceil(1000)).unwrap_or(u64::MAX))
        .max()
        .unwrap_or(0)
}

/// ISO 8601 date-time in UTC with milliseconds, as EXT-X-PROGRAM-DATE-TIME wants
/// (§4.3.2.6): `2026-11-25T22:00:00.000Z`.
pub fn format_date_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

impl MediaPlaylist {
    /// The playlist as text. EXT-X-TARGETDURATION is the larger of
    /// [`target_duration`](Self::target_duration) and what the segments need.
    pub fn render(&self) -> String {
        let target = self.target_duration.max(target_duration_for(
            self.segments.iter().map(|s| &s.duration),
        ));
        let mut out = String::new();
        let version = if self.iframes_only { 4 } else { 3 };
        let _ = write!(out, "#EXTM3U\n#EXT-X-VERSION:{version}\n");
        let _ = writeln!(out, "#EXT-X-TARGETDURATION:{target}");
        let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", self.media_sequence);
        let _ = writeln!(
            out,
            "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
            self.discontinuity_sequence
        );
        match self.playlist_type {
            PlaylistType::Live => {}
            PlaylistType::Event => out.push_str("#EXT-X-PLAYLIST-TYPE:EVENT\n"),
            PlaylistType::Vod => out.push_str("#EXT-X-PLAYLIST-TYPE:VOD\n"),
        }
        if self.iframes_only {
            out.push_str("#EXT-X-I-FRAMES-ONLY\n");
        }
        // Media time since the last EXT-X-PROGRAM-DATE-TIME, None before the first.
        let mut since_date: Option<Duration> = None;
        for segment in &self.segments {
            if segment.discontinuity {
                out.push_str("#EXT-X-DISCONTINUITY\n");
                since_date = None;
            }
            if let (Some(interval), Some(pdt)) =
                (self.program_date_time_interval, segment.program_date_time)
            {
                if since_date.is_none_or(|d| d >= interval) {
                    let _ = writeln!(out, "#EXT-X-PROGRAM-DATE-TIME:{}", format_date_time(pdt));
                    since_date = Some(Duration::ZERO);
                }
            }
            let ms = millis(segment.duration);
            let _ = writeln!(out, "#EXTINF:{}.{:03},", ms / 1000, ms % 1000);
            if let Some((len, offset)) = segment.byte_range {
                let _ = writeln!(out, "#EXT-X-BYTERANGE:{len}@{offset}");
            }
            out.push_str(&segment.uri);
            out.push('\n');
            since_date = since_date.map(|d| d + segment.duration);
        }
        if self.end_list || self.playlist_type == PlaylistType::Vod {
            out.push_str("#EXT-X-ENDLIST\n");
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn target_is_ceiling_of_written_extinf() {
        let d = |ms| Duration::from_millis(ms);
        assert_eq!(target_duration_for(&[d(2000), d(1960)]), 2);
        assert_eq!(target_duration_for(&[d(2001)]), 3);
        assert_eq!(target_duration_for(&[Duration::from_micros(2_000_400)]), 2);
        assert_eq!(target_duration_for(&[]), 0);
    }

    #[test]
    fn formats_utc_millis() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_764_108_000_123_456_789).unwrap();
        assert_eq!(format_date_time(t), "2025-11-25T22:00:00.123Z");
    }
}
