//! Delivering a channel's encoded renditions: every output of every output group
//! muxes its video and audio renditions into its own transport stream
//! ([`TsMuxer`]) and hands it to its group's destination:
//!
//! - MediaPackage: one chunk per GOP to [`Origin::ingest_ts`] as variant `"{n}"`
//!   (the output's index in its group), in process;
//! - HLS PUT: GOPs are gathered into segments of `segmentLength` (cut on IDR), and
//!   a task per group PUTs each segment, then the output's media playlist, then
//!   the main playlist ([`push_hls`]);
//! - UDP: 7-packet datagrams as the muxer fills them, RTP-wrapped (and with
//!   SMPTE 2022-1 FEC on port + 2 / + 4) for `rtp://` by `transport`'s
//!   [`RtpSender`](transport::sender::RtpSender) ([`udp`]).
//!
//! [`Deliver::packet`] runs on the transcoder thread and never blocks on the
//! network: HTTP work goes to a bounded queue (a full queue drops the segment and
//! counts it), UDP sends are non-blocking.
//!
//! [`Origin::ingest_ts`]: package::origin::Origin::ingest_ts

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use live::{Packet, Track, VideoSettings};
use media::mux::{h264_aac_streams, iso_639_descriptor, TsMuxer};
use media::ts::Pid;
use package::hls::{MediaPlaylist, MultivariantPlaylist, PlaylistSegment, PlaylistType, Variant};
use package::origin::EndpointConfig;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use self::udp::UdpOut;
use super::put::put;
use control::medialive::groups::{Delivery, HlsPush, OutputPlan, TsLayout};
use control::medialive::plan::Plan;
use package::origin::OriginStore;

pub mod codecs;
pub mod udp;

/// The ingest source name the origin sees for in-process channel output.
const SOURCE: &str = "medialive";
/// TS buffered without a video key frame before it is handed over anyway.
const MAX_CHUNK: usize = 8 << 20;
/// Segments that may wait for an HLS group's HTTP task before new ones are dropped.
const HLS_QUEUE: usize = 64;

/// Origin endpoints of the packaging channels a channel feeds, by channel id; the
/// supervisor refreshes it on every pass.
pub type Endpoints = Arc<Mutex<HashMap<String, Vec<EndpointConfig>>>>;

/// Counters of a channel's delivery.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    /// HLS segments dropped because the group's HTTP task was behind.
    pub hls_dropped: AtomicU64,
    /// HLS files whose PUT failed after every retry.
    pub hls_failed: AtomicU64,
    /// UDP datagrams the socket refused.
    pub udp_errors: AtomicU64,
}

/// The muxers and sinks of one channel. See the [module docs](self).
pub struct Deliver {
    outputs: Vec<OutputMux>,
}

struct OutputMux {
    muxer: TsMuxer,
    chunk: Vec<u8>,
    /// Video rendition index, then audio rendition indexes, in stream order.
    video: usize,
    audio: Vec<usize>,
    /// PTS of the IDR that starts `chunk`.
    chunk_pts: Option<i64>,
    sink: Sink,
}

enum Sink {
    MediaPackage {
        origin: OriginStore,
        endpoints: Endpoints,
        channel: String,
        stream: String,
    },
    Hls {
        tx: mpsc::Sender<HlsSegment>,
        output: usize,
        segment: Vec<u8>,
        start: Option<i64>,
        length: i64,
        sequence: u64,
        stats: Arc<DeliveryStats>,
    },
    Udp(UdpOut),
}

/// One finished HLS segment of one output.
struct HlsSegment {
    output: usize,
    sequence: u64,
    duration: Duration,
    data: Bytes,
    wall_clock: OffsetDateTime,
}

impl Deliver {
    /// Opens the sinks of `plan`'s output groups. HLS groups get their HTTP task on
    /// `runtime`; UDP destinations are resolved and bound now.
    pub fn new(
        plan: &Plan,
        origin: &OriginStore,
        endpoints: &Endpoints,
        runtime: &tokio::runtime::Handle,
        stats: &Arc<DeliveryStats>,
    ) -> Result<Self, String> {
        let mut outputs = Vec::new();
        for group in &plan.groups {
            let hls_tx = match &group.delivery {
                Delivery::Hls(push) => {
                    let (tx, rx) = mpsc::channel(HLS_QUEUE);
                    let variants: Vec<HlsOutputState> = group
                        .outputs
                        .iter()
                        .map(|o| HlsOutputState::new(o, plan.transcode.video.get(o.video)))
                        .collect();
                    runtime.spawn(push_hls(push.clone(), variants, rx, stats.clone()));
                    Some((tx, push.segment_length))
                }
                _ => None,
            };
            for (n, out) in group.outputs.iter().enumerate() {
                let sink = match &group.delivery {
                    Delivery::MediaPackage { channel } => Sink::MediaPackage {
                        origin: origin.clone(),
                        endpoints: endpoints.clone(),
                        channel: channel.clone(),
                        stream: n.to_string(),
                    },
                    Delivery::Hls(_) => {
                        let Some((tx, length)) = hls_tx.clone() else {
                            continue;
                        };
                        Sink::Hls {
                            tx,
                            output: n,
                            segment: Vec::new(),
                            start: None,
                            length: i64::try_from(length.as_millis() * 90).unwrap_or(i64::MAX),
                            sequence: 1,
                            stats: stats.clone(),
                        }
                    }
                    Delivery::Udp => Sink::Udp(UdpOut::open(out, stats)?),
                };
                outputs.push(OutputMux::new(out, sink, &plan.audio_language));
            }
        }
        Ok(Self { outputs })
    }

