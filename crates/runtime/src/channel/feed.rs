//! Feeding a running channel: each input follows its source — a MediaConnect
//! flow's in-process tap (through [`Taps`], by flow ARN), the UDP port of an
//! RTP_PUSH / UDP_PUSH input, or an RTMP_PUSH input's stream names on the
//! shared RTMP listener ([`crate::rtmp`], TS made from the publisher's media)
//! — and one task passes the active input's datagrams to the transcoder, as
//! [`InputSwitch`] decides. An RTMP publisher that leaves is an input that
//! stops; the next one starts a new stream.
//!
//! A source is never resolved once and kept: a flow that is not running yet,
//! stops, starts again or is restarted with new sources is picked up as soon
//! as its new engine publishes its tap; a push port held by another program
//! is tried again every [`RETRY_BIND`]. Each input's state (waiting and why,
//! connected, losses) is kept in [`InputStatus`] for the channel's report.
//! The feed task runs as long as the channel's engine.
//!
//! A push input takes datagrams only from the senders its input security
//! groups admit ([`AllowedSenders`]); the others are dropped and counted
//! ([`InputReport::refused`]), and the first refusal under each set of rules
//! is logged with the sender's address. The rules come on a `watch` the
//! supervisor renews from the stored documents on every pass, so an
//! UpdateInputSecurityGroup or UpdateInput is in force without a restart.
//!
//! With a black-video or audio-silence failover condition, every input (the
//! standby too) also feeds a [`live::watch::Watcher`] — its own thread behind
//! a drop-not-block queue — whose flags go into the switch every tick and into
//! [`InputStatus`] for the channel's health.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use control::medialive::model::{InputRecord, InputType};
use control::medialive::plan::Plan;
use control::medialive::security_group::AllowedSenders;
use control::reports::{InputReport, InputState};
use live::watch::{WatchConfig, Watcher};
use live::Transcoder;
use live_config::Selection;
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, watch};
use transport::rtp::RtpPacket;

use super::switch::{Condition, InputSwitch, Side};
use crate::rtmp::{Delivery, Registration, RtmpIngest};
use crate::srt_input::{self, CallerConfig, SrtCaller};
use crate::taps::Taps;

/// How long a push input waits before it tries a busy port again.
pub const RETRY_BIND: Duration = Duration::from_secs(1);

/// One input of a running channel, as its feed sees it; read by the
/// supervisor for the channel's report.
#[derive(Default)]
pub struct InputStatus {
    report: Mutex<InputReport>,
    /// Woken when the state changes, so the report is posted at once.
    control: Option<Arc<control::ControlPlane>>,
    /// Milliseconds since the feed started, of the last datagram (0: none yet).
    last_datagram_ms: AtomicU64,
    /// Datagrams refused by the input's security groups, and when the last
    /// one was (milliseconds since the feed started).
    refused: AtomicU64,
    last_refused_ms: AtomicU64,
    /// A refusal was logged under the rules in force.
    refusal_logged: AtomicBool,
    black: AtomicBool,
    silent: AtomicBool,
}

