//! HLS output groups (HLS PUT to a URL): each output's muxed transport stream is
//! cut by `package`'s [`Segmenter`] on IDR frames at `segmentLength`, all outputs
//! of a group on one shared [`CutGrid`] (so segment N of every variant starts at
//! the same PTS, as players switching variants expect), and a task per group
//! PUTs each segment, then the output's media playlist, then (when it changed)
//! the main playlist, both written with `package::hls`.
//!
//! Files are named from the destination path `{base}`: segments
//! `{base}{modifier}_{NNNNN}.ts` (numbered from 1), media playlists
//! `{base}{modifier}.m3u8`, the main playlist `{base}.m3u8`; playlists name them
//! relative to themselves.
//!
//! [`HlsCutter`] is the sans-IO half and runs on the transcoder thread: it never
//! blocks, a segment the HTTP task has no room for is dropped and counted.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use live::VideoSettings;
use package::grid::CutGrid;
use package::hls::{
    target_duration_for, MediaPlaylist, MultivariantPlaylist, PlaylistSegment, PlaylistType,
    Variant,
};
use package::segmenter::{Segmenter, SegmenterConfig};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use control::medialive::groups::{HlsPush, OutputPlan};

use super::codecs;
use super::DeliveryStats;
use crate::channel::put::{put, PutError};

/// Segments that may wait for an HLS group's HTTP task before new ones are dropped.
pub const QUEUE: usize = 64;

/// One finished HLS segment of one output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HlsSegment {
    /// The output's index in its group.
    pub output: usize,
    /// The segment's number in file names and EXT-X-MEDIA-SEQUENCE (from 1).
    pub sequence: u64,
    pub duration: Duration,
    /// Timestamps jumped before this segment (EXT-X-DISCONTINUITY).
    pub discontinuity: bool,
    /// Discontinuities before this segment (EXT-X-DISCONTINUITY-SEQUENCE when first).
    pub discontinuity_sequence: u64,
    pub data: Bytes,
    /// Wall-clock time of its first sample (EXT-X-PROGRAM-DATE-TIME).
    pub wall_clock: OffsetDateTime,
}

/// Cuts one output's transport stream into HLS segments and queues them for its
/// group's HTTP task; see the [module docs](self).
pub struct HlsCutter {
    segmenter: Segmenter,
    output: usize,
    /// Index of the group's grid in [`super::Deliver`]'s grids.
    grid: usize,
    tx: mpsc::Sender<HlsSegment>,
    stats: Arc<DeliveryStats>,
}

impl HlsCutter {
    /// The cutter of output `output` of a group cutting at `segment_length` on grid
    /// number `grid`.
    pub fn new(
        output: usize,
        segment_length: Duration,
        grid: usize,
        tx: mpsc::Sender<HlsSegment>,
        stats: &Arc<DeliveryStats>,
    ) -> Result<Self, String> {
        let segmenter = Segmenter::new(SegmenterConfig::new(segment_length))
            .map_err(|e| format!("HLS segment length {segment_length:?}: {e}"))?;
        Ok(Self {
            segmenter,
            output,
            grid,
            tx,
            stats: stats.clone(),
        })
    }