    /// Takes one encoded packet (on the transcoder thread).
    pub fn packet(&mut self, p: &Packet) {
        for out in &mut self.outputs {
            out.packet(p);
        }
    }
}

impl OutputMux {
    fn new(plan: &OutputPlan, sink: Sink, languages: &[Option<([u8; 3], u8)>]) -> Self {
        let TsLayout {
            program_number,
            pmt_pid,
            video_pid,
            audio_pid,
        } = plan.ts;
        // Audio streams take the PIDs from audio_pid on, skipping the video and PMT's.
        let audio_pids: Vec<Pid> = (audio_pid.0..)
            .filter(|p| *p != video_pid.0 && *p != pmt_pid.0)
            .take(plan.audio.len())
            .map(Pid)
            .collect();
        let streams = h264_aac_streams(video_pid, &audio_pids);
        let mut muxer = TsMuxer::with_program(&streams, 0, program_number, pmt_pid);
        for (i, a) in plan.audio.iter().enumerate() {
            if let Some(Some((code, audio_type))) = languages.get(*a) {
                let _ = muxer.set_es_info(i + 1, iso_639_descriptor(*code, *audio_type));
            }
        }
        Self {
            muxer,
            chunk: Vec::new(),
            video: plan.video,
            audio: plan.audio.clone(),
            chunk_pts: None,
            sink,
        }
    }

    fn packet(&mut self, p: &Packet) {
        let stream = match p.track {
            Track::Video(v) if v == self.video => 0,
            Track::Audio(a) => match self.audio.iter().position(|&x| x == a) {
                Some(i) => i + 1,
                None => return,
            },
            Track::Video(_) => return,
        };
        let per_gop = !matches!(self.sink, Sink::Udp(_));
        if per_gop && stream == 0 && p.key {
            if !self.chunk.is_empty() {
                self.hand_over(Some(p.pts));
            }
            self.chunk_pts = Some(p.pts);
        } else if self.chunk.len() > MAX_CHUNK {
            self.hand_over(None);
        }
        if let Err(e) = self
            .muxer
            .write(stream, p.pts, p.dts, p.key, &p.data, &mut self.chunk)
        {
            tracing::debug!("mux: {e}");
        }
        if let Sink::Udp(udp) = &mut self.sink {
            udp.push(&self.chunk);
            self.chunk.clear();
        }
    }

