//! The channel supervisor step: runs a [`live::Transcoder`] for every channel
//! whose desired state is running, feeds it from its input (a MediaConnect
//! flow's in-process tap, or the UDP port of an RTP_PUSH / UDP_PUSH input),
//! muxes its packets with [`TsMuxer`] and hands the TS to the origin store for
//! the MediaPackage channel of the output group ([`Origin::ingest_ts`]).
//!
//! Driving contract: [`reconcile`] is called by the supervisor on every pass
//! with the engines lock held. A channel that entered `STARTING` becomes
//! `RUNNING` once its transcoder has opened its encoders — whether or not its
//! input delivers yet (like AWS, which runs and reports input loss). A
//! configuration the engine cannot run sends the channel back to `IDLE` with a
//! warning naming the setting. `STOPPING` / `DELETING` channels lose their
//! engine on the next pass.
//!
//! [`Origin::ingest_ts`]: package::origin::Origin::ingest_ts

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use live::{Packet, Track, Transcoder};
use media::mux::{MuxStream, TsMuxer, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264};
use media::ts::Pid;
use package::hls::PlaylistType;
use package::origin::EndpointConfig;
use tokio::net::UdpSocket;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::encoder::{plan, Attachment, Plan};
use super::model::{ChannelRecord, InputRecord};
use super::switch::{InputSwitch, Side};
use super::{CHANNEL_KIND, INPUT_KIND};
use crate::flow::now_ms;
use crate::packaging::model::{EndpointRecord, PlaylistType as ModelPlaylistType};
use crate::supervisor::Engines;
use crate::{ControlPlane, OriginStore};

/// Datagrams that may wait for the transcoder thread before new ones are dropped.
const QUEUE: usize = 4096;
/// The ingest source name the origin sees for in-process channel output.
const SOURCE: &str = "medialive";
/// TS buffered without a video key frame before it is handed over anyway.
const MAX_CHUNK: usize = 8 << 20;

/// A running channel engine.
pub(crate) struct Running {
    plan: Plan,
    transcoder: Arc<Transcoder>,
    endpoints: Arc<Mutex<Vec<EndpointConfig>>>,
    feeder: Option<JoinHandle<()>>,
    on_secondary: Arc<AtomicBool>,
    reported_secondary: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        // The transcoder thread ends once its queue's last sender (this Arc and
        // the feeder's) is gone.
        if let Some(f) = self.feeder.take() {
            f.abort();
        }
    }
}

/// One pass over every MediaLive channel; see the [module docs](self).
pub(crate) async fn reconcile(cp: &ControlPlane, engines: &mut Engines) {
    let records: Vec<ChannelRecord> = match cp.store.list(CHANNEL_KIND) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("supervisor cannot read channels: {e}");
            return;
        }
    };
    let wanted: Vec<&ChannelRecord> = records
        .iter()
        .filter(|r| matches!(r.entered.as_str(), "STARTING" | "RUNNING"))
        .collect();
    engines
        .channels
        .retain(|id, _| wanted.iter().any(|r| &r.id == id));
    let endpoint_records = cp.origin_endpoints().unwrap_or_default();
    for rec in wanted {
        if !engines.channels.contains_key(&rec.id) {
            match start(cp, rec).await {
                Ok(running) => {
                    tracing::info!(channel = %rec.id, "channel engine started");
                    engines.channels.insert(rec.id.clone(), running);
                    set_entered(cp, &rec.id, "STARTING", "RUNNING", None);
                }
                Err(e) => {
                    tracing::warn!(channel = %rec.id, "channel cannot run, back to IDLE: {e}");
                    set_entered(cp, &rec.id, "STARTING", "IDLE", None);
                    set_entered(cp, &rec.id, "RUNNING", "IDLE", None);
                    continue;
                }
            }
        }
        let Some(running) = engines.channels.get(&rec.id) else {
            continue;
        };
        let eps: Vec<EndpointConfig> = endpoint_records
            .iter()
            .filter(|r| r.endpoint.channel_id == running.plan.package_channel)
            .map(endpoint_config)
            .collect();
        *running.endpoints.lock().unwrap_or_else(|e| e.into_inner()) = eps;
        let needs_feeder = running.feeder.as_ref().is_none_or(JoinHandle::is_finished);
        if needs_feeder {
            let feeder = feeder(cp, engines, &rec.id).await;
            if let Some(running) = engines.channels.get_mut(&rec.id) {
                running.feeder = feeder;
            }
        }
        if let Some(running) = engines.channels.get_mut(&rec.id) {
            let now_secondary = running.on_secondary.load(Ordering::Relaxed);
            if now_secondary != running.reported_secondary {
                running.reported_secondary = now_secondary;
                let name = if now_secondary {
                    running.plan.secondary.as_ref().map(|a| a.name.clone())
                } else {
                    Some(running.plan.primary.name.clone())
                };
                tracing::info!(channel = %rec.id, active = ?name, "input switched");
                set_entered(cp, &rec.id, "RUNNING", "RUNNING", name);
            }
        }
    }
}