    /// Takes muxed TS written at wall-clock time `now`; queues the segments it
    /// finishes (dropping and counting those the HTTP task has no room for).
    pub fn push(&mut self, ts: &[u8], grids: &mut [CutGrid], now: OffsetDateTime) {
        for segment in self.cut(ts, grids, now) {
            tracing::trace!(
                output = segment.output,
                sequence = segment.sequence,
                "HLS segment"
            );
            if self.tx.try_send(segment).is_err() {
                self.stats.hls_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The segments `ts` finishes.
    fn cut(&mut self, ts: &[u8], grids: &mut [CutGrid], now: OffsetDateTime) -> Vec<HlsSegment> {
        self.segmenter.set_wall_clock(now);
        match grids.get_mut(self.grid) {
            Some(grid) => self.segmenter.push_on(ts, grid),
            None => self.segmenter.push(ts),
        }
        let mut done = Vec::new();
        while let Some(s) = self.segmenter.poll_segment() {
            done.push(HlsSegment {
                output: self.output,
                // The grid counts from 0; files have always been numbered from 1.
                sequence: s.sequence + 1,
                duration: s.duration(),
                discontinuity: s.discontinuity,
                discontinuity_sequence: s.discontinuity_sequence,
                wall_clock: s.program_date_time.unwrap_or(now),
                data: s.data,
            });
        }
        done
    }
}

/// One segment in an output's media playlist.
#[derive(Clone, Debug)]
struct Listed {
    sequence: u64,
    duration: Duration,
    bytes: usize,
    wall_clock: OffsetDateTime,
    discontinuity: bool,
    discontinuity_sequence: u64,
}

/// What an HLS group's task knows of one output.
#[derive(Clone, Debug)]
pub struct HlsOutputState {
    modifier: String,
    /// The newest segments, oldest first.
    window: VecDeque<Listed>,
    /// Peak segment bit rate so far.
    peak: u64,
    /// The longest EXTINF so far, rounded up to seconds: EXT-X-TARGETDURATION
    /// never shrinks as long segments leave the window (RFC 8216 §6.2.1).
    longest: u64,
    /// From the encoder settings ([`codecs`]), not from the stream.
    codecs: Vec<String>,
    resolution: Option<(u32, u32)>,
    frame_rate: Option<f64>,
}

impl HlsOutputState {
    /// The state of `plan`, an output encoding `video`.
    pub fn new(plan: &OutputPlan, video: Option<&VideoSettings>) -> Self {
        Self {
            modifier: plan.name_modifier.clone(),
            window: VecDeque::new(),
            peak: 0,
            longest: 0,
            codecs: video
                .map(|v| codecs::output_codecs(v, plan.audio.len()))
                .unwrap_or_default(),
            resolution: video.map(|v| (v.width, v.height)),
            frame_rate: video.map(|v| f64::from(v.framerate.0) / f64::from(v.framerate.1.max(1))),
        }
    }

    /// Lists `segment` (PUT) and keeps the newest `keep` segments.
    fn listed(&mut self, segment: &HlsSegment, keep: usize) {
        let secs = segment.duration.as_secs_f64().max(0.001);
        self.peak = self
            .peak
            .max((segment.data.len() as f64 * 8.0 / secs) as u64);
        self.longest = self.longest.max(target_duration_for([&segment.duration]));
        self.window.push_back(Listed {
            sequence: segment.sequence,
            duration: segment.duration,
            bytes: segment.data.len(),
            wall_clock: segment.wall_clock,
            discontinuity: segment.discontinuity,
            discontinuity_sequence: segment.discontinuity_sequence,
        });
        while self.window.len() > keep.max(1) {
            self.window.pop_front();
        }
    }
}

/// The file name part of the group's destination path (`/a/b/channel` → `channel`).
fn file_stem(base_path: &str) -> &str {
    base_path.rsplit('/').next().unwrap_or(base_path)
}

/// The HTTP task of an HLS output group: PUTs each segment, then the output's media
/// playlist, then (when it changed) the main playlist.
pub async fn put_task(
    push: HlsPush,
    mut state: Vec<HlsOutputState>,
    mut rx: mpsc::Receiver<HlsSegment>,
    stats: Arc<DeliveryStats>,
) {
    let base = push.target.base_path.clone();
    let stem = file_stem(&base).to_owned();
    let mut last_main = String::new();
    let mut failures_logged = 0u32;
    let mut started = false;
    while let Some(segment) = rx.recv().await {
        tracing::trace!(output = segment.output, "HLS segment to PUT");
        let Some(out) = state.get_mut(segment.output) else {
            continue;
        };
        let file = format!("{base}{}_{:05}.ts", out.modifier, segment.sequence);
        let mut ok = send(&push, &file, &segment.data, "video/MP2T", &stats).await;
        if ok.is_ok() {
            out.listed(&segment, push.index_n);
            let media = media_playlist(&push, &stem, out);
            let path = format!("{base}{}.m3u8", out.modifier);
            ok = send(
                &push,
                &path,
                media.as_bytes(),
                "application/vnd.apple.mpegurl",
                &stats,
            )
            .await;
        }
        if ok.is_ok() && state.iter().all(|o| !o.window.is_empty()) {
            let main = main_playlist(&push, &stem, &state);
            if main != last_main {
                ok = send(
                    &push,
                    &format!("{base}.m3u8"),
                    main.as_bytes(),
                    "application/vnd.apple.mpegurl",
                    &stats,
                )
                .await;
                if ok.is_ok() {
                    last_main = main;
                }
            }
        }
        if ok.is_ok() && !started {
            started = true;
            tracing::info!(
                "HLS output to http://{}{base}.m3u8 started",
                push.target.authority
            );
        }
        if let Err(e) = ok {
            stats.hls_failed.fetch_add(1, Ordering::Relaxed);
            if failures_logged < 10 {
                failures_logged += 1;
                tracing::warn!("HLS output to {}: {e}", push.target.authority);
            }
        }
    }
}

/// One PUT with the group's retries; every 4xx / 5xx answer is counted.
async fn send(
    push: &HlsPush,
    path: &str,
    body: &[u8],
    content_type: &str,
    stats: &DeliveryStats,
) -> Result<(), PutError> {
    let mut attempt = 0;
    loop {
        match put(
            &push.target,
            path,
            body,
            content_type,
            Duration::from_secs(10),
        )
        .await
        {
            Ok(()) => return Ok(()),
            Err(e) => {
                match e.status {
                    Some(400..=499) => stats.http_4xx.fetch_add(1, Ordering::Relaxed),
                    Some(500..=599) => stats.http_5xx.fetch_add(1, Ordering::Relaxed),
                    _ => 0,
                };
                if attempt >= push.retries {
                    return Err(e);
                }
                attempt += 1;
                tokio::time::sleep(push.retry_interval).await;
            }
        }
    }
}

/// The media playlist of one output: its window of segments.
fn media_playlist(push: &HlsPush, stem: &str, out: &HlsOutputState) -> String {
    let first = out.window.front();
    MediaPlaylist {
        target_duration: push.segment_length.as_secs().max(1).max(out.longest),
        media_sequence: first.map_or(1, |s| s.sequence),
        // The first listed segment's own discontinuity is written as a tag.
        discontinuity_sequence: first.map_or(0, |s| s.discontinuity_sequence),
        playlist_type: PlaylistType::Live,
        end_list: false,
        iframes_only: false,
        program_date_time_interval: push.program_date_time,
        segments: out
            .window
            .iter()
            .map(|s| PlaylistSegment {
                uri: format!("{stem}{}_{:05}.ts", out.modifier, s.sequence),
                duration: s.duration,
                discontinuity: s.discontinuity,
                program_date_time: Some(s.wall_clock),
                byte_range: None,
            })
            .collect(),
    }
    .render()
}

/// The main playlist: one variant per output, bandwidths measured on its segments.
fn main_playlist(push: &HlsPush, stem: &str, outputs: &[HlsOutputState]) -> String {
    MultivariantPlaylist {
        variants: outputs
            .iter()
            .map(|o| {
                let (bytes, secs) = o.window.iter().fold((0usize, 0f64), |(b, t), s| {
                    (b + s.bytes, t + s.duration.as_secs_f64())
                });
                Variant {
                    uri: format!("{stem}{}.m3u8", o.modifier),
                    bandwidth: o.peak,
                    average_bandwidth: (secs > 0.0).then(|| (bytes as f64 * 8.0 / secs) as u64),
                    resolution: o.resolution.filter(|_| push.resolution),
                    codecs: o.codecs.clone(),
                    frame_rate: o.frame_rate,
                }
            })
            .collect(),
        iframe_variants: Vec::new(),
    }
    .render()
}

#[cfg(test)]
mod tests;