    /// Hands the buffered chunk (a GOP, or a piece of one) to the sink; `next_key`
    /// is the PTS of the IDR that follows it.
    fn hand_over(&mut self, next_key: Option<i64>) {
        let chunk = std::mem::take(&mut self.chunk);
        match &mut self.sink {
            Sink::MediaPackage {
                origin,
                endpoints,
                channel,
                stream,
            } => {
                let endpoints = endpoints
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get(channel.as_str())
                    .cloned()
                    .unwrap_or_default();
                if endpoints.is_empty() {
                    return;
                }
                let now = OffsetDateTime::now_utc();
                let (outcome, warnings) = {
                    let mut origin = origin.lock().unwrap_or_else(|e| e.into_inner());
                    let outcome =
                        origin.ingest_ts(channel, SOURCE, stream, &chunk, &endpoints, now);
                    (outcome, origin.take_warnings())
                };
                tracing::trace!(channel = %channel, ?outcome, "in-process ingest");
                for w in warnings {
                    tracing::warn!("{w}");
                }
            }
            Sink::Hls {
                tx,
                output,
                segment,
                start,
                length,
                sequence,
                stats,
            } => {
                // `chunk` starts with the IDR at `chunk_pts` (or continues a long
                // GOP); what came before the first IDR is not decodable.
                let Some(chunk_pts) = self.chunk_pts else {
                    return;
                };
                if segment.is_empty() {
                    *start = Some(chunk_pts);
                }
                segment.extend_from_slice(&chunk);
                let (Some(begin), Some(end)) = (*start, next_key) else {
                    return;
                };
                if end - begin < *length {
                    return;
                }
                let ticks = u64::try_from(end - begin).unwrap_or(0);
                let done = HlsSegment {
                    output: *output,
                    sequence: *sequence,
                    duration: Duration::from_micros(ticks * 100 / 9),
                    data: Bytes::from(std::mem::take(segment)),
                    wall_clock: OffsetDateTime::now_utc(),
                };
                *sequence += 1;
                tracing::trace!(output = *output, sequence = done.sequence, "HLS segment");
                if tx.try_send(done).is_err() {
                    stats.hls_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Sink::Udp(_) => {}
        }
    }
}

/// What an HLS group's task knows of one output.
struct HlsOutputState {
    modifier: String,
    /// The newest segments: (sequence, duration, bytes, wall clock).
    window: VecDeque<(u64, Duration, usize, OffsetDateTime)>,
    peak: u64,
    /// From the encoder settings ([`codecs`]), not from the stream.
    codecs: Vec<String>,
    resolution: Option<(u32, u32)>,
    frame_rate: Option<f64>,
}

impl HlsOutputState {
    fn new(plan: &OutputPlan, video: Option<&VideoSettings>) -> Self {
        Self {
            modifier: plan.name_modifier.clone(),
            window: VecDeque::new(),
            peak: 0,
            codecs: video
                .map(|v| codecs::output_codecs(v, plan.audio.len()))
                .unwrap_or_default(),
            resolution: video.map(|v| (v.width, v.height)),
            frame_rate: video.map(|v| f64::from(v.framerate.0) / f64::from(v.framerate.1.max(1))),
        }
    }
}

/// The file name part of the group's destination path (`/a/b/channel` → `channel`).
fn file_stem(base_path: &str) -> &str {
    base_path.rsplit('/').next().unwrap_or(base_path)
}

/// The HTTP task of an HLS output group: PUTs each segment, then the output's media
/// playlist, then (when it changed) the main playlist.
async fn push_hls(
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
        let secs = segment.duration.as_secs_f64().max(0.001);
        out.peak = out
            .peak
            .max((segment.data.len() as f64 * 8.0 / secs) as u64);
        let file = format!("{base}{}_{:05}.ts", out.modifier, segment.sequence);
        let mut ok = send(&push, &file, &segment.data, "video/MP2T").await;
        if ok.is_ok() {
            out.window.push_back((
                segment.sequence,
                segment.duration,
                segment.data.len(),
                segment.wall_clock,
            ));
            while out.window.len() > push.index_n {
                out.window.pop_front();
            }
            let media = media_playlist(&push, &stem, out);
            let path = format!("{base}{}.m3u8", out.modifier);
            ok = send(
                &push,
                &path,
                media.as_bytes(),
                "application/vnd.apple.mpegurl",
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

/// One PUT with the group's retries.
async fn send(push: &HlsPush, path: &str, body: &[u8], content_type: &str) -> Result<(), String> {
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
            Err(e) if attempt >= push.retries => return Err(e),
            Err(_) => {
                attempt += 1;
                tokio::time::sleep(push.retry_interval).await;
            }
        }
    }
}

fn media_playlist(push: &HlsPush, stem: &str, out: &HlsOutputState) -> String {
    let first = out.window.front().map_or(1, |s| s.0);
    MediaPlaylist {
        target_duration: push.segment_length.as_secs().max(1),
        media_sequence: first,
        discontinuity_sequence: 0,
        playlist_type: PlaylistType::Live,
        end_list: false,
        iframes_only: false,
        program_date_time_interval: push.program_date_time,
        segments: out
            .window
            .iter()
            .map(|&(sequence, duration, _, wall_clock)| PlaylistSegment {
                uri: format!("{stem}{}_{sequence:05}.ts", out.modifier),
                duration,
                discontinuity: false,
                program_date_time: Some(wall_clock),
                byte_range: None,
            })
            .collect(),
    }
    .render()
}

fn main_playlist(push: &HlsPush, stem: &str, outputs: &[HlsOutputState]) -> String {
    MultivariantPlaylist {
        variants: outputs
            .iter()
            .map(|o| {
                let (bytes, secs) = o
                    .window
                    .iter()
                    .fold((0usize, 0f64), |(b, s), w| (b + w.2, s + w.1.as_secs_f64()));
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
mod tests {
    use super::*;

    #[test]
    fn stems() {
        assert_eq!(file_stem("/in/v2/a/b/channel"), "channel");
        assert_eq!(file_stem("/main"), "main");
    }
}
