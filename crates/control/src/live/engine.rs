//! The channel supervisor step: runs a [`live::Transcoder`] for every channel
//! whose desired state is running, feeds it from its input (a MediaConnect
//! flow's in-process tap, or the UDP port of an RTP_PUSH / UDP_PUSH input),
//! and delivers its packets to the output groups ([`super::deliver`]).
//!
//! Driving contract: [`reconcile`] is called by the supervisor on every pass
//! with the engines lock held. A channel that entered `STARTING` becomes
//! `RUNNING` once its transcoder has opened its encoders — whether or not its
//! input delivers yet (like AWS, which runs and reports input loss). A
//! configuration the engine cannot run sends the channel back to `IDLE` with a
//! warning naming the setting. `STOPPING` / `DELETING` channels lose their
//! engine on the next pass.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use live::Transcoder;
use package::hls::PlaylistType;
use package::origin::EndpointConfig;
use tokio::task::JoinHandle;

use super::deliver::{Deliver, DeliveryStats, Endpoints};
use super::encoder::{plan, Plan};
use super::feed::{feeder, InputFlags};
use super::model::ChannelRecord;
use super::CHANNEL_KIND;
use crate::flow::now_ms;
use crate::packaging::model::{EndpointRecord, PlaylistType as ModelPlaylistType};
use crate::supervisor::Engines;
use crate::ControlPlane;

/// Datagrams that may wait for the transcoder thread before new ones are dropped.
const QUEUE: usize = 4096;

/// A running channel engine.
pub(crate) struct Running {
    pub(crate) plan: Plan,
    pub(crate) transcoder: Arc<Transcoder>,
    endpoints: Endpoints,
    /// Delivery counters of the output groups.
    pub(crate) delivery: Arc<DeliveryStats>,
    /// The delivery problems already logged.
    reported_delivery: [u64; 3],
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
        let eps: HashMap<String, Vec<EndpointConfig>> = running
            .plan
            .package_channels()
            .map(|channel| {
                let list = endpoint_records
                    .iter()
                    .filter(|r| r.endpoint.channel_id == channel)
                    .map(endpoint_config)
                    .collect();
                (channel.to_owned(), list)
            })
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
            let d = &running.delivery;
            let now = [
                d.hls_dropped.load(Ordering::Relaxed),
                d.hls_failed.load(Ordering::Relaxed),
                d.udp_errors.load(Ordering::Relaxed),
            ];
            if now != running.reported_delivery {
                running.reported_delivery = now;
                tracing::warn!(
                    channel = %rec.id,
                    hls_dropped = now[0],
                    hls_failed = now[1],
                    udp_errors = now[2],
                    "output delivery problems"
                );
            }
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
    let endpoints: Endpoints = Arc::new(Mutex::new(HashMap::new()));
    let delivery = Arc::new(DeliveryStats::default());
    let mut deliver = Deliver::new(
        &plan,
        &cp.origin,
        &endpoints,
        &tokio::runtime::Handle::current(),
        &delivery,
    )?;
    let config = plan.transcode.clone();
    let loss = plan.failover.input_loss.clone();
    let transcoder = tokio::task::spawn_blocking(move || {
        Transcoder::spawn_with(config, Some(loss), QUEUE, move |p| deliver.packet(&p))
    })
    .await
    .map_err(|e| format!("transcoder start: {e}"))?
    .map_err(|e| e.to_string())?;
    Ok(Running {
        plan,
        transcoder: Arc::new(transcoder),
        endpoints,
        delivery,
        reported_delivery: [0; 3],
        feeder: None,
        on_secondary: Arc::new(AtomicBool::new(false)),
        reported_secondary: false,
        input_flags: Arc::default(),
        health: ChannelHealth::default(),
    })
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
