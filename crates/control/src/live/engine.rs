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
use std::time::Duration;

use live::{Packet, Track, Transcoder};
use media::mux::{MuxStream, TsMuxer, STREAM_TYPE_AAC_ADTS, STREAM_TYPE_H264};
use media::ts::Pid;
use package::hls::PlaylistType;
use package::origin::EndpointConfig;
use tokio::task::JoinHandle;

use super::encoder::{plan, Plan};
use super::feed::{feeder, InputFlags};
use super::model::ChannelRecord;
use super::CHANNEL_KIND;
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
    pub(crate) plan: Plan,
    pub(crate) transcoder: Arc<Transcoder>,
    endpoints: Arc<Mutex<Vec<EndpointConfig>>>,
    feeder: Option<JoinHandle<()>>,
    pub(crate) on_secondary: Arc<AtomicBool>,
    reported_secondary: bool,
    /// Black / silent per input, as the feeder's input watchers see them.
    pub(crate) input_flags: Arc<InputFlags>,
    /// Refreshed on every supervisor pass.
    pub(crate) health: ChannelHealth,
}

/// A channel's health as of the last supervisor pass, for status and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelHealth {
    /// The input attachment fed now.
    pub active_input: String,
    /// The engine is filling an input loss (inputLossBehavior).
    pub input_loss: bool,
    /// Per input attachment (primary, then secondary): name, black, silent.
    /// The flags are only watched with a black / silence failover condition.
    pub inputs: Vec<InputHealth>,
    /// Datagrams the engine dropped because it was behind (all restarts).
    pub dropped_datagrams: u64,
    /// Times the engine died and was restarted.
    pub engine_restarts: u64,
    /// Dropped datagrams of engines that were replaced.
    dropped_before: u64,
}

/// One input's failover conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputHealth {
    pub name: String,
    pub black: bool,
    pub silent: bool,
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
        if !restart_if_dead(cp, engines, rec).await {
            continue;
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
            refresh_health(&rec.id, running);
        }
    }
}

/// Restarts the engine of `rec` if its transcoder thread ended (logged with
/// the reason, counted in [`ChannelHealth::engine_restarts`]). False if the
/// channel has no engine now (a restart that failed sends it to `IDLE`).
async fn restart_if_dead(cp: &ControlPlane, engines: &mut Engines, rec: &ChannelRecord) -> bool {
    let Some(running) = engines.channels.get(&rec.id) else {
        return false;
    };
    if running.transcoder.is_alive() {
        return true;
    }
    let reason = running
        .transcoder
        .error()
        .unwrap_or_else(|| "the engine thread ended".into());
    let mut health = running.health.clone();
    health.engine_restarts += 1;
    health.dropped_before = health.dropped_datagrams;
    tracing::error!(
        channel = %rec.id,
        restarts = health.engine_restarts,
        "channel engine died, restarting it: {reason}"
    );
    let mut reported_secondary = false;
    if let Some(mut old) = engines.channels.remove(&rec.id) {
        reported_secondary = old.reported_secondary;
        // Wait for the old feeder to be gone: it may hold the input's UDP
        // port, which the new feeder binds.
        if let Some(f) = old.feeder.take() {
            f.abort();
            let _ = f.await;
        }
    }
    match start(cp, rec).await {
        Ok(mut fresh) => {
            fresh.health = health;
            // The new engine starts on the primary: report it if the
            // channel said otherwise.
            fresh.reported_secondary = reported_secondary;
            engines.channels.insert(rec.id.clone(), fresh);
            true
        }
        Err(e) => {
            tracing::warn!(channel = %rec.id, "channel engine cannot restart, back to IDLE: {e}");
            set_entered(cp, &rec.id, "RUNNING", "IDLE", None);
            false
        }
    }
}

/// Reads the engine's and the watchers' state into [`Running::health`];
/// logs input loss and black / silent inputs starting and ending.
fn refresh_health(channel: &str, running: &mut Running) {
    let plan = &running.plan;
    let secondary = running.on_secondary.load(Ordering::Relaxed);
    let mut names = vec![plan.primary.name.clone()];
    names.extend(plan.secondary.as_ref().map(|a| a.name.clone()));
    let inputs: Vec<InputHealth> = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| InputHealth {
            name,
            black: running
                .input_flags
                .black
                .get(i)
                .is_some_and(|b| b.load(Ordering::Relaxed)),
            silent: running
                .input_flags
                .silent
                .get(i)
                .is_some_and(|b| b.load(Ordering::Relaxed)),
        })
        .collect();
    let was = &running.health;
    let now = ChannelHealth {
        active_input: inputs
            .get(usize::from(secondary))
            .map(|i| i.name.clone())
            .unwrap_or_default(),
        input_loss: running.transcoder.input_loss(),
        dropped_datagrams: was.dropped_before + running.transcoder.dropped(),
        inputs,
        ..was.clone()
    };
    if now.input_loss != was.input_loss {
        if now.input_loss {
            tracing::info!(channel, "input loss started: filling the output");
        } else {
            tracing::info!(channel, "input loss ended");
        }
    }
    for (i, input) in now.inputs.iter().enumerate() {
        let before = was.inputs.get(i).cloned().unwrap_or_default();
        if input.black != before.black {
            tracing::info!(channel, input = %input.name, black = input.black, "video black condition");
        }
        if input.silent != before.silent {
            tracing::info!(channel, input = %input.name, silent = input.silent, "audio silence condition");
        }
    }
    running.health = now;
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
    let loss = plan.failover.input_loss.clone();
    let transcoder = tokio::task::spawn_blocking(move || {
        Transcoder::spawn_with(config, Some(loss), QUEUE, move |p| packager.packet(p))
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
        input_flags: Arc::default(),
        health: ChannelHealth::default(),
    })
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
        let outcome = origin.ingest_ts(&self.channel, SOURCE, "0", &chunk, &endpoints, now);
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
