//! The channel half of the supervisor: runs a [`live::Transcoder`] for every
//! MediaLive channel whose state is `STARTING` or `RUNNING`, feeds it from its
//! inputs ([`feed`]: followed, never resolved once) with input failover
//! ([`switch`]), and delivers its packets to the output groups ([`deliver`]).
//!
//! Driving contract: `reconcile` is called by the supervisor on every pass.
//! A channel that entered `STARTING` becomes `RUNNING` once its transcoder has
//! opened its encoders — whether or not its inputs deliver yet (like AWS,
//! which runs and reports input loss). A configuration the engine cannot run
//! sends the channel back to `IDLE` with a warning naming the setting.
//! `STOPPING` / `DELETING` channels lose their engine on the next pass. An
//! engine whose thread died is restarted (counted in the report); a feed
//! task that ended is started again. Every pass posts the channel's
//! [`ChannelReport`] on its watch channel, and renews who may push to each
//! of its inputs (their input security groups' rules, which the feed
//! applies from its next datagram).

pub mod deliver;
pub mod feed;
pub mod put;
pub mod switch;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use control::medialive::model::{ChannelRecord, ChannelState};
use control::medialive::plan::{plan, Plan};
use control::medialive::security_group::AllowedSenders;
use control::packaging::endpoint_config;
use control::reports::{ChannelCounters, ChannelReport};
use live::Transcoder;
use package::origin::EndpointConfig;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use self::deliver::{Deliver, DeliveryStats, Endpoints};
use self::feed::InputStatus;
use crate::taps::Taps;

/// What the channel engines need from the runtime.
pub(crate) struct Env<'a> {
    pub(crate) cp: &'a Arc<control::ControlPlane>,
    pub(crate) taps: &'a Arc<Taps>,
    pub(crate) rtmp: &'a Arc<crate::rtmp::RtmpIngest>,
    pub(crate) origin: &'a package::origin::OriginStore,
}

/// Datagrams that may wait for the transcoder thread before new ones are dropped.
const QUEUE: usize = 4096;

/// Engines of running channels, by channel id.
pub(crate) type Channels = HashMap<String, Running>;

/// A running channel engine.
pub(crate) struct Running {
    plan: Plan,
    transcoder: Arc<Transcoder>,
    endpoints: Endpoints,
    /// Delivery counters of the output groups.
    delivery: Arc<DeliveryStats>,
    /// The delivery problems already logged.
    reported_delivery: [u64; 3],
    feeder: Option<JoinHandle<()>>,
    on_secondary: Arc<AtomicBool>,
    reported_secondary: bool,
    /// Per input attachment (primary, secondary), as the feed sees it.
    inputs: Arc<[InputStatus]>,
    /// Per input attachment, who may push to it (read by the feed).
    senders: Vec<watch::Sender<AllowedSenders>>,
    /// When the engine started: the feed's clock.
    started: Instant,
    /// The channel's report, as posted.
    report: watch::Sender<ChannelReport>,
    /// Restarts and datagrams dropped by engines this one replaced.
    restarts: u64,
    dropped_before: u64,
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
pub(crate) async fn reconcile(env: &Env<'_>, channels: &mut Channels) {
    let cp = env.cp;
    let records = match cp.live_channel_records() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("supervisor cannot read channels: {e}");
            return;
        }
    };
    let wanted: Vec<&ChannelRecord> = records
        .iter()
        .filter(|r| matches!(r.entered, ChannelState::Starting | ChannelState::Running))
        .collect();
    channels.retain(|id, _| {
        let keep = wanted.iter().any(|r| &r.id == id);
        if !keep {
            cp.reports.detach_channel(id);
        }
        keep
    });
    let endpoint_records = cp.origin_endpoints().unwrap_or_default();
    for rec in wanted {
        if !channels.contains_key(&rec.id) {
            match start(env, rec, None).await {
                Ok(running) => {
                    tracing::info!(channel = %rec.id, "channel engine started");
                    cp.reports
                        .attach_channel(&rec.id, running.report.subscribe());
                    channels.insert(rec.id.clone(), running);
                    cp.channel_reached(
                        &rec.id,
                        ChannelState::Starting,
                        ChannelState::Running,
                        None,
                    );
                }
                Err(e) => {
                    tracing::warn!(channel = %rec.id, "channel cannot run, back to IDLE: {e}");
                    cp.channel_reached(&rec.id, ChannelState::Starting, ChannelState::Idle, None);
                    cp.channel_reached(&rec.id, ChannelState::Running, ChannelState::Idle, None);
                    continue;
                }
            }
        }
        if !restart_if_dead(env, channels, rec).await {
            continue;
        }
        let Some(running) = channels.get_mut(&rec.id) else {
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
        renew_senders(cp, &rec.id, running);
        if running.feeder.as_ref().is_none_or(JoinHandle::is_finished) {
            if running.feeder.is_some() {
                tracing::warn!(channel = %rec.id, "channel feed ended; starting it again");
            }
            running.feeder = Some(feed::spawn(
                env.cp,
                env.taps,
                env.rtmp,
                &running.plan,
                running.transcoder.clone(),
                running.on_secondary.clone(),
                running.inputs.clone(),
                &running
                    .senders
                    .iter()
                    .map(watch::Sender::subscribe)
                    .collect::<Vec<_>>(),
            ));
        }
        report_delivery(&rec.id, running);
        let now_secondary = running.on_secondary.load(Ordering::Relaxed);
        if now_secondary != running.reported_secondary {
            running.reported_secondary = now_secondary;
            let name = if now_secondary {
                running.plan.secondary.as_ref().map(|a| a.name.clone())
            } else {
                Some(running.plan.primary.name.clone())
            };
            tracing::info!(channel = %rec.id, active = ?name, "input switched");
            cp.channel_reached(&rec.id, ChannelState::Running, ChannelState::Running, name);
        }
        post_report(&rec.id, running);
    }
}

