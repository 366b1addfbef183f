//! The I/O layer of a flow: binds the sockets, feeds datagrams and time to a
//! [`FlowCore`] and sends what it produces.
//!
//! Each flow runs on a thread of its own with a single-threaded tokio
//! runtime that owns the core and every ingest socket. When any socket is
//! readable it drains all of them in batches (`recvmmsg`), then sends
//! everything the round produced at once (`sendmmsg`, one UDP GSO message
//! per destination and run of equal-size datagrams: [`crate::udp`]); a busy
//! flow never delays another. Sending never waits: a datagram the kernel
//! will not take is counted against its output, so a slow destination
//! cannot hold up the others.
//!
//! A flow whose sources are all SRT has no socket tokio could wait on: its
//! core runs on its SRT thread instead ([`srt::Thread`], `run_hosted`), in
//! the same rounds, so that a message goes from libsrt to the outputs
//! without crossing threads. Handing each batch to a flow thread cost a
//! quarter more CPU per Mb than srt-live-transmit at 20 Mb/s.
//!
//! What costs CPU at contribution rates is waking up, not forwarding: above
//! [`PACE_ABOVE_PER_SEC`] the thread sleeps after each round so that rounds
//! start [`PACE`] apart and each finds several datagrams; that bounds the
//! latency it adds. [`Batching::Every`] sets a longer interval, at any rate,
//! for flows that can afford the latency.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::flow::{FlowCore, Port, Transmit};
use crate::rist;
use crate::srt::{self, Endpoint};
use crate::udp;
use crate::{Batching, FlowConfig, FlowStats, OutputConfig, SourceProtocol, SrtLinkStats};

/// Kernel buffer asked for on every socket: bursts of a 100 Mb/s stream fit.
const SOCKET_BUFFER: usize = 8 << 20;
/// How often rates, TS timers and the published statistics are refreshed.
const TICK: Duration = Duration::from_millis(250);
/// `recvmmsg` calls on one socket before the others get a turn.
const BATCHES: usize = 2;
/// Above this many datagrams a second (40 Mb/s of TS), the flow pauses
/// after each round that read something, so that the next round finds what
/// arrived meanwhile: waking once per datagram would cost more CPU than
/// forwarding it. Rounds then start [`PACE`] apart (the pause is what the
/// round left of it), which bounds the latency pacing adds. Below it every
/// datagram is forwarded as it arrives: pacing 20 Mb/s cost 35-55 % more
/// CPU per Mb with one output (the pause's timer wake-up is this thread's
/// own, an arrival's is paid by the sender) and about the same with ten.
const PACE_ABOVE_PER_SEC: u64 = 4000;
/// 2 ms: at 100 Mb/s a round carries about 19 datagrams. With one output
/// that cost 0.74-0.79x srt-live-transmit's CPU per Mb (p99 2.2 ms, its
/// own 10.5 ms); 1 ms cost 0.90x and 650 us 1.2x.
const PACE: Duration = Duration::from_millis(2);

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot listen on {addr} (UDP): {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("cannot open a sending socket: {0}")]
    Send(io::Error),
    #[error("cannot start the flow's thread: {0}")]
    Thread(io::Error),
    #[error("a flow needs at least one source")]
    NoSource,
    #[error(transparent)]
    Srt(#[from] srt::StartError),
    #[error(transparent)]
    Rist(#[from] rist::StartError),
}

/// A non-blocking UDP socket with large kernel buffers.
fn bind(addr: SocketAddr) -> io::Result<StdUdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps these at net.core.[rw]mem_max.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    if addr.is_ipv6() {
        let _ = socket.set_only_v6(false);
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// The sending sockets: IPv4, and IPv6 where the host has it.
fn open_senders() -> Result<(StdUdpSocket, Option<StdUdpSocket>), TransportError> {
    let v4 = bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0))
        .map_err(TransportError::Send)?;
    // IPv6 destinations are rare; a host without IPv6 still runs v4 flows.
    let v6 = bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)).ok();
    Ok((v4, v6))
}

struct Ingest<S> {
    sock: S,
    source: usize,
    port: Port,
}

