//! One rendition's recent segments and its media playlist (RFC 8216 §6.2.1, §6.2.2).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;

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
    /// The TS bytes.
    pub data: Bytes,
}

/// One rendition: a bounded ring of segments and the media playlist over them.
///
/// Call [`push`](Self::push) with each segment in order; serve [`render`](Self::render)
/// and [`segment`](Self::segment). A live rendition keeps `window + startover` of media
/// and evicts older segments; EVENT and VOD keep everything (they are finite by
/// definition). EXT-X-TARGETDURATION only grows, as §6.2.1 forbids changing it.
#[derive(Clone, Debug)]
pub struct Rendition {
    config: RenditionConfig,
    segments: VecDeque<StoredSegment>,
    /// Discontinuities seen in all segments pushed so far.
    discontinuities: u64,
    target_duration: u64,
    ended: bool,
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
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RenditionConfig {
        &self.config
    }

    /// Adds the next segment and evicts what falls out of retention.
    pub fn push(&mut self, segment: Segment) {
        let duration = segment.duration();
        self.target_duration = self.target_duration.max(target_duration_for(&[duration]));
        self.segments.push_back(StoredSegment {
            sequence: segment.sequence,
            duration,
            discontinuity: segment.discontinuity,
            discontinuities_before: self.discontinuities,
            program_date_time: segment.program_date_time,
            data: segment.data,
        });
        self.discontinuities += u64::from(segment.discontinuity);
        if self.config.playlist_type == PlaylistType::Live {
            let keep = self.live_window() + self.config.startover;
            self.evict(keep);
        }
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
            self.segments.pop_front();
        }
    }

    /// The media playlist over the segments the playlist type shows.
    pub fn media_playlist(&self) -> MediaPlaylist {
        let shown: Vec<&StoredSegment> = match self.config.playlist_type {
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
        };
        let first = shown.first();
        MediaPlaylist {
            target_duration: self.target_duration,
            media_sequence: first.map_or(0, |s| s.sequence),
            discontinuity_sequence: first
                .map_or(self.discontinuities, |s| s.discontinuities_before),
            playlist_type: self.config.playlist_type,
            end_list: self.ended,
            program_date_time_interval: self.config.program_date_time_interval,
            segments: shown
                .into_iter()
                .map(|s| PlaylistSegment {
                    uri: format!("{}{}.ts", self.config.segment_prefix, s.sequence),
                    duration: s.duration,
                    discontinuity: s.discontinuity,
                    program_date_time: s.program_date_time,
                })
                .collect(),
        }
    }

    /// [`media_playlist`](Self::media_playlist) as text.
    pub fn render(&self) -> String {
        self.media_playlist().render()
    }
}