/// The input ids of a plan's attachments (primary, secondary).
fn attachment_inputs(plan: &Plan) -> impl Iterator<Item = &str> {
    std::iter::once(plan.primary.input_id.as_str())
        .chain(plan.secondary.as_ref().map(|a| a.input_id.as_str()))
}

/// Who may push to input `input_id` now; an input that cannot be read
/// admits no one (its feed is waiting on it anyway).
fn senders_of(cp: &control::ControlPlane, channel: &str, input_id: &str) -> AllowedSenders {
    cp.allowed_senders(input_id).unwrap_or_else(|e| {
        tracing::warn!(
            channel,
            input = input_id,
            "cannot read the input's security groups: {e}"
        );
        AllowedSenders::Within(Vec::new())
    })
}

/// Renews who may push to each input of a running channel from the stored
/// documents; the feed sees a change only when there is one.
fn renew_senders(cp: &control::ControlPlane, channel: &str, running: &Running) {
    for (tx, input) in running.senders.iter().zip(attachment_inputs(&running.plan)) {
        let now = senders_of(cp, channel, input);
        tx.send_if_modified(|was| {
            let changed = *was != now;
            if changed {
                *was = now;
            }
            changed
        });
    }
}

/// Logs the output groups' delivery problems when they grow.
fn report_delivery(channel: &str, running: &mut Running) {
    let d = &running.delivery;
    let now = [
        d.hls_dropped.load(Ordering::Relaxed),
        d.hls_failed.load(Ordering::Relaxed),
        d.udp_errors.load(Ordering::Relaxed),
    ];
    if now != running.reported_delivery {
        running.reported_delivery = now;
        tracing::warn!(
            channel,
            hls_dropped = now[0],
            hls_failed = now[1],
            udp_errors = now[2],
            "output delivery problems"
        );
    }
}

/// Restarts the engine of `rec` if its transcoder thread ended (logged with
/// the reason, counted in [`ChannelReport::engine_restarts`]). False if the
/// channel has no engine now (a restart that failed sends it to `IDLE`).
async fn restart_if_dead(env: &Env<'_>, channels: &mut Channels, rec: &ChannelRecord) -> bool {
    let Some(running) = channels.get(&rec.id) else {
        return false;
    };
    if running.transcoder.is_alive() {
        return true;
    }
    let reason = running
        .transcoder
        .error()
        .unwrap_or_else(|| "the engine thread ended".into());
    let restarts = running.restarts + 1;
    let dropped = running.dropped_before + running.transcoder.dropped();
    tracing::error!(
        channel = %rec.id,
        restarts,
        "channel engine died, restarting it: {reason}"
    );
    let mut previous = None;
    if let Some(mut old) = channels.remove(&rec.id) {
        // Wait for the old feeder to be gone: it may hold the input's UDP
        // port, which the new feeder binds.
        if let Some(f) = old.feeder.take() {
            f.abort();
            let _ = f.await;
        }
        previous = Some((old.reported_secondary, old.report.clone()));
    }
    match start(env, rec, previous.as_ref().map(|(_, r)| r.clone())).await {
        Ok(mut fresh) => {
            fresh.restarts = restarts;
            fresh.dropped_before = dropped;
            // The new engine starts on the primary: report it if the
            // channel said otherwise.
            fresh.reported_secondary = previous.is_some_and(|(s, _)| s);
            channels.insert(rec.id.clone(), fresh);
            true
        }
        Err(e) => {
            tracing::warn!(channel = %rec.id, "channel engine cannot restart, back to IDLE: {e}");
            env.cp.reports.detach_channel(&rec.id);
            env.cp
                .channel_reached(&rec.id, ChannelState::Running, ChannelState::Idle, None);
            false
        }
    }
}