/// Opens the encoders of a channel.
async fn start(cp: &ControlPlane, rec: &ChannelRecord) -> Result<Running, String> {
    let plan = plan(&rec.settings)?;
    let endpoints = Arc::new(Mutex::new(Vec::new()));
    let mut packager = Packager::new(
        cp.origin.clone(),
        endpoints.clone(),
        plan.package_channel.clone(),
        !plan.transcode.audio.is_empty(),
    );
    let config = plan.transcode.clone();
    let transcoder = tokio::task::spawn_blocking(move || {
        Transcoder::spawn(config, QUEUE, move |p| packager.packet(p))
    })
    .await
    .map_err(|e| format!("transcoder start: {e}"))?
    .map_err(|e| e.to_string())?;
    Ok(Running {
        plan,
        transcoder: Arc::new(transcoder),
        endpoints,
        feeder: None,
        on_secondary: Arc::new(AtomicBool::new(false)),
        reported_secondary: false,
    })
}

/// Where an input's datagrams come from.
enum Source {
    Tap(broadcast::Receiver<Bytes>),
    Socket {
        socket: UdpSocket,
        rtp: bool,
    },
    /// Not available now (a flow that is not running): never delivers.
    Absent,
}

impl Source {
    /// The next datagram of whole TS packets; `None` once the source is gone.
    async fn recv(&mut self, buf: &mut [u8]) -> Option<Vec<u8>> {
        match self {
            Source::Tap(rx) => loop {
                match rx.recv().await {
                    Ok(b) => return Some(b.to_vec()),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            },
            Source::Socket { socket, rtp } => loop {
                let Ok((n, _)) = socket.recv_from(buf).await else {
                    return None;
                };
                let data = buf.get(..n)?;
                let payload = if *rtp { rtp_payload(data) } else { Some(data) };
                if let Some(p) = payload.filter(|p| !p.is_empty()) {
                    return Some(p.to_vec());
                }
            },
            Source::Absent => std::future::pending().await,
        }
    }
}

/// The payload of an RTP packet (RFC 3550 §5.1), or the datagram itself when it
/// already starts with a TS sync byte.
fn rtp_payload(d: &[u8]) -> Option<&[u8]> {
    if d.first() == Some(&0x47) {
        return Some(d);
    }
    let first = *d.first()?;
    if first >> 6 != 2 {
        return None;
    }
    let csrc = usize::from(first & 0x0F);
    let mut at = 12 + 4 * csrc;
    if first & 0x10 != 0 {
        let ext: [u8; 2] = d.get(at + 2..at + 4)?.try_into().ok()?;
        at += 4 + 4 * usize::from(u16::from_be_bytes(ext));
    }
    let mut payload = d.get(at..)?;
    if first & 0x20 != 0 {
        let pad = usize::from(*payload.last()?);
        payload = payload.get(..payload.len().checked_sub(pad)?)?;
    }
    Some(payload)
}

/// The source of an input now.
async fn source(cp: &ControlPlane, engines: &Engines, input_id: &str) -> Source {
    let Ok(Some(input)) = cp.store.get::<InputRecord>(INPUT_KIND, input_id) else {
        return Source::Absent;
    };
    match input.input_type.as_str() {
        "MEDIACONNECT" => input
            .media_connect_flows
            .iter()
            .find_map(|f| engines.tap(&f.flow_arn))
            .map_or(Source::Absent, Source::Tap),
        "RTP_PUSH" | "UDP_PUSH" => {
            let Some(port) = input.ports().first().copied() else {
                return Source::Absent;
            };
            match UdpSocket::bind((cp.settings.ingest_bind, port)).await {
                Ok(socket) => Source::Socket {
                    socket,
                    rtp: input.input_type == "RTP_PUSH",
                },
                Err(e) => {
                    tracing::warn!(input = %input_id, "cannot listen on port {port}: {e}");
                    Source::Absent
                }
            }
        }
        _ => Source::Absent,
    }
}

/// Starts the task that feeds a channel's transcoder from its inputs.
async fn feeder(cp: &ControlPlane, engines: &Engines, channel_id: &str) -> Option<JoinHandle<()>> {
    let running = engines.channels.get(channel_id)?;
    let plan = running.plan.clone();
    let primary = source(cp, engines, &plan.primary.input_id).await;
    let secondary = match &plan.secondary {
        Some(Attachment { input_id, .. }) => Some(source(cp, engines, input_id).await),
        None => None,
    };
    let transcoder = running.transcoder.clone();
    let on_secondary = running.on_secondary.clone();
    Some(tokio::spawn(feed(
        transcoder,
        primary,
        secondary,
        plan,
        on_secondary,
    )))
}

async fn feed(
    transcoder: Arc<Transcoder>,
    mut primary: Source,
    secondary: Option<Source>,
    plan: Plan,
    on_secondary: Arc<AtomicBool>,
) {
    let mut switch = InputSwitch::new(
        plan.loss_threshold,
        plan.error_clear,
        plan.prefer_primary,
        Instant::now(),
    );
    let has_secondary = secondary.is_some();
    let mut secondary = secondary.unwrap_or(Source::Absent);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let (mut a, mut b) = (vec![0u8; 65_536], vec![0u8; 65_536]);
    loop {
        let (side, data) = tokio::select! {
            d = primary.recv(&mut a) => (Side::Primary, d),
            d = secondary.recv(&mut b) => (Side::Secondary, d),
            _ = tick.tick() => {
                if has_secondary {
                    switch.on_tick(Instant::now());
                    on_secondary.store(switch.active() == Side::Secondary, Ordering::Relaxed);
                }
                continue;
            }
        };
        // A source that went away (its flow stopped): the supervisor starts a
        // new feeder on its next pass.
        let Some(data) = data else { return };
        let feed = if has_secondary {
            let pass = switch.on_datagram(side, Instant::now());
            on_secondary.store(switch.active() == Side::Secondary, Ordering::Relaxed);
            pass
        } else {
            side == Side::Primary
        };
        if feed {
            transcoder.push(data);
        }
    }
}

/// Muxes a channel's encoded packets (first video and first audio rendition)
/// and hands the TS to the origin, one chunk per video GOP. Runs on the
/// transcoder thread.
struct Packager {
    muxer: TsMuxer,
    chunk: Vec<u8>,
    origin: OriginStore,
    endpoints: Arc<Mutex<Vec<EndpointConfig>>>,
    channel: String,
}

impl Packager {
    fn new(
        origin: OriginStore,
        endpoints: Arc<Mutex<Vec<EndpointConfig>>>,
        channel: String,
        audio: bool,
    ) -> Self {
        let mut streams = vec![MuxStream {
            pid: Pid(0x100),
            stream_type: STREAM_TYPE_H264,
            stream_id: 0xE0,
        }];
        if audio {
            streams.push(MuxStream {
                pid: Pid(0x101),
                stream_type: STREAM_TYPE_AAC_ADTS,
                stream_id: 0xC0,
            });
        }
        Self {
            muxer: TsMuxer::new(&streams, 0),
            chunk: Vec::new(),
            origin,
            endpoints,
            channel,
        }
    }

