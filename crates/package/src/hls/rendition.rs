//! One rendition's recent segments and its media playlist (RFC 8216 §6.2.1, §6.2.2).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::body::Body;

use super::media::{target_duration_for, MediaPlaylist, PlaylistSegment, PlaylistType};
use crate::segmenter::Segment;

/// How a [`Rendition`] keeps segments and writes its playlist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenditionConfig {
    /// Live (sliding window), EVENT or VOD.
    pub playlist_type: PlaylistType,
    /// Nominal segment duration; EXT-X-TARGETDURATION never goes below its ceiling.
    pub target_duration: Duration,
    /// Media time a live playlist shows (at least three target durations, §6.2.2).
    pub window: Duration,
    /// Media time kept before the window for start-over viewing; live only.
    pub startover: Duration,
    /// EXT-X-PROGRAM-DATE-TIME spacing; `None` writes none.
    pub program_date_time_interval: Option<Duration>,
    /// Segment URIs are `{segment_prefix}{sequence}.ts`.
    pub segment_prefix: String,
}

impl RenditionConfig {
    /// A 60 s window, no start-over, no date-times, URIs `segment_{n}.ts`.
    pub fn new(playlist_type: PlaylistType, target_duration: Duration) -> Self {
        Self {
            playlist_type,
            target_duration,
            window: Duration::from_secs(60),
            startover: Duration::ZERO,
            program_date_time_interval: None,
            segment_prefix: "segment_".to_owned(),
        }
    }
}

/// A segment kept by a [`Rendition`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSegment {
    /// Media sequence number.
    pub sequence: u64,
    /// Duration.
    pub duration: Duration,
    /// Follows a discontinuity.
    pub discontinuity: bool,
    /// Discontinuities in all earlier segments (its discontinuity sequence number,
    /// counting its own tag as not yet passed).
    pub discontinuities_before: u64,
    /// Wall-clock time of its first sample.
    pub program_date_time: Option<OffsetDateTime>,
    /// Length of the I-frame head (PAT, PMT, IDR picture) from byte 0, if any.
    pub iframe_bytes: Option<usize>,
    /// Bytes of video packets.
    pub video_bytes: usize,
    /// The TS bytes, in a sealed memory file when the budget allows ([`Body`]).
    pub data: Body,
    /// Its strong entity tag ([`etag`]), computed once when it is stored.
    pub etag: Bytes,
}

/// A strong HTTP entity tag of `data` (RFC 9110 §8.8.3), quoted: the first 128 bits
/// of its SHA-256 in hex, `"0123…"` (34 bytes).
pub fn etag(data: &[u8]) -> Bytes {
    use std::fmt::Write as _;
    let digest = Sha256::digest(data);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for b in digest.iter().take(16) {
        let _ = write!(tag, "{b:02x}");
    }
    tag.push('"');
    Bytes::from(tag)
}

/// One rendition: a bounded ring of segments and the media playlist over them.
///
/// Call [`push`](Self::push) with each segment in order; serve [`render`](Self::render)
/// and [`segment`](Self::segment). A live rendition keeps `window + startover` of media
/// and evicts older segments; EVENT and VOD keep everything (they are finite by
/// definition) until the owner trims them with [`pop_oldest`](Self::pop_oldest).
/// EXT-X-TARGETDURATION only grows, as §6.2.1 forbids changing it.
#[derive(Clone, Debug)]
pub struct Rendition {
    config: RenditionConfig,
    segments: VecDeque<StoredSegment>,
    /// Discontinuities seen in all segments pushed so far.
    discontinuities: u64,
    target_duration: u64,
    ended: bool,
    /// Bytes and media time of the kept segments.
    bytes: usize,
    media: Duration,
}