/// Posts the channel's report; logs input loss and black / silent inputs
/// starting and ending.
fn post_report(channel: &str, running: &mut Running) {
    let secondary = running.on_secondary.load(Ordering::Relaxed);
    let inputs: Vec<_> = running
        .inputs
        .iter()
        .map(|i| i.report(running.started))
        .collect();
    let progress = running.transcoder.progress();
    let delivery = &running.delivery;
    let counters = ChannelCounters {
        decoded_frames: progress.stats.video_frames,
        fill_frames: progress.stats.fill_frames,
        dropped_frames: progress.stats.skipped_access_units + progress.stats.corrupt_pictures,
        input_bytes: progress.input_bytes,
        output_bytes: delivery.bytes_out.load(Ordering::Relaxed),
        busy_nanos: u64::try_from(progress.busy.as_nanos()).unwrap_or(u64::MAX),
        http_4xx: delivery.http_4xx.load(Ordering::Relaxed),
        http_5xx: delivery.http_5xx.load(Ordering::Relaxed),
        outputs: running
            .plan
            .groups
            .iter()
            .map(|g| g.outputs.len() as u32)
            .sum(),
        frame_rate: running
            .plan
            .transcode
            .video
            .iter()
            .map(|v| v.framerate)
            .max_by(|a, b| {
                let fa = f64::from(a.0) / f64::from(a.1.max(1));
                let fb = f64::from(b.0) / f64::from(b.1.max(1));
                fa.total_cmp(&fb)
            })
            .unwrap_or((0, 1)),
        sampled_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0)),
    };
    let now = ChannelReport {
        counters,
        active_input: inputs
            .get(usize::from(secondary))
            .map(|i| i.name.clone())
            .unwrap_or_default(),
        input_loss: running.transcoder.input_loss(),
        dropped_datagrams: running.dropped_before + running.transcoder.dropped(),
        engine_restarts: running.restarts,
        inputs,
    };
    let was = running.report.borrow().clone();
    if now.active_input != was.active_input && !was.active_input.is_empty() {
        tracing::info!(channel, input = %now.active_input, "reported active input: {}", now.active_input);
    }
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
    running.report.send_if_modified(|r| {
        let changed = *r != now;
        *r = now;
        changed
    });
}

/// Opens the encoders of a channel. `report` carries on the report channel
/// of an engine this one replaces.
async fn start(
    env: &Env<'_>,
    rec: &ChannelRecord,
    report: Option<watch::Sender<ChannelReport>>,
) -> Result<Running, String> {
    let plan = plan(&rec.settings)?;
    let endpoints: Endpoints = Arc::new(Mutex::new(HashMap::new()));
    let delivery = Arc::new(DeliveryStats::default());
    let mut deliver = Deliver::new(
        &plan,
        env.origin,
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
    let mut names = vec![plan.primary.name.as_str()];
    names.extend(plan.secondary.as_ref().map(|a| a.name.as_str()));
    let inputs: Arc<[InputStatus]> = names
        .into_iter()
        .map(|name| InputStatus::new(name, Some(env.cp.clone())))
        .collect();
    // In force from the first datagram: the feed never admits a sender the
    // input's groups do not.
    let senders = attachment_inputs(&plan)
        .map(|input| watch::channel(senders_of(env.cp, &rec.id, input)).0)
        .collect();
    Ok(Running {
        plan,
        transcoder: Arc::new(transcoder),
        endpoints,
        delivery,
        reported_delivery: [0; 3],
        feeder: None,
        on_secondary: Arc::new(AtomicBool::new(false)),
        reported_secondary: false,
        inputs,
        senders,
        started: Instant::now(),
        report: report.unwrap_or_else(|| watch::channel(ChannelReport::default()).0),
        restarts: 0,
        dropped_before: 0,
    })
}
