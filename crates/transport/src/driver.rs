//! The tokio layer of a flow: binds the sockets, feeds datagrams and time to
//! a [`FlowCore`] and sends what it produces. One task per flow owns the
//! core; one task per ingest socket receives. Sending never waits: a
//! datagram the kernel will not take is counted against its output, so a
//! slow destination cannot hold up the others.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::core::{FlowCore, Port};
use crate::{FlowConfig, FlowStats, OutputConfig, SourceProtocol};

/// Kernel buffer asked for on every socket: bursts of a 100 Mb/s stream fit.
const SOCKET_BUFFER: usize = 8 << 20;
const MAX_DATAGRAM: usize = 65_536;
/// How often rates, TS timers and the published statistics are refreshed.
const TICK: Duration = Duration::from_millis(250);
/// Datagrams queued between the receive tasks and the flow task.
const QUEUE: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot listen on {addr} (UDP): {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("cannot open a sending socket: {0}")]
    Send(io::Error),
    #[error("a flow needs at least one source")]
    NoSource,
}

fn bind(addr: SocketAddr) -> Result<UdpSocket, TransportError> {
    let err = |source| TransportError::Bind { addr, source };
    let socket =
        Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP)).map_err(err)?;
    // Best effort: the kernel caps these at net.core.[rw]mem_max.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    if addr.is_ipv6() {
        let _ = socket.set_only_v6(false);
    }
    socket.set_nonblocking(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    UdpSocket::from_std(socket.into()).map_err(err)
}

struct Inbound {
    source: usize,
    port: Port,
    from: SocketAddr,
    data: Bytes,
}

enum Command {
    SetOutputs(Vec<OutputConfig>, oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
}

/// A running flow. Dropping it without [`FlowHandle::stop`] also stops it.
pub struct FlowHandle {
    commands: mpsc::UnboundedSender<Command>,
    stats: Arc<Mutex<FlowStats>>,
    tap: broadcast::Sender<Bytes>,
    task: Option<JoinHandle<()>>,
    receivers: Vec<JoinHandle<()>>,
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
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Every datagram payload (whole TS packets) the flow puts on air, for
    /// in-process consumers. A slow subscriber loses data, never the flow.
    pub fn subscribe(&self) -> broadcast::Receiver<Bytes> {
        self.tap.subscribe()
    }

    /// Stops the flow and waits until its sockets are closed.
    pub async fn stop(mut self) {
        for r in self.receivers.drain(..) {
            r.abort();
            let _ = r.await;
        }
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for FlowHandle {
    fn drop(&mut self) {
        for r in &self.receivers {
            r.abort();
        }
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// Binds every socket of `cfg` and starts the flow. Fails, naming the
/// address, if any ingest port cannot be bound.
pub async fn start_flow(cfg: FlowConfig) -> Result<FlowHandle, TransportError> {
    if cfg.sources.is_empty() {
        return Err(TransportError::NoSource);
    }
    let mut sockets = Vec::new();
    for (i, s) in cfg.sources.iter().enumerate() {
        sockets.push((i, Port::Media, bind(s.bind)?));
        if s.protocol == SourceProtocol::RtpFec {
            for (port, offset) in [(Port::FecColumn, 2), (Port::FecRow, 4)] {
                let mut a = s.bind;
                a.set_port(s.bind.port().saturating_add(offset));
                sockets.push((i, port, bind(a)?));
            }
        }
    }
    let send_v4 = bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0))
        .map_err(|e| TransportError::Send(io::Error::other(e.to_string())))?;
    // IPv6 destinations are rare; a host without IPv6 still runs v4 flows.
    let send_v6 = bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)).ok();

    let (in_tx, in_rx) = mpsc::channel::<Inbound>(QUEUE);
    let receivers = sockets
        .into_iter()
        .map(|(source, port, sock)| tokio::spawn(receive(sock, source, port, in_tx.clone())))
        .collect();
    drop(in_tx);
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (tap, _) = broadcast::channel(1024);
    let ssrc = rand_ssrc();
    let core = FlowCore::new(cfg, ssrc);
    let stats = Arc::new(Mutex::new(core.stats(Duration::ZERO)));
    let task = tokio::spawn(run(
        core,
        in_rx,
        cmd_rx,
        stats.clone(),
        tap.clone(),
        send_v4,
        send_v6,
    ));
    Ok(FlowHandle {
        commands: cmd_tx,
        stats,
        tap,
        task: Some(task),
        receivers,
    })
}

fn rand_ssrc() -> u32 {
    // Uniqueness per flow is all that matters; the clock gives enough.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos ^ 0x5A5A_0000 ^ std::process::id()
}

async fn receive(sock: UdpSocket, source: usize, port: Port, tx: mpsc::Sender<Inbound>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let data = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                if tx
                    .send(Inbound {
                        source,
                        port,
                        from,
                        data,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            // ICMP port-unreachable from an earlier send and the like.
            Err(e) => {
                tracing::debug!("receive on {:?}: {e}", sock.local_addr());
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

async fn run(
    mut core: FlowCore,
    mut inbound: mpsc::Receiver<Inbound>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    stats: Arc<Mutex<FlowStats>>,
    tap: broadcast::Sender<Bytes>,
    send_v4: UdpSocket,
    send_v6: Option<UdpSocket>,
) {
    let origin = Instant::now();
    let now = || origin.elapsed();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(64);
    loop {
        let deadline = core.deadline().map(|d| origin + d);
        tokio::select! {
            n = inbound.recv_many(&mut batch, 64) => {
                if n == 0 {
                    return;
                }
                core.set_tap(tap.receiver_count() > 0);
                let t = now();
                for d in batch.drain(..) {
                    core.on_datagram(t, d.source, d.port, d.from, &d.data);
                }
            }
            cmd = commands.recv() => match cmd {
                Some(Command::SetOutputs(o, done)) => {
                    core.set_outputs(o);
                    if let Ok(mut s) = stats.lock() {
                        *s = core.stats(now());
                    }
                    let _ = done.send(());
                }
                Some(Command::Stop(done)) => {
                    let _ = done.send(());
                    return;
                }
                None => return,
            },
            _ = tick.tick() => {
                let t = now();
                core.tick(t);
                if let Ok(mut s) = stats.lock() {
                    *s = core.stats(t);
                }
            }
            _ = sleep_until(deadline) => core.on_timeout(now()),
        }
        let mut failed = Vec::new();
        for t in core.drain_transmits() {
            let sock = match (t.destination, &send_v6) {
                (SocketAddr::V6(_), Some(v6)) => v6,
                _ => &send_v4,
            };
            if sock.try_send_to(&t.data, t.destination).is_err() {
                failed.push(t.output);
            }
        }
        for o in failed {
            core.send_failed(o);
        }
        for payload in core.take_tap() {
            let _ = tap.send(payload);
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