/// Milliseconds from `since` to now, at least 1 (0 means "never").
fn ms_since(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl InputStatus {
    /// The status of input attachment `name`; a change of state wakes the
    /// supervisor of `control`, which posts the channel's report.
    pub fn new(name: &str, control: Option<Arc<control::ControlPlane>>) -> Self {
        InputStatus {
            report: Mutex::new(InputReport {
                name: name.into(),
                ..InputReport::default()
            }),
            control,
            ..InputStatus::default()
        }
    }

    /// The input attachment's name.
    fn name(&self) -> String {
        self.report
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .name
            .clone()
    }

    fn wake(&self) {
        if let Some(cp) = &self.control {
            cp.wake();
        }
    }

    /// The input's report now; `since` is when the feed started.
    pub fn report(&self, since: Instant) -> InputReport {
        let mut r = self.lock().clone();
        r.black = self.black.load(Ordering::Relaxed);
        r.silent = self.silent.load(Ordering::Relaxed);
        r.refused = self.refused.load(Ordering::Relaxed);
        if r.state == InputState::Connected {
            let last = self.last_datagram_ms.load(Ordering::Relaxed);
            let now = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
            if last == 0 || now.saturating_sub(last) > 1_000 {
                r.state = InputState::Silent;
                let refused = self.last_refused_ms.load(Ordering::Relaxed);
                if refused != 0 && now.saturating_sub(refused) <= 1_000 {
                    r.reason = Some(
                        "datagrams arrive but are refused: their sender is outside the input's security groups"
                            .into(),
                    );
                }
            }
        }
        r
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InputReport> {
        self.report.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The source is attached; logged when that is news.
    fn connected(&self, what: &str) {
        let mut r = self.lock();
        if r.state != InputState::Connected {
            tracing::info!(input = %r.name, "input connected to {what}");
            r.state = InputState::Connected;
            r.reason = None;
            drop(r);
            self.wake();
        }
    }

    /// The source is not there; logged when the reason is news.
    fn waiting(&self, why: String) {
        let mut r = self.lock();
        if r.state == InputState::Connected {
            r.losses += 1;
        }
        if r.state != InputState::Waiting || r.reason.as_deref() != Some(why.as_str()) {
            tracing::warn!(input = %r.name, "input waiting: {why}");
            r.state = InputState::Waiting;
            r.reason = Some(why);
            drop(r);
            self.wake();
        }
    }

    fn datagram(&self, since: Instant) {
        self.last_datagram_ms
            .store(ms_since(since), Ordering::Relaxed);
    }

    /// A datagram from `from` was refused; the first one under the rules in
    /// force is logged (and posted at once).
    fn refused(&self, from: SocketAddr, since: Instant) {
        let total = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        self.last_refused_ms
            .store(ms_since(since), Ordering::Relaxed);
        if !self.refusal_logged.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                input = %self.name(),
                sender = %from,
                refused = total,
                "refusing datagrams from {}: outside the input's security groups",
                from.ip()
            );
            self.wake();
        }
    }

    /// New rules are in force: the next refusal is logged again.
    fn rules_changed(&self, now: &AllowedSenders) {
        self.refusal_logged.store(false, Ordering::Relaxed);
        tracing::info!(input = %self.name(), senders = ?now, "input security group rules changed");
    }
}

/// Who a push input admits, kept current from the supervisor's `watch`.
struct Admission {
    rules: Option<watch::Receiver<AllowedSenders>>,
    now: AllowedSenders,
}

impl Admission {
    /// Follows `rules` (none: everyone is admitted).
    fn new(mut rules: Option<watch::Receiver<AllowedSenders>>) -> Self {
        let now = rules
            .as_mut()
            .map(|r| r.borrow_and_update().clone())
            .unwrap_or_default();
        Admission { rules, now }
    }

    /// Whether a datagram from `ip` is taken under the rules in force now.
    fn admits(&mut self, ip: IpAddr, status: &InputStatus) -> bool {
        if let Some(rx) = self.rules.as_mut() {
            if rx.has_changed().unwrap_or(false) {
                self.now = rx.borrow_and_update().clone();
                status.rules_changed(&self.now);
            }
        }
        self.now.admits(ip)
    }
}

/// Where an input's datagrams come from. [`Source::recv`] waits, following
/// the source through its comings and goings, until a datagram arrives.
enum Source {
    /// A MEDIACONNECT input: the first of its flows that runs.
    Flow(FlowFollower),
    /// An RTP_PUSH / UDP_PUSH input's port, and who may send to it.
    Push {
        bind: SocketAddr,
        rtp: bool,
        socket: Option<UdpSocket>,
        admission: Admission,
    },
    /// An RTMP_PUSH input: its stream names on the shared RTMP listener.
    Rtmp(RtmpFollower),
    /// An SRT_CALLER input: the listener it calls (its first source).
    SrtCall(SrtFollower),
    /// An input that cannot deliver (gone, or of a type with no source).
    Never(String),
}

/// An RTMP_PUSH input's place on the shared listener ([`crate::rtmp`]),
/// taken on the first `recv` and held until the feed ends.
struct RtmpFollower {
    ingest: Arc<RtmpIngest>,
    names: Vec<String>,
    rules: Option<watch::Receiver<AllowedSenders>>,
    registration: Option<Registration>,
    /// A publisher started: its first TS starts a new stream.
    fresh: bool,
}

impl RtmpFollower {
    /// The URLs the input's publishers use, for messages.
    fn urls(&self) -> String {
        let bind = self.ingest.bind();
        self.names
            .iter()
            .map(|n| format!("rtmp://{bind}/{n}"))
            .collect::<Vec<_>>()
            .join(" or ")
    }

    /// The next piece of TS, and whether a new publisher starts with it.
    async fn recv(&mut self, status: &InputStatus, since: Instant) -> (Vec<u8>, bool) {
        loop {
            let Some(reg) = self.registration.as_mut() else {
                match self.ingest.register(&self.names, self.rules.clone()) {
                    Ok(r) => {
                        self.registration = Some(r);
                        status.waiting(format!("waiting for an RTMP publisher on {}", self.urls()));
                    }
                    Err(why) => {
                        status.waiting(format!("{why}; trying again every second"));
                        tokio::time::sleep(RETRY_BIND).await;
                    }
                }
                continue;
            };
            match reg.rx.recv().await {
                Some(Delivery::Ts(ts)) => return (ts, std::mem::take(&mut self.fresh)),
                Some(Delivery::Publishing { peer, stream }) => {
                    self.fresh = true;
                    status.connected(&format!("RTMP publisher {peer} on {stream}"));
                }
                Some(Delivery::Ended { peer, why }) => {
                    status.waiting(format!(
                        "RTMP publisher {peer} left ({why}); waiting for one on {}",
                        self.urls()
                    ));
                }
                Some(Delivery::Refused(from)) => status.refused(from, since),
                Some(Delivery::Listening { error: Some(e) }) => status.waiting(format!(
                    "the RTMP listener cannot listen on {}: {e}; trying again every second",
                    self.ingest.bind()
                )),
                Some(Delivery::Listening { error: None }) => {
                    status.waiting(format!("waiting for an RTMP publisher on {}", self.urls()));
                }
                None => self.registration = None,
            }
        }
    }
}

/// An SRT_CALLER input's caller thread, or an SRT_LISTENER input's listener
/// thread ([`crate::srt_input`]), started on the first `recv` and stopped
/// when the feed ends.
struct SrtFollower {
    config: CallerConfig,
    /// Listen (SRT_LISTENER, admitting whom these rules admit) rather than call.
    listen: Option<Option<watch::Receiver<AllowedSenders>>>,
    caller: Option<SrtCaller>,
    /// A connection started: its first message starts a new stream.
    fresh: bool,
}

impl SrtFollower {
    /// The next message of TS, and whether a new connection starts with it.
    async fn recv(&mut self, status: &InputStatus, since: Instant) -> (Vec<u8>, bool) {
        loop {
            let Some(caller) = self.caller.as_mut() else {
                let started = match &self.listen {
                    Some(rules) => SrtCaller::listen(self.config.clone(), rules.clone()),
                    None => SrtCaller::start(self.config.clone()),
                };
                match started {
                    Ok(c) => {
                        if self.listen.is_none() {
                            status
                                .waiting(format!("calling the SRT listener {}", self.config.url()));
                        }
                        self.caller = Some(c);
                    }
                    Err(e) => {
                        status.waiting(format!(
                            "cannot start the SRT caller: {e}; trying again every second"
                        ));
                        tokio::time::sleep(RETRY_BIND).await;
                    }
                }
                continue;
            };
            match caller.rx.recv().await {
                Some(srt_input::Delivery::Ts(ts)) => return (ts, std::mem::take(&mut self.fresh)),
                Some(srt_input::Delivery::Connected) => {
                    self.fresh = true;
                    if self.listen.is_some() {
                        status.connected(&format!("an SRT caller on srt://{}", self.config.addr));
                    } else {
                        status.connected(&format!("the SRT listener {}", self.config.url()));
                    }
                }
                Some(srt_input::Delivery::Refused(from)) => status.refused(from, since),
                Some(srt_input::Delivery::Rejected(why)) => {
                    status.refused.fetch_add(1, Ordering::Relaxed);
                    status.waiting(why);
                }
                Some(srt_input::Delivery::Down(why)) => status.waiting(why),
                None => self.caller = None,
            }
        }
    }
}

/// Follows a MEDIACONNECT input's flows through the tap registry.
struct FlowFollower {
    taps: Arc<Taps>,
    flows: Vec<String>,
    changes: watch::Receiver<u64>,
    /// The tap instance subscribed to and its receiver.
    current: Option<(u64, broadcast::Receiver<Bytes>)>,
    /// A new tap instance was subscribed to: its stream is not the one before.
    fresh: bool,
}

impl FlowFollower {
    /// The tap to use now: the first of the input's flows that runs.
    fn wanted(&self) -> Option<(String, crate::taps::Tap)> {
        self.flows
            .iter()
            .find_map(|arn| self.taps.get(arn).map(|t| (arn.clone(), t)))
    }

    /// Subscribes to the wanted tap if it is not the one held.
    fn follow(&mut self, status: &InputStatus) {
        let wanted = self.wanted();
        let held = self.current.as_ref().map(|(i, _)| *i);
        match wanted {
            Some((_, tap)) if Some(tap.instance) == held => {}
            Some((arn, tap)) => {
                self.current = tap.subscribe().map(|rx| (tap.instance, rx));
                if self.current.is_some() {
                    self.fresh = true;
                    status.connected(&format!("flow {}", flow_name(&arn)));
                }
            }
            None => {
                self.current = None;
                let names: Vec<&str> = self.flows.iter().map(|a| flow_name(a)).collect();
                status.waiting(format!("flow {} is not running", names.join(" / ")));
            }
        }
    }

    /// The next datagram, and whether it is the first of a new tap instance.
    async fn recv(&mut self, status: &InputStatus) -> (Bytes, bool) {
        loop {
            self.follow(status);
            let Some((_, rx)) = self.current.as_mut() else {
                if self.changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
                continue;
            };
            tokio::select! {
                r = rx.recv() => match r {
                    Ok(b) => return (b, std::mem::take(&mut self.fresh)),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => {
                        // The engine stopped; wait for the registry to say
                        // what comes next.
                        self.current = None;
                        status.waiting("the flow stopped".into());
                        if self.changes.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                },
                c = self.changes.changed() => {
                    if c.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }
}

/// The name in a flow ARN (`arn:…:flow:<id>:<name>`).
fn flow_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

impl Source {
    /// The next datagram of whole TS packets, and whether a new stream starts with it (a
    /// flow's engine was restarted or replaced). `since` is when the feed started.
    async fn recv(
        &mut self,
        buf: &mut [u8],
        status: &InputStatus,
        since: Instant,
    ) -> (Vec<u8>, bool) {
        match self {
            Source::Flow(f) => {
                let (b, fresh) = f.recv(status).await;
                (b.to_vec(), fresh)
            }
            Source::Push {
                bind,
                rtp,
                socket,
                admission,
            } => loop {
                let Some(sock) = socket.as_ref() else {
                    match UdpSocket::bind(*bind).await {
                        Ok(s) => {
                            status.connected(&format!("port {}", bind.port()));
                            *socket = Some(s);
                        }
                        Err(e) => {
                            status.waiting(format!(
                                "cannot listen on port {}: {e}; trying again every second",
                                bind.port()
                            ));
                            tokio::time::sleep(RETRY_BIND).await;
                        }
                    }
                    continue;
                };
                let Ok((n, from)) = sock.recv_from(buf).await else {
                    *socket = None;
                    continue;
                };
                if !admission.admits(from.ip(), status) {
                    status.refused(from, since);
                    continue;
                }
                let data = buf.get(..n).unwrap_or_default();
                let payload = if *rtp { ts_payload(data) } else { Some(data) };
                if let Some(p) = payload.filter(|p| !p.is_empty()) {
                    return (p.to_vec(), false);
                }
            },
            Source::Rtmp(r) => r.recv(status, since).await,
            Source::SrtCall(c) => c.recv(status, since).await,
            Source::Never(why) => {
                status.waiting(why.clone());
                std::future::pending().await
            }
        }
    }
}

/// The TS payload of an RTP_PUSH datagram: the RTP payload, or the datagram
/// itself when it already starts with a TS sync byte (a plain UDP sender).
fn ts_payload(d: &[u8]) -> Option<&[u8]> {
    if d.first() == Some(&media::ts::SYNC_BYTE) {
        return Some(d);
    }
    RtpPacket::parse(d).ok().map(|p| p.payload)
}

/// The body of the `channel_feed` fuzz target: datagrams as an RTP_PUSH input
/// receives them (each behind a length byte, in units of 8 bytes), their TS
/// payload found as the feed finds it ([`ts_payload`]) and pushed into the
/// channel engine's demuxer. Never panics; a payload always lies inside its
/// datagram.
#[doc(hidden)]
pub fn fuzz_datagrams(data: &[u8]) {
    let mut demux = live::demux::Demuxer::new(live::demux::Selection::default());
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let (datagram, tail) = tail.split_at((usize::from(len) * 8).min(tail.len()));
        rest = tail;
        let Some(payload) = ts_payload(datagram) else {
            continue;
        };
        let (outer, inner) = (datagram.as_ptr_range(), payload.as_ptr_range());
        assert!(outer.start <= inner.start && inner.end <= outer.end);
        demux.push(payload);
        while demux.pop().is_some() {}
    }
}

/// The source of an input; `senders` (push inputs) says who may send to it.
fn source(
    cp: &control::ControlPlane,
    taps: &Arc<Taps>,
    rtmp: &Arc<RtmpIngest>,
    input_id: &str,
    senders: Option<watch::Receiver<AllowedSenders>>,
) -> Source {
    let input = match cp.input_record(input_id) {
        Ok(i) => i,
        Err(e) => return Source::Never(format!("input {input_id}: {e}")),
    };
    source_of(cp, taps, rtmp, &input, senders)
}

fn source_of(
    cp: &control::ControlPlane,
    taps: &Arc<Taps>,
    rtmp: &Arc<RtmpIngest>,
    input: &InputRecord,
    senders: Option<watch::Receiver<AllowedSenders>>,
) -> Source {
    match input.input_type {
        InputType::MediaConnect => Source::Flow(FlowFollower {
            taps: taps.clone(),
            flows: input
                .media_connect_flows
                .iter()
                .map(|f| f.flow_arn.clone())
                .collect(),
            changes: taps.changes(),
            current: None,
            fresh: false,
        }),
        InputType::RtpPush | InputType::UdpPush => match input.ports().first() {
            Some(&port) => Source::Push {
                bind: SocketAddr::new(cp.settings.ingest_bind, port),
                rtp: input.input_type == InputType::RtpPush,
                socket: None,
                admission: Admission::new(senders),
            },
            None => Source::Never(format!("input {} has no port", input.id)),
        },
        InputType::RtmpPush => {
            let names: Vec<String> = input.stream_names().into_iter().map(String::from).collect();
            if names.is_empty() {
                return Source::Never(format!("input {} has no stream name", input.id));
            }
            Source::Rtmp(RtmpFollower {
                ingest: rtmp.clone(),
                names,
                rules: senders,
                registration: None,
                fresh: false,
            })
        }
        InputType::SrtCaller => match srt_caller_config(cp, input) {
            Ok(config) => Source::SrtCall(SrtFollower {
                config,
                listen: None,
                caller: None,
                fresh: false,
            }),
            Err(why) => Source::Never(format!("input {}: {why}", input.id)),
        },
        InputType::SrtListener => match srt_listener_config(cp, input) {
            Ok(config) => Source::SrtCall(SrtFollower {
                config,
                listen: Some(senders),
                caller: None,
                fresh: false,
            }),
            Err(why) => Source::Never(format!("input {}: {why}", input.id)),
        },
        other => Source::Never(format!("input type {other} has no source")),
    }
}

/// How an SRT_LISTENER input listens: on its first port, with its
/// passphrase (read from Secrets Manager now).
fn srt_listener_config(
    cp: &control::ControlPlane,
    input: &InputRecord,
) -> std::result::Result<CallerConfig, String> {
    let settings = input
        .srt_listener_settings
        .as_ref()
        .ok_or("it has no SRT listener settings")?;
    let port = *input.ports().first().ok_or("it has no port")?;
    let region = input.arn.split(':').nth(3).unwrap_or_default();
    let d = &settings.decryption;
    let passphrase = cp
        .srt_passphrase_in(
            region,
            "srtSettings.srtListenerSettings.decryption.passphraseSecretArn",
            &d.passphrase_secret_arn,
        )
        .map_err(|e| e.to_string())?;
    Ok(CallerConfig {
        addr: SocketAddr::new(cp.settings.ingest_bind, port),
        latency: u64::try_from(settings.minimum_latency)
            .map_or(Duration::from_millis(120), Duration::from_millis),
        stream_id: settings.stream_id.clone(),
        passphrase: Some(passphrase),
        key_length: srt_input::key_length(&d.algorithm)
            .ok_or_else(|| format!("unknown algorithm {}", d.algorithm))?,
    })
}

/// How an SRT_CALLER input calls its first source's listener; the
/// passphrase is read from Secrets Manager now, so a rotated one is used
/// from the next channel start.
fn srt_caller_config(
    cp: &control::ControlPlane,
    input: &InputRecord,
) -> std::result::Result<CallerConfig, String> {
    let source = input
        .srt_caller_sources
        .first()
        .ok_or("it has no SRT caller source")?;
    let ip: std::net::IpAddr = source
        .srt_listener_address
        .parse()
        .map_err(|_| format!("'{}' is not an IP address", source.srt_listener_address))?;
    let port: u16 = source
        .srt_listener_port
        .parse()
        .map_err(|_| format!("'{}' is not a port", source.srt_listener_port))?;
    let latency = source
        .minimum_latency
        .and_then(|l| u64::try_from(l).ok())
        .map_or(Duration::from_millis(120), Duration::from_millis);
    let (passphrase, key_length) = match &source.decryption {
        None => (None, srt_sys::KeyLength::Aes128),
        Some(d) => {
            let region = input.arn.split(':').nth(3).unwrap_or_default();
            let passphrase = cp
                .srt_passphrase_in(
                    region,
                    "srtSettings.srtCallerSources[0].decryption.passphraseSecretArn",
                    &d.passphrase_secret_arn,
                )
                .map_err(|e| e.to_string())?;
            let key = srt_input::key_length(&d.algorithm)
                .ok_or_else(|| format!("unknown algorithm {}", d.algorithm))?;
            (Some(passphrase), key)
        }
    };
    Ok(CallerConfig {
        addr: SocketAddr::new(ip, port),
        latency,
        stream_id: source.stream_id.clone(),
        passphrase,
        key_length,
    })
}

/// Datagrams that may wait for an input watcher before new ones are dropped.
const WATCH_QUEUE: usize = 2048;

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

/// Starts the task that feeds a channel's transcoder from its inputs; it runs
/// until aborted. `status` and `senders` have one entry per input (primary,
/// secondary).
#[allow(clippy::too_many_arguments)]
pub(crate) fn spawn(
    cp: &Arc<control::ControlPlane>,
    taps: &Arc<Taps>,
    rtmp: &Arc<RtmpIngest>,
    plan: &Plan,
    transcoder: Arc<Transcoder>,
    on_secondary: Arc<AtomicBool>,
    status: Arc<[InputStatus]>,
    senders: &[watch::Receiver<AllowedSenders>],
) -> tokio::task::JoinHandle<()> {
    let primary = source(
        cp,
        taps,
        rtmp,
        &plan.primary.input_id,
        senders.first().cloned(),
    );
    let secondary = plan
        .secondary
        .as_ref()
        .map(|a| source(cp, taps, rtmp, &a.input_id, senders.get(1).cloned()));
    tokio::spawn(feed(
        cp.clone(),
        transcoder,
        primary,
        secondary,
        plan.clone(),
        on_secondary,
        status,
    ))
}

async fn feed(
    cp: Arc<control::ControlPlane>,
    transcoder: Arc<Transcoder>,
    mut primary: Source,
    secondary: Option<Source>,
    plan: Plan,
    on_secondary: Arc<AtomicBool>,
    status: Arc<[InputStatus]>,
) {
    let started = Instant::now();
    let mut switch = InputSwitch::new(
        plan.failover.loss_threshold,
        plan.failover.error_clear,
        plan.failover.prefer_primary,
        started,
    );
    let watchers = watchers(&plan);
    let has_secondary = secondary.is_some();
    let mut secondary = secondary.unwrap_or(Source::Never(String::new()));
    let fallback = InputStatus::default();
    let primary_status = status.first().unwrap_or(&fallback);
    let secondary_status = status.get(1).unwrap_or(&fallback);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let (mut a, mut b) = (vec![0u8; 65_536], vec![0u8; 65_536]);
    loop {
        let (side, data) = tokio::select! {
            d = primary.recv(&mut a, primary_status, started) => (Side::Primary, d),
            d = secondary.recv(&mut b, secondary_status, started), if has_secondary => (Side::Secondary, d),
            _ = tick.tick() => {
                if has_secondary {
                    let now = Instant::now();
                    for ((side, w), st) in [Side::Primary, Side::Secondary]
                        .into_iter()
                        .zip(&watchers)
                        .zip([primary_status, secondary_status])
                    {
                        let Some(w) = w else { continue };
                        let (black, silent) = (w.black(), w.silent());
                        switch.set_condition(side, Condition::Black, black);
                        switch.set_condition(side, Condition::Silent, silent);
                        st.black.store(black, Ordering::Relaxed);
                        st.silent.store(silent, Ordering::Relaxed);
                    }
                    switch.on_tick(now);
                    let statuses = [primary_status, secondary_status];
                    if switched(&cp, &on_secondary, switch.active(), statuses) {
                        transcoder.input_changed();
                    }
                }
                continue;
            }
        };
        let (data, fresh) = data;
        let side_status = if side == Side::Primary {
            primary_status
        } else {
            secondary_status
        };
        side_status.datagram(started);
        if let Some(Some(w)) = watchers.get(usize::from(side == Side::Secondary)) {
            w.push(data.clone());
        }
        let feed = if has_secondary {
            let pass = switch.on_datagram(side, Instant::now());
            // The transcoder learns of a switch in order with the datagrams: the new
            // input's first one comes after it.
            let statuses = [primary_status, secondary_status];
            if switched(&cp, &on_secondary, switch.active(), statuses) {
                transcoder.input_changed();
            }
            pass
        } else {
            side == Side::Primary
        };
        if feed {
            if fresh {
                // A new stream behind the active input (its flow restarted).
                transcoder.input_changed();
            }
            transcoder.push(data);
        }
    }
}

/// Publishes the active side; a switch is logged and wakes the supervisor at
/// once, so DescribeChannel names the new input within milliseconds, not on the
/// next pass (e2e `test_switch` measures the two log lines' distance). True if
/// the active side changed.
fn switched(
    cp: &control::ControlPlane,
    on_secondary: &AtomicBool,
    active: Side,
    statuses: [&InputStatus; 2],
) -> bool {
    let secondary = active == Side::Secondary;
    let changed = on_secondary.swap(secondary, Ordering::Relaxed) != secondary;
    if changed {
        let to = statuses[usize::from(secondary)].name();
        tracing::info!(input = %to, "input switch: feeding {to} to the encoders");
        cp.wake();
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_payloads() {
        let ts = [0x47u8; 188];
        assert_eq!(ts_payload(&ts), Some(&ts[..]));
        let mut rtp = vec![0x80, 33, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        rtp.extend_from_slice(&ts);
        assert_eq!(ts_payload(&rtp), Some(&ts[..]));
        assert_eq!(ts_payload(&[0x80, 33]), None);
        assert_eq!(ts_payload(&[0x00; 20]), None);
    }

    #[tokio::test]
    async fn a_push_input_drops_and_counts_senders_its_groups_do_not_admit() {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .unwrap()
            .port();
        let (rules, rx) =
            watch::channel(AllowedSenders::Within(vec!["10.0.0.0/8".parse().unwrap()]));
        let mut source = Source::Push {
            bind: SocketAddr::from(([127, 0, 0, 1], port)),
            rtp: false,
            socket: None,
            admission: Admission::new(Some(rx)),
        };
        let status = InputStatus::new("push", None);
        let since = Instant::now();
        let mut buf = vec![0u8; 2048];
        let short = Duration::from_millis(300);
        // The first call binds the port; nothing comes.
        assert!(
            tokio::time::timeout(short, source.recv(&mut buf, &status, since))
                .await
                .is_err()
        );
        let ts = [media::ts::SYNC_BYTE; 188];
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for _ in 0..3 {
            sender.send_to(&ts, ("127.0.0.1", port)).unwrap();
        }
        assert!(
            tokio::time::timeout(short, source.recv(&mut buf, &status, since))
                .await
                .is_err(),
            "a sender outside 10.0.0.0/8 was admitted"
        );
        let report = status.report(since);
        assert_eq!(report.refused, 3);
        assert_eq!(report.state, InputState::Silent);
        assert!(report.reason.is_some_and(|r| r.contains("refused")));

        // New rules under the running feed: 127.0.0.1 is admitted, another
        // loopback address is not.
        rules
            .send(AllowedSenders::Within(vec!["127.0.0.1/32"
                .parse()
                .unwrap()]))
            .unwrap();
        let mut refused = 3;
        if let Ok(foreign) = std::net::UdpSocket::bind("127.0.0.2:0") {
            foreign.send_to(&ts, ("127.0.0.1", port)).unwrap();
            refused += 1;
        }
        sender.send_to(&ts, ("127.0.0.1", port)).unwrap();
        let (data, fresh) = tokio::time::timeout(
            Duration::from_secs(2),
            source.recv(&mut buf, &status, since),
        )
        .await
        .expect("the admitted sender's datagram");
        assert_eq!((data.as_slice(), fresh), (&ts[..], false));
        assert_eq!(status.report(since).refused, refused);
    }

    #[test]
    fn without_rules_everyone_is_admitted() {
        let status = InputStatus::new("push", None);
        let mut open = Admission::new(None);
        assert!(open.admits("203.0.113.9".parse().unwrap(), &status));
    }

    proptest::proptest! {
        #[test]
        fn any_datagrams_feed(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            fuzz_datagrams(&data);
        }
    }

    #[test]
    fn flow_names_come_from_the_arn() {
        assert_eq!(
            flow_name("arn:aws:mediaconnect:us-east-1:000000000000:flow:1-abc:Primary"),
            "Primary"
        );
    }
}