impl Rendition {
    /// An empty rendition.
    pub fn new(config: RenditionConfig) -> Self {
        let target_duration = target_duration_for(&[config.target_duration]).max(1);
        Self {
            config,
            segments: VecDeque::new(),
            discontinuities: 0,
            target_duration,
            ended: false,
            bytes: 0,
            media: Duration::ZERO,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RenditionConfig {
        &self.config
    }

    /// Renames the segments in the playlists written from now on (the variant's
    /// number changed).
    pub fn set_segment_prefix(&mut self, prefix: String) {
        self.config.segment_prefix = prefix;
    }

    /// Adds the next segment and evicts what falls out of retention.
    pub fn push(&mut self, segment: Segment) {
        let duration = segment.duration();
        self.target_duration = self.target_duration.max(target_duration_for(&[duration]));
        self.bytes += segment.data.len();
        self.media += duration;
        self.segments.push_back(StoredSegment {
            sequence: segment.sequence,
            duration,
            discontinuity: segment.discontinuity,
            discontinuities_before: segment.discontinuity_sequence,
            program_date_time: segment.program_date_time,
            iframe_bytes: segment.iframe_bytes,
            video_bytes: segment.video_bytes,
            etag: etag(&segment.data),
            data: Body::stored(segment.data),
        });
        self.discontinuities = segment.discontinuity_sequence + u64::from(segment.discontinuity);
        if self.config.playlist_type == PlaylistType::Live {
            let keep = self.live_window() + self.config.startover;
            self.evict(keep);
        }
    }

    /// Sequence number of the newest segment.
    pub fn last_sequence(&self) -> Option<u64> {
        self.segments.back().map(|s| s.sequence)
    }

    /// Sequence number of the oldest kept segment.
    pub fn first_sequence(&self) -> Option<u64> {
        self.segments.front().map(|s| s.sequence)
    }

    /// Bytes of the kept segments.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Media time of the kept segments.
    pub fn media_time(&self) -> Duration {
        self.media
    }

    /// Drops the oldest segment (retention bounds of the owner); the newest stays.
    pub fn pop_oldest(&mut self) -> bool {
        if self.segments.len() < 2 {
            return false;
        }
        if let Some(s) = self.segments.pop_front() {
            self.bytes = self.bytes.saturating_sub(s.data.len());
            self.media = self.media.saturating_sub(s.duration);
        }
        true
    }

    /// Forgets every segment (the next one pushed does not follow the last); the
    /// discontinuity count and target duration carry on.
    pub fn clear(&mut self) {
        self.segments.clear();
        self.bytes = 0;
        self.media = Duration::ZERO;
    }

    /// No more segments: EXT-X-ENDLIST is written from now on.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// The bytes of a kept segment.
    pub fn segment(&self, sequence: u64) -> Option<&StoredSegment> {
        let first = self.segments.front()?.sequence;
        let index = usize::try_from(sequence.checked_sub(first)?).ok()?;
        self.segments.get(index).filter(|s| s.sequence == sequence)
    }

    /// Segments kept (window and start-over), oldest first.
    pub fn segments(&self) -> impl Iterator<Item = &StoredSegment> {
        self.segments.iter()
    }

    /// Average video bitrate (bits/s) over the kept segments, for stream selection.
    pub fn video_bitrate(&self) -> Option<u64> {
        let secs = self.media.as_secs_f64();
        let bytes: usize = self.segments.iter().map(|s| s.video_bytes).sum();
        (secs > 0.0).then(|| ((bytes as f64) * 8.0 / secs).ceil() as u64)
    }

    /// Peak bitrate (bits/s) of the I-frame playlist: I-frame bytes over the time to
    /// the next I-frame, for EXT-X-I-FRAME-STREAM-INF's BANDWIDTH.
    pub fn iframe_bitrate(&self) -> Option<u64> {
        self.iframe_playlist()
            .segments
            .iter()
            .filter_map(|s| {
                let secs = s.duration.as_secs_f64();
                let (len, _) = s.byte_range?;
                (secs > 0.0).then(|| ((len as f64) * 8.0 / secs).ceil() as u64)
            })
            .max()
    }

    /// Peak and average bitrate (bits/s) over the kept segments, for BANDWIDTH and
    /// AVERAGE-BANDWIDTH.
    pub fn bitrates(&self) -> Option<(u64, u64)> {
        let rate = |bytes: usize, d: Duration| -> Option<u64> {
            let secs = d.as_secs_f64();
            (secs > 0.0).then(|| ((bytes as f64) * 8.0 / secs).ceil() as u64)
        };
        let peak = self
            .segments
            .iter()
            .filter_map(|s| rate(s.data.len(), s.duration))
            .max()?;
        let bytes: usize = self.segments.iter().map(|s| s.data.len()).sum();
        let total: Duration = self.segments.iter().map(|s| s.duration).sum();
        Some((peak, rate(bytes, total)?))
    }

    /// The window a live playlist shows: as configured, but at least three target
    /// durations (§6.2.2).
    fn live_window(&self) -> Duration {
        self.config
            .window
            .max(Duration::from_secs(self.target_duration.saturating_mul(3)))
    }

    fn evict(&mut self, keep: Duration) {
        while self.segments.len() > 1 {
            let total: Duration = self.segments.iter().skip(1).map(|s| s.duration).sum();
            if total < keep {
                break;
            }
            if let Some(s) = self.segments.pop_front() {
                self.bytes = self.bytes.saturating_sub(s.data.len());
                self.media = self.media.saturating_sub(s.duration);
            }
        }
    }

    /// The segments the playlist type shows, oldest first.
    fn shown(&self) -> Vec<&StoredSegment> {
        match self.config.playlist_type {
            PlaylistType::Live => {
                let window = self.live_window();
                let mut total = Duration::ZERO;
                let mut shown: Vec<&StoredSegment> = self
                    .segments
                    .iter()
                    .rev()
                    .take_while(|s| {
                        let fits = total < window;
                        total += s.duration;
                        fits
                    })
                    .collect();
                shown.reverse();
                shown
            }
            PlaylistType::Event | PlaylistType::Vod => self.segments.iter().collect(),
        }
    }

    fn playlist_over(&self, shown: &[&StoredSegment]) -> MediaPlaylist {
        let first = shown.first();
        MediaPlaylist {
            target_duration: self.target_duration,
            media_sequence: first.map_or(0, |s| s.sequence),
            discontinuity_sequence: first
                .map_or(self.discontinuities, |s| s.discontinuities_before),
            playlist_type: self.config.playlist_type,
            end_list: self.ended,
            program_date_time_interval: self.config.program_date_time_interval,
            iframes_only: false,
            segments: shown
                .iter()
                .map(|s| PlaylistSegment {
                    uri: format!("{}{}.ts", self.config.segment_prefix, s.sequence),
                    duration: s.duration,
                    discontinuity: s.discontinuity,
                    program_date_time: s.program_date_time,
                    byte_range: None,
                })
                .collect(),
        }
    }

    /// The media playlist over the segments the playlist type shows.
    pub fn media_playlist(&self) -> MediaPlaylist {
        self.playlist_over(&self.shown())
    }

    /// The I-frame playlist (RFC 8216 §4.3.3.6) over the same segments: one entry per
    /// segment that starts with an IDR, its byte range the segment's I-frame head from
    /// byte 0 (so PAT and PMT come with it), its duration the time to the next I-frame
    /// (a segment without an IDR lengthens the entry before it).
    pub fn iframe_playlist(&self) -> MediaPlaylist {
        let shown = self.shown();
        let mut playlist = self.playlist_over(&shown);
        playlist.iframes_only = true;
        let mut entries: Vec<PlaylistSegment> = Vec::with_capacity(shown.len());
        for (stored, mut entry) in shown.iter().zip(playlist.segments) {
            match stored.iframe_bytes {
                Some(len) => {
                    entry.byte_range = Some((len, 0));
                    entries.push(entry);
                }
                None => {
                    if let Some(prev) = entries.last_mut().filter(|_| !entry.discontinuity) {
                        prev.duration += entry.duration;
                    }
                }
            }
        }
        playlist.segments = entries;
        playlist
    }

    /// [`media_playlist`](Self::media_playlist) as text.
    pub fn render(&self) -> String {
        self.media_playlist().render()
    }
}
