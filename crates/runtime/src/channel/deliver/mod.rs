//! Delivering a channel's encoded renditions: every output of every output group
//! muxes its video and audio renditions into its own transport stream
//! ([`TsMuxer`]) and hands it to its group's destination:
//!
//! - MediaPackage: one chunk per GOP to [`Origin::ingest_ts`] as variant `"{n}"`
//!   (the output's index in its group), in process, through the packaging channel's
//!   own handle of the [`OriginStore`];
//! - HLS PUT: `package`'s [`Segmenter`](package::segmenter::Segmenter) cuts the
//!   stream into segments of `segmentLength` on IDR (the outputs of a group on one
//!   shared cut grid, so segment N of every variant covers the same time), and a
//!   task per group PUTs each segment, then the output's media playlist, then the
//!   main playlist, both written with `package::hls` ([`hls`]);
//! - UDP: 7-packet datagrams as the muxer fills them, RTP-wrapped (and with
//!   SMPTE 2022-1 FEC on port + 2 / + 4) for `rtp://` by `transport`'s
//!   [`RtpSender`](transport::sender::RtpSender) ([`udp`]).
//!
//! [`Deliver::packet`] runs on the transcoder thread and never blocks on the
//! network: HTTP work goes to a bounded queue (a full queue drops the segment and
//! counts it), UDP sends are non-blocking.
//!
//! [`Origin::ingest_ts`]: package::origin::Origin::ingest_ts

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use live::{Packet, Track};
use media::mux::{h264_aac_streams, iso_639_descriptor, TsMuxer};
use media::ts::Pid;
use package::grid::CutGrid;
use package::origin::EndpointConfig;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use self::hls::{HlsCutter, HlsOutputState};
use self::udp::UdpOut;
use control::medialive::groups::{Delivery, OutputPlan, TsLayout};
use control::medialive::plan::Plan;
use package::origin::OriginStore;

pub mod codecs;
pub mod hls;
pub mod udp;

/// The ingest source name the origin sees for in-process channel output.
const SOURCE: &str = "medialive";
/// TS buffered without a video key frame before it is handed over anyway.
const MAX_CHUNK: usize = 8 << 20;

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
    /// Muxed bytes handed to the outputs (MediaLive `NetworkOut`).
    pub bytes_out: AtomicU64,
    /// HLS PUTs answered 4xx / 5xx (MediaLive `Output4xxErrors` / `Output5xxErrors`).
    pub http_4xx: AtomicU64,
    pub http_5xx: AtomicU64,
}

/// The muxers and sinks of one channel. See the [module docs](self).
pub struct Deliver {
    outputs: Vec<OutputMux>,
    stats: Arc<DeliveryStats>,
    /// The cut grid of each HLS group, shared by its outputs' segmenters.
    grids: Vec<CutGrid>,
}

struct OutputMux {
    muxer: TsMuxer,
    chunk: Vec<u8>,
    /// Video rendition index, then audio rendition indexes, in stream order.
    video: usize,
    audio: Vec<usize>,
    sink: Sink,
}

enum Sink {
    MediaPackage {
        origin: OriginStore,
        endpoints: Endpoints,
        channel: String,
        stream: String,
    },
    Hls(Box<HlsCutter>),
    Udp(UdpOut),
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
        let mut grids = Vec::new();
        for group in &plan.groups {
            let hls = match &group.delivery {
                Delivery::Hls(push) => {
                    let (tx, rx) = mpsc::channel(hls::QUEUE);
                    let variants: Vec<HlsOutputState> = group
                        .outputs
                        .iter()
                        .map(|o| HlsOutputState::new(o, plan.transcode.video.get(o.video)))
                        .collect();
                    runtime.spawn(hls::put_task(push.clone(), variants, rx, stats.clone()));
                    grids.push(CutGrid::new(push.segment_length));
                    Some((tx, push.segment_length, grids.len() - 1))
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
                        let Some((tx, length, grid)) = hls.clone() else {
                            continue;
                        };
                        Sink::Hls(Box::new(HlsCutter::new(n, length, grid, tx, stats)?))
                    }
                    Delivery::Udp => Sink::Udp(UdpOut::open(out, stats)?),
                };
                outputs.push(OutputMux::new(out, sink, &plan.audio_language));
            }
        }
        Ok(Self {
            outputs,
            grids,
            stats: stats.clone(),
        })
    }

    /// Takes one encoded packet (on the transcoder thread).
    pub fn packet(&mut self, p: &Packet) {
        let mut bytes = 0;
        for out in &mut self.outputs {
            bytes += out.packet(p, &mut self.grids);
        }
        self.stats.bytes_out.fetch_add(bytes, Ordering::Relaxed);
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
            sink,
        }
    }

    /// Muxes one packet into this output; returns the bytes muxed.
    fn packet(&mut self, p: &Packet, grids: &mut [CutGrid]) -> u64 {
        let stream = match p.track {
            Track::Video(v) if v == self.video => 0,
            Track::Audio(a) => match self.audio.iter().position(|&x| x == a) {
                Some(i) => i + 1,
                None => return 0,
            },
            Track::Video(_) => return 0,
        };
        if matches!(self.sink, Sink::MediaPackage { .. }) {
            // The origin takes whole GOPs (or pieces of very long ones).
            if (stream == 0 && p.key && !self.chunk.is_empty()) || self.chunk.len() > MAX_CHUNK {
                self.hand_over();
            }
        }
        let before = self.chunk.len();
        if let Err(e) = self
            .muxer
            .write(stream, p.pts, p.dts, p.key, &p.data, &mut self.chunk)
        {
            tracing::debug!("mux: {e}");
        }
        let muxed = self.chunk.len().saturating_sub(before) as u64;
        match &mut self.sink {
            Sink::MediaPackage { .. } => {}
            Sink::Hls(cutter) => {
                cutter.push(&self.chunk, grids, OffsetDateTime::now_utc());
                self.chunk.clear();
            }
            Sink::Udp(udp) => {
                udp.push(&self.chunk);
                self.chunk.clear();
            }
        }
        muxed
    }

    /// Hands the buffered chunk (a GOP, or a piece of one) to the origin.
    fn hand_over(&mut self) {
        let chunk = std::mem::take(&mut self.chunk);
        let Sink::MediaPackage {
            origin,
            endpoints,
            channel,
            stream,
        } = &mut self.sink
        else {
            return;
        };
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
        // Locks this packaging channel's handle only: other channels and their
        // viewers are not held up.
        let (outcome, warnings) =
            origin.ingest_ts(channel, SOURCE, stream, &chunk, &endpoints, now);
        tracing::trace!(channel = %channel, ?outcome, "in-process ingest");
        for w in warnings {
            tracing::warn!("{w}");
        }
    }
}
