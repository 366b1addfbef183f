//! Feeding a running channel: where each input's datagrams come from (a
//! MediaConnect flow's in-process tap, or the UDP port of an RTP_PUSH /
//! UDP_PUSH input) and the task that passes the active input's datagrams to the
//! transcoder, as [`InputSwitch`] decides.
//!
//! With a black-video or audio-silence failover condition, every input (the
//! standby too) also feeds a [`live::watch::Watcher`] — its own thread behind
//! a drop-not-block queue — whose flags go into the switch every tick and into
//! [`InputFlags`] for the channel's health.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use live::demux::Selection;
use live::watch::{WatchConfig, Watcher};
use live::Transcoder;
use tokio::net::UdpSocket;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::encoder::{Attachment, Plan};
use super::model::InputRecord;
use super::switch::{Condition, InputSwitch, Side};
use super::INPUT_KIND;
use crate::supervisor::Engines;
use crate::ControlPlane;

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

/// Datagrams that may wait for an input watcher before new ones are dropped.
const WATCH_QUEUE: usize = 2048;

/// What the input watchers see, per input (0 primary, 1 secondary), for the
/// channel's health.
#[derive(Debug, Default)]
pub(crate) struct InputFlags {
    pub(crate) black: [AtomicBool; 2],
    pub(crate) silent: [AtomicBool; 2],
}

/// The watcher of each input, when a black or silence condition is set.
fn watchers(plan: &Plan) -> [Option<Watcher>; 2] {
    let f = &plan.failover;
    if plan.secondary.is_none() || (f.black.is_none() && f.silence.is_none()) {
        return [None, None];
    }
    let watcher = |i: usize| {
        let config = WatchConfig {
            selection: Selection {
                program: plan.transcode.selection.program,
                audio_pid: f
                    .silence
                    .as_ref()
                    .and_then(|s| s.pids.get(i).copied().flatten()),
                audio_language: plan.transcode.selection.audio_language,
            },
            black: f.black.as_ref().map(|b| (b.threshold, b.after)),
            silence: f.silence.as_ref().map(|s| s.after),
        };
        Watcher::spawn(config, WATCH_QUEUE)
            .inspect_err(|e| tracing::warn!("input watcher cannot start: {e}"))
            .ok()
    };
    [watcher(0), watcher(1)]
}

/// Starts the task that feeds a channel's transcoder from its inputs.
pub(crate) async fn feeder(
    cp: &ControlPlane,
    engines: &Engines,
    channel_id: &str,
) -> Option<JoinHandle<()>> {
    let running = engines.channels.get(channel_id)?;
    let plan = running.plan.clone();
    let primary = source(cp, engines, &plan.primary.input_id).await;
    let secondary = match &plan.secondary {
        Some(Attachment { input_id, .. }) => Some(source(cp, engines, input_id).await),
        None => None,
    };
    let transcoder = running.transcoder.clone();
    let on_secondary = running.on_secondary.clone();
    let flags = running.input_flags.clone();
    Some(tokio::spawn(feed(
        transcoder,
        primary,
        secondary,
        plan,
        on_secondary,
        flags,
    )))
}

async fn feed(
    transcoder: Arc<Transcoder>,
    mut primary: Source,
    secondary: Option<Source>,
    plan: Plan,
    on_secondary: Arc<AtomicBool>,
    flags: Arc<InputFlags>,
) {
    let mut switch = InputSwitch::new(
        plan.failover.loss_threshold,
        plan.failover.error_clear,
        plan.failover.prefer_primary,
        Instant::now(),
    );
    let watchers = watchers(&plan);
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
                    let now = Instant::now();
                    for (i, (side, w)) in [Side::Primary, Side::Secondary]
                        .into_iter()
                        .zip(&watchers)
                        .enumerate()
                    {
                        let Some(w) = w else { continue };
                        let (black, silent) = (w.black(), w.silent());
                        switch.set_condition(side, Condition::Black, black);
                        switch.set_condition(side, Condition::Silent, silent);
                        if let (Some(b), Some(s)) = (flags.black.get(i), flags.silent.get(i)) {
                            b.store(black, Ordering::Relaxed);
                            s.store(silent, Ordering::Relaxed);
                        }
                    }
                    switch.on_tick(now);
                    on_secondary.store(switch.active() == Side::Secondary, Ordering::Relaxed);
                }
                continue;
            }
        };
        // A source that went away (its flow stopped): the supervisor starts a
        // new feeder on its next pass.
        let Some(data) = data else { return };
        if let Some(Some(w)) = watchers.get(usize::from(side == Side::Secondary)) {
            w.push(data.clone());
        }
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