    fn packet(&mut self, p: Packet) {
        let stream = match p.track {
            Track::Video(0) => 0,
            Track::Audio(0) => 1,
            _ => return,
        };
        if stream == 0 && p.key && !self.chunk.is_empty() || self.chunk.len() > MAX_CHUNK {
            self.hand_over();
        }
        if let Err(e) = self
            .muxer
            .write(stream, p.pts, p.dts, p.key, &p.data, &mut self.chunk)
        {
            tracing::debug!(channel = %self.channel, "mux: {e}");
        }
    }

    fn hand_over(&mut self) {
        let chunk = std::mem::take(&mut self.chunk);
        let endpoints = self
            .endpoints
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if endpoints.is_empty() {
            return;
        }
        let now = time::OffsetDateTime::now_utc();
        let mut origin = self.origin.lock().unwrap_or_else(|e| e.into_inner());
        let outcome = origin.ingest_ts(&self.channel, SOURCE, &chunk, &endpoints, now);
        tracing::trace!(channel = %self.channel, ?outcome, "in-process ingest");
    }
}

/// Moves a channel from `from` to `to` (and names its active input), unless
/// the operator changed its state in the meantime.
fn set_entered(cp: &ControlPlane, id: &str, from: &str, to: &str, active: Option<String>) {
    let Ok(_w) = cp.write_lock() else { return };
    let Ok(Some(mut rec)) = cp.store.get::<ChannelRecord>(CHANNEL_KIND, id) else {
        return;
    };
    if rec.entered != from {
        return;
    }
    if rec.entered != to {
        rec.entered = to.into();
        rec.entered_ms = now_ms();
    }
    if to == "RUNNING" {
        rec.active_input = active.or(rec.active_input.take());
    } else {
        rec.active_input = None;
    }
    if let Err(e) = cp.save_live_channel(&rec) {
        tracing::error!("cannot write channel {id}: {e}");
    }
}

/// The packaging settings of an origin endpoint record.
pub fn endpoint_config(rec: &EndpointRecord) -> EndpointConfig {
    let e = &rec.endpoint;
    let hls = &e.hls_package;
    let secs = |s: i64| Duration::from_secs(u64::try_from(s).unwrap_or(0));
    EndpointConfig {
        id: e.id.clone(),
        manifest_name: e.manifest_name.clone(),
        segment_duration: secs(hls.segment_duration_seconds).max(Duration::from_secs(1)),
        window: secs(hls.playlist_window_seconds),
        startover: secs(e.startover_window_seconds),
        playlist_type: match hls.playlist_type {
            ModelPlaylistType::None => PlaylistType::Live,
            ModelPlaylistType::Event => PlaylistType::Event,
            ModelPlaylistType::Vod => PlaylistType::Vod,
        },
        program_date_time_interval: (hls.program_date_time_interval_seconds > 0)
            .then(|| secs(hls.program_date_time_interval_seconds)),
        time_delay: secs(e.time_delay_seconds),
    }
}

/// Engines of running channels, by channel id.
pub(crate) type Channels = HashMap<String, Running>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_payloads() {
        let ts = [0x47u8; 188];
        assert_eq!(rtp_payload(&ts), Some(&ts[..]));
        let mut rtp = vec![0x80, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        rtp.extend_from_slice(&ts);
        assert_eq!(rtp_payload(&rtp), Some(&ts[..]));
        assert_eq!(rtp_payload(&[0x80, 33]), None);
        assert_eq!(rtp_payload(&[0x00; 20]), None);
    }
}