enum Command {
    SetOutputs(Vec<OutputConfig>, oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
}

/// A running flow. Dropping it without [`FlowHandle::stop`] also stops it
/// (its thread notices and ends).
pub struct FlowHandle {
    commands: mpsc::UnboundedSender<Command>,
    stats: watch::Receiver<FlowStats>,
    tap: broadcast::Sender<Bytes>,
}

impl FlowHandle {
    /// Replaces the outputs without touching the sources; unchanged outputs
    /// continue seamlessly. Returns once the engine has applied the change.
    pub async fn set_outputs(&self, outputs: Vec<OutputConfig>) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::SetOutputs(outputs, tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// The latest statistics (refreshed four times a second).
    pub fn stats(&self) -> FlowStats {
        self.stats.borrow().clone()
    }

    /// The statistics as the engine publishes them (four times a second);
    /// reading never waits for the engine. Closed once the flow has stopped.
    pub fn watch_stats(&self) -> watch::Receiver<FlowStats> {
        self.stats.clone()
    }

    /// Every datagram payload (whole TS packets) the flow puts on air, for
    /// in-process consumers. A slow subscriber loses data, never the flow.
    pub fn subscribe(&self) -> broadcast::Receiver<Bytes> {
        self.tap.subscribe()
    }

    /// The tap, held weakly: it does not keep the flow's channel open once
    /// the flow has stopped.
    pub fn tap(&self) -> broadcast::WeakSender<Bytes> {
        self.tap.downgrade()
    }

    /// Stops the flow; returns once its ingest sockets are closed.
    pub async fn stop(self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// Binds every socket of `cfg` and starts the flow. Fails, naming the
/// address, if any ingest port cannot be bound.
pub async fn start_flow(cfg: FlowConfig) -> Result<FlowHandle, TransportError> {
    if cfg.sources.is_empty() {
        return Err(TransportError::NoSource);
    }
    let mut ingests = Vec::new();
    for (i, s) in cfg.sources.iter().enumerate() {
        if s.protocol.is_srt() || s.protocol.is_rist() {
            continue; // the SRT thread's, or librist's
        }
        let mut ports = vec![(Port::Media, 0)];
        if s.protocol == SourceProtocol::RtpFec {
            ports.extend([(Port::FecColumn, 2), (Port::FecRow, 4)]);
        }
        for (port, offset) in ports {
            let mut addr = s.bind;
            addr.set_port(s.bind.port().saturating_add(offset));
            let sock = bind(addr).map_err(|source| TransportError::Bind { addr, source })?;
            ingests.push(Ingest {
                sock,
                source: i,
                port,
            });
        }
    }
    let (v4, v6) = open_senders()?;
    let batching = cfg.batching;
    // RIST (transport::rist): reading threads and senders, fed and read here.
    let (rist_tx, rist_events) = rist::channel();
    let rist = rist::Side::start(&cfg.sources, &cfg.outputs, rist_tx)?;
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (tap, _) = broadcast::channel(1024);
    let hosted = cfg.sources.iter().all(|s| s.protocol.is_srt());
    let (sources, outputs) = (cfg.sources.clone(), cfg.outputs.clone());
    let core = FlowCore::new(cfg, rand_ssrc());
    let (stats_tx, stats) = watch::channel(core.stats(Duration::ZERO));
    let tap_io = tap.clone();
    let io = move |srt, srt_events| Io {
        // Built on the flow's thread: the sender's syscall buffers stay there.
        sender: udp::Sender::new(v4, v6),
        transmits: Vec::new(),
        stats: stats_tx,
        tap: tap_io,
        srt,
        srt_events,
        rist,
    };
    let pace = Pace::new(batching);
    if hosted {
        // Every source is SRT: the core runs on the SRT thread, so that a
        // message goes from libsrt to the outputs without changing thread.
        let (started_tx, started) = oneshot::channel();
        std::thread::Builder::new()
            .name("onair-flow-srt".into())
            .spawn(move || {
                let srt = SrtOut::new(None, outputs.clone());
                let sink = Hosted {
                    core,
                    io: io(Some(srt), None),
                    origin: std::time::Instant::now(),
                    now: Duration::ZERO,
                };
                match srt::Thread::new(&sources, &outputs, sink) {
                    Ok(thread) => {
                        let _ = started_tx.send(Ok(()));
                        run_hosted(thread, cmd_rx, rist_events, pace);
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                    }
                }
            })
            .map_err(TransportError::Thread)?;
        match started.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {
                return Err(TransportError::Thread(io::Error::other(
                    "the flow's thread ended while starting",
                )))
            }
        }
    } else {
        let (data_tx, data_rx) = mpsc::channel(srt::QUEUE);
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let events = srt::Events {
            data: data_tx,
            control: control_tx,
        };
        let srt = srt::start(&sources, &outputs, events.clone(), batching)?
            .map(|bridge| SrtOut::new(Some(bridge), outputs.clone()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(TransportError::Thread)?;
        std::thread::Builder::new()
            .name("onair-flow".into())
            .spawn(move || {
                let srt_events = SrtEvents {
                    data: data_rx,
                    control: control_rx,
                };
                let io = io(srt, Some(events));
                runtime.block_on(run(
                    core,
                    ingests,
                    cmd_rx,
                    srt_events,
                    rist_events,
                    io,
                    pace,
                ))
            })
            .map_err(TransportError::Thread)?;
    }
    Ok(FlowHandle {
        commands: cmd_tx,
        stats,
        tap,
    })
}

fn rand_ssrc() -> u32 {
    // Uniqueness per flow is all that matters; the clock gives enough.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos ^ 0x5A5A_0000 ^ std::process::id()
}

/// Resolves when any ingest socket has something to read.
async fn readable(ingests: &[Ingest<UdpSocket>]) {
    std::future::poll_fn(|cx| {
        for i in ingests {
            if i.sock.poll_recv_ready(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await
}

/// What the flow's loop sends through and publishes to.
struct Io {
    sender: udp::Sender,
    /// A round's datagrams for the UDP outputs (kept for its allocation).
    transmits: Vec<Transmit>,
    stats: watch::Sender<FlowStats>,
    tap: broadcast::Sender<Bytes>,
    /// The flow's SRT thread and connected SRT receivers, if it has any.
    srt: Option<SrtOut>,
    /// For an SRT thread started when the first SRT output is added (a
    /// bridged flow's).
    srt_events: Option<srt::Events>,
    /// The flow's RIST sources' threads and outputs' senders.
    rist: rist::Side,
}

/// What the flow's SRT thread sends ([`srt::Events`]).
struct SrtEvents {
    data: mpsc::Receiver<srt::Event>,
    control: mpsc::UnboundedReceiver<srt::Event>,
}

/// The flow's side of its SRT thread.
struct SrtOut {
    /// The thread, unless the flow runs on it.
    bridge: Option<srt::Bridge>,
    /// The outputs as last applied (a transmit names its output by index).
    outputs: Vec<OutputConfig>,
    /// Connected receivers of SRT outputs, by output id.
    senders: HashMap<String, Arc<srt_sys::Socket>>,
    /// The SRT thread's latest report.
    stats: HashMap<Endpoint, SrtLinkStats>,
}

impl SrtOut {
    fn new(bridge: Option<srt::Bridge>, outputs: Vec<OutputConfig>) -> Self {
        SrtOut {
            bridge,
            outputs,
            senders: HashMap::new(),
            stats: HashMap::new(),
        }
    }

    fn on_event(&mut self, core: &mut FlowCore, now: Duration, event: srt::Event) {
        match event {
            srt::Event::Data {
                source,
                from,
                messages,
            } => {
                for m in &messages {
                    core.on_datagram(now, source, Port::Media, from, m);
                }
            }
            srt::Event::OutputUp { id, socket } => {
                core.set_output_ready(&id, true);
                self.senders.insert(id, socket);
            }
            srt::Event::OutputDown { id } => {
                core.set_output_ready(&id, false);
                self.senders.remove(&id);
            }
            srt::Event::Stats(all) => self.stats = all.into_iter().collect(),
        }
    }

    /// Sends `t` if its output is an SRT one (true), on the connected
    /// receiver if there is one. Never waits: a message the send buffer
    /// will not take is counted against the output.
    fn send(&self, core: &mut FlowCore, t: &Transmit) -> bool {
        let Some(out) = self.outputs.get(t.output).filter(|o| o.protocol.is_srt()) else {
            return false;
        };
        if let Some(socket) = self.senders.get(&out.id) {
            if socket.send(&t.data).is_err() {
                core.send_failed(t.output);
            }
        }
        true
    }

    fn overlay(&self, stats: &mut FlowStats) {
        for (i, s) in stats.sources.iter_mut().enumerate() {
            if let Some(l) = self.stats.get(&Endpoint::Source(i)) {
                s.srt = Some(l.clone());
            }
        }
        for o in &mut stats.outputs {
            if let Some(l) = self.stats.get(&Endpoint::Output(o.id.clone())) {
                o.srt = Some(l.clone());
            }
        }
    }
}

impl Io {
    /// Applies new outputs everywhere but on a flow-hosting SRT thread.
    fn set_outputs(&mut self, core: &mut FlowCore, outputs: Vec<OutputConfig>, now: Duration) {
        if let Some(srt) = self.srt.as_mut() {
            if let Some(bridge) = &srt.bridge {
                bridge.set_outputs(outputs.clone());
            }
            srt.outputs.clone_from(&outputs);
        }
        self.rist.set_outputs(&outputs);
        core.set_outputs(outputs);
        self.publish(core, now);
    }

    fn publish(&self, core: &FlowCore, now: Duration) {
        let mut stats = core.stats(now);
        if let Some(srt) = &self.srt {
            srt.overlay(&mut stats);
        }
        self.rist.overlay(&mut stats);
        self.stats.send_replace(stats);
    }

    /// Sends everything the core produced, and hands out the tap.
    fn flush(&mut self, core: &mut FlowCore) {
        self.transmits.extend(core.drain_transmits());
        if let Some(srt) = &self.srt {
            self.transmits.retain(|t| !srt.send(core, t));
        }
        self.transmits.retain(|t| !self.rist.send(core, t));
        self.sender.send(&self.transmits, |output, n| {
            for _ in 0..n {
                core.send_failed(output);
            }
        });
        self.transmits.clear();
        for payload in core.take_tap() {
            let _ = self.tap.send(payload);
        }
    }
}

async fn run(
    mut core: FlowCore,
    ingests: Vec<Ingest<StdUdpSocket>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut srt_events: SrtEvents,
    mut rist_events: rist::EventsRx,
    mut io: Io,
    mut pace: Pace,
) {
    let mut sockets = Vec::with_capacity(ingests.len());
    for i in ingests {
        match UdpSocket::from_std(i.sock) {
            Ok(sock) => sockets.push(Ingest {
                sock,
                source: i.source,
                port: i.port,
            }),
            Err(e) => tracing::error!("flow socket cannot be registered: {e}"),
        }
    }
    let origin = Instant::now();
    let now = || origin.elapsed();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut receiver = udp::Receiver::default();
    let stopped = loop {
        let deadline = core.deadline().map(|d| origin + d);
        tokio::select! {
            () = readable(&sockets) => {
                core.set_tap(io.tap.receiver_count() > 0);
                let t = now();
                let mut read = 0;
                for i in &sockets {
                    for _ in 0..BATCHES {
                        // try_io: a WouldBlock clears the socket's readiness.
                        let n = i.sock.try_io(Interest::READABLE, || {
                            receiver.recv(&i.sock, |from, data| {
                                core.on_datagram(t, i.source, i.port, from, data);
                            })
                        });
                        // WouldBlock: drained. Other errors are ICMP
                        // reports of earlier sends; nothing to do.
                        let n = n.unwrap_or(0);
                        read += n;
                        // A short batch: the socket was empty a moment ago.
                        if n < udp::RECV_BATCH {
                            break;
                        }
                    }
                }
                if pace.count(t, read) {
                    io.flush(&mut core);
                    pace.pause(now().saturating_sub(t));
                }
            }
            cmd = commands.recv() => match cmd {
                Some(Command::SetOutputs(o, done)) => {
                    if let (None, Some(events)) = (&io.srt, &io.srt_events) {
                        // The first SRT output of a flow that had none.
                        match srt::start(&[], &o, events.clone(), pace.batching) {
                            Ok(bridge) => {
                                io.srt = bridge.map(|b| SrtOut::new(Some(b), Vec::new()));
                            }
                            Err(e) => tracing::error!("flow outputs: {e}"),
                        }
                    }
                    io.set_outputs(&mut core, o, now());
                    let _ = done.send(());
                }
                Some(Command::Stop(done)) => break Some(done),
                None => break None,
            },
            Some(event) = srt_events.control.recv(), if io.srt.is_some() => {
                if let Some(srt) = io.srt.as_mut() {
                    srt.on_event(&mut core, now(), event);
                }
            }
            Some(event) = srt_events.data.recv(), if io.srt.is_some() => {
                core.set_tap(io.tap.receiver_count() > 0);
                let t = now();
                let mut read = 0;
                if let Some(srt) = io.srt.as_mut() {
                    // Everything queued, so that it goes out in one send.
                    let mut next = Some(event);
                    while let Some(event) = next {
                        if let srt::Event::Data { messages, .. } = &event {
                            read += messages.len();
                        }
                        srt.on_event(&mut core, t, event);
                        next = srt_events.data.try_recv().ok();
                    }
                }
                if pace.count(t, read) {
                    io.flush(&mut core);
                    pace.pause(now().saturating_sub(t));
                }
            }
            Some(event) = rist_events.control.recv() => io.rist.on_event(&mut core, now(), event),
            Some(event) = rist_events.data.recv() => {
                core.set_tap(io.tap.receiver_count() > 0);
                io.rist.on_event(&mut core, now(), event);
            }
            _ = tick.tick() => {
                let t = now();
                core.tick(t);
                io.publish(&core, t);
            }
            () = sleep_until(deadline) => core.on_timeout(now()),
        }
        io.flush(&mut core);
    };
    // Close the ingest ports before saying so: a restart may rebind them.
    drop(sockets);
    if let Some(bridge) = io.srt.take().and_then(|s| s.bridge) {
        // Blocks this flow's own thread for at most one epoll wait.
        bridge.stop();
    }
    // Joins the RIST reading threads: their receivers' ports are closed too.
    drop(io);
    if let Some(done) = stopped {
        let _ = done.send(());
    }
}

/// The core and outputs of a flow whose sources are all SRT, run on the
/// flow's SRT thread ([`srt::Thread`]): messages go straight from libsrt
/// into the core.
struct Hosted {
    core: FlowCore,
    io: Io,
    origin: std::time::Instant,
    /// When the thread last woke up, on the core's clock.
    now: Duration,
}

impl srt::Sink for Hosted {
    fn woke(&mut self) {
        self.now = self.origin.elapsed();
    }

    fn message(&mut self, source: usize, from: SocketAddr, data: &[u8]) {
        self.core
            .on_datagram(self.now, source, Port::Media, from, data);
    }

    fn end_burst(&mut self) -> u64 {
        0 // the core took every message
    }

    fn event(&mut self, event: srt::Event) {
        if let Some(srt) = self.io.srt.as_mut() {
            srt.on_event(&mut self.core, self.now, event);
        }
    }

    fn is_closed(&self) -> bool {
        false // the loop below ends the thread
    }
}

/// The loop of a flow hosted on its SRT thread: the same rounds as [`run`],
/// waiting in libsrt's epoll instead of tokio, for at most [`srt::POLL`]
/// so that commands are seen.
fn run_hosted(
    mut thread: srt::Thread<Hosted>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut rist_events: rist::EventsRx,
    mut pace: Pace,
) {
    use tokio::sync::mpsc::error::TryRecvError;
    let mut next_tick = std::time::Instant::now();
    let stopped = loop {
        match commands.try_recv() {
            Ok(Command::SetOutputs(o, done)) => {
                thread.set_outputs(o.clone());
                let h = &mut thread.sink;
                h.io.set_outputs(&mut h.core, o, h.origin.elapsed());
                let _ = done.send(());
                continue;
            }
            Ok(Command::Stop(done)) => break Some(done),
            Err(TryRecvError::Disconnected) => break None,
            Err(TryRecvError::Empty) => {}
        }
        let h = &mut thread.sink;
        let now = h.origin.elapsed();
        // RIST outputs' peer changes and reports (no RIST source here).
        while let Ok(event) = rist_events.control.try_recv() {
            h.io.rist.on_event(&mut h.core, now, event);
        }
        h.core.set_tap(h.io.tap.receiver_count() > 0);
        let mut wait =
            srt::POLL.min(next_tick.saturating_duration_since(std::time::Instant::now()));
        if let Some(d) = h.core.deadline() {
            wait = wait.min(d.saturating_sub(now));
        }
        let read = thread.turn(wait);
        let h = &mut thread.sink;
        let t = h.origin.elapsed();
        if h.core.deadline().is_some_and(|d| d <= t) {
            h.core.on_timeout(t);
        }
        if std::time::Instant::now() >= next_tick {
            next_tick = std::time::Instant::now() + TICK;
            h.core.tick(t);
            h.io.publish(&h.core, t);
        }
        h.io.flush(&mut h.core);
        if pace.count(t, read) {
            // What the round took since the thread woke up.
            pace.pause(h.origin.elapsed().saturating_sub(h.now));
        }
    };
    // Closes every SRT socket, then joins the RIST senders' threads.
    drop(thread);
    if let Some(done) = stopped {
        let _ = done.send(());
    }
}

/// When the flow pauses after a round: with [`Batching::Auto`], above
/// [`PACE_ABOVE_PER_SEC`] in the last complete 100 ms window; with
/// [`Batching::Every`], after every round that read something.
struct Pace {
    batching: Batching,
    window_start: Duration,
    in_window: u64,
    last_window: u64,
}

impl Pace {
    const WINDOW: Duration = Duration::from_millis(100);

    fn new(batching: Batching) -> Self {
        Self {
            batching,
            window_start: Duration::ZERO,
            in_window: 0,
            last_window: 0,
        }
    }

    /// Counts a round that read `datagrams`; true if the flow should send
    /// and then [`Pace::pause`].
    fn count(&mut self, now: Duration, datagrams: usize) -> bool {
        self.in_window += datagrams as u64;
        if now.saturating_sub(self.window_start) >= Self::WINDOW {
            (self.window_start, self.last_window, self.in_window) = (now, self.in_window, 0);
        }
        datagrams > 0
            && match self.batching {
                Batching::Auto => self.last_window * 10 > PACE_ABOVE_PER_SEC,
                Batching::Every(interval) => !interval.is_zero(),
            }
    }

    /// How far apart paced rounds start.
    fn interval(&self) -> Duration {
        match self.batching {
            Batching::Auto => PACE,
            Batching::Every(interval) => interval,
        }
    }

    /// Sleeps what is left of [`Pace::interval`] after a round that took
    /// `round` (reading and sending): a datagram that arrives just after a
    /// round is sent about one interval later whatever the round cost.
    /// Sending to many outputs takes a good part of it.
    fn pause(&self, round: Duration) {
        // This thread serves only this flow, so blocking it is the cheapest
        // way to let datagrams gather.
        std::thread::sleep(self.interval().saturating_sub(round));
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn auto_paces_only_above_the_rate_threshold() {
        let mut pace = Pace::new(Batching::Auto);
        // 300 datagrams in the first 100 ms: 3000/s, under the threshold.
        for t in 0..100 {
            assert!(!pace.count(ms(t), 3));
        }
        // The next window judges by that one: still not paced.
        assert!(!pace.count(ms(100), 3));
        // 5000/s through the second window...
        for t in 101..200 {
            pace.count(ms(t), 5);
        }
        // ...paces rounds in the third, at PACE, but never an empty one.
        assert!(pace.count(ms(200), 5));
        assert!(!pace.count(ms(201), 0));
        assert_eq!(pace.interval(), PACE);
    }

    #[test]
    fn every_paces_each_round_that_read_at_any_rate() {
        let mut pace = Pace::new(Batching::Every(ms(3)));
        assert!(pace.count(ms(0), 1));
        assert!(!pace.count(ms(1), 0));
        assert!(pace.count(ms(500), 1));
        assert_eq!(pace.interval(), ms(3));
        // A zero interval is no pacing at all.
        let mut pace = Pace::new(Batching::Every(Duration::ZERO));
        assert!(!pace.count(ms(0), 10_000));
    }
}
