//! The SRT side of a flow: one thread per flow waits on libsrt's epoll for
//! every SRT socket of that flow ([`Thread`]), and gives what happens to a
//! [`Sink`]:
//!
//! - a flow whose sources are all SRT runs its core on that thread itself
//!   (`driver`): each message goes straight from `srt_recvmsg2` to the core
//!   and out, with no other thread on the way;
//! - any other flow with an SRT source or output gets a [`Bridge`]: the
//!   thread passes messages and events to the flow's own thread through
//!   channels ([`Events`]). UDP ingest cannot join libsrt's epoll: it polls
//!   system sockets only every 10 ms.
//!
//! What the thread does for each endpoint:
//!
//! - Sources: the thread accepts (listener) or keeps calling (caller) one
//!   peer and reads its messages, in batches, into the sink; the flow feeds
//!   them to its core like UDP datagrams.
//! - Outputs: the thread accepts or calls one receiver and hands the
//!   connected socket to the flow ([`Event::OutputUp`]), which sends on it
//!   directly: a non-blocking `srt_sendmsg2` only copies into libsrt's send
//!   buffer (libsrt's own threads do the network I/O), so no message crosses
//!   threads twice.
//! - A listener admits a caller only if its address is in the allow list,
//!   its passphrase matches ([`srt_sys::KeyState`]), and no other peer is
//!   connected; every refusal is counted and logged, and the listener goes
//!   on listening.
//! - A caller whose peer is gone or refuses it tries again after a backoff
//!   doubling from [`BACKOFF_MIN`] to [`BACKOFF_MAX`].
//! - Connection statistics (`srt_bistats`) go to the flow every
//!   [`STATS_EVERY`] ([`Event::Stats`]).
//!
//! Commands reach the thread within [`POLL`]: it never blocks longer.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ipnet::IpNet;
use srt_sys::{Epoll, Interest, Listener, Options, Socket, SocketState};
use tokio::sync::mpsc;

use crate::{Batching, OutputConfig, SourceConfig, SourceProtocol, SrtLinkStats, SrtSettings};

/// Longest wait in epoll: how late a command or a reconnection may start.
pub const POLL: Duration = Duration::from_millis(50);
/// How often connection statistics are read and sent to the flow.
pub const STATS_EVERY: Duration = Duration::from_millis(500);
/// First and longest wait before calling a peer again.
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
pub const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// How long a caller waits for the handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Messages read from one socket before the others get a turn.
const BATCH: usize = 64;
/// Batches queued towards the flow before new ones are dropped (counted).
pub const QUEUE: usize = 1024;
/// At most one log line per endpoint and this period about refused peers.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(5);
/// Largest SRT live message (SRT_LIVE_MAX_PLSIZE).
const MAX_MESSAGE: usize = 1456;

/// Which of the flow's endpoints something is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// Index in the flow's source list.
    Source(usize),
    /// Output id (its ARN).
    Output(String),
}

/// The SRT thread's two ways to the flow: messages on a bounded channel
/// (when the flow falls behind, new batches are dropped and counted), and
/// everything else on an unbounded one, so that a connection change or a
/// statistics report is never lost to a burst of media.
#[derive(Clone)]
pub struct Events {
    pub data: mpsc::Sender<Event>,
    pub control: mpsc::UnboundedSender<Event>,
}

/// Where the SRT thread puts what its endpoints receive and what happens
/// to them.
pub trait Sink {
    /// The thread is back from waiting and about to hand over what is
    /// ready: the moment to read the clock.
    fn woke(&mut self) {}
    /// One message from source `source`'s peer `from`.
    fn message(&mut self, source: usize, from: SocketAddr, data: &[u8]);
    /// The end of one source's burst of messages; returns how many of them
    /// could not be taken (counted as the source's overflow).
    fn end_burst(&mut self) -> u64;
    /// A connection change or a statistics report (never [`Event::Data`]).
    fn event(&mut self, event: Event);
    /// True once nobody listens any more: the thread ends.
    fn is_closed(&self) -> bool;
}

/// The sink of a bridged thread: batches of messages and events go to the
/// flow's thread through [`Events`].
pub struct Channel {
    events: Events,
    burst: Option<(usize, SocketAddr)>,
    messages: Vec<Bytes>,
}

impl Sink for Channel {
    fn message(&mut self, source: usize, from: SocketAddr, data: &[u8]) {
        self.burst = Some((source, from));
        self.messages.push(Bytes::copy_from_slice(data));
    }

    fn end_burst(&mut self) -> u64 {
        let messages = std::mem::take(&mut self.messages);
        let Some((source, from)) = self.burst.take() else {
            return 0;
        };
        let n = messages.len() as u64;
        let event = Event::Data {
            source,
            from,
            messages,
        };
        match self.events.data.try_send(event) {
            Ok(()) => 0,
            Err(_) => n,
        }
    }

    fn event(&mut self, event: Event) {
        let _ = self.events.control.send(event);
    }

    fn is_closed(&self) -> bool {
        self.events.control.is_closed()
    }
}

/// From the SRT thread to the flow.
pub enum Event {
    /// Messages a source received, in order.
    Data {
        source: usize,
        from: SocketAddr,
        messages: Vec<Bytes>,
    },
    /// An output's receiver is connected: send on this socket.
    OutputUp { id: String, socket: Arc<Socket> },
    /// An output's receiver is gone.
    OutputDown { id: String },
    /// The latest connection statistics of every SRT endpoint.
    Stats(Vec<(Endpoint, SrtLinkStats)>),
}

enum Command {
    SetOutputs(Vec<OutputConfig>),
}

/// The handle of a flow's SRT thread; dropping it stops the thread.
pub struct Bridge {
    commands: std_mpsc::Sender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bridge {
    /// Stops the thread and waits until it has closed every SRT socket
    /// (at most one epoll wait, [`POLL`]), so that a restarted flow can
    /// listen on the same ports.
    pub fn stop(mut self) {
        let (tx, _) = std_mpsc::channel();
        // Dropping the only sender tells the thread to end.
        drop(std::mem::replace(&mut self.commands, tx));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Replaces the SRT outputs (non-SRT and disabled ones in `outputs` are
    /// ignored). Unchanged outputs keep their connection.
    pub fn set_outputs(&self, outputs: Vec<OutputConfig>) {
        let _ = self.commands.send(Command::SetOutputs(outputs));
    }
}

/// libsrt options of an endpoint: non-blocking, encryption checked by us.
fn options(s: Option<&SrtSettings>) -> Options {
    let d = Options::default();
    match s {
        Some(s) => Options {
            latency: s.latency,
            passphrase: s.passphrase.clone(),
            key_length: s.key_length,
            stream_id: s.stream_id.clone(),
            connect_timeout: CONNECT_TIMEOUT,
            nonblocking: true,
            enforce_encryption: false,
            ..d
        },
        None => Options {
            connect_timeout: CONNECT_TIMEOUT,
            nonblocking: true,
            enforce_encryption: false,
            ..d
        },
    }
}

/// True if anything in the flow is SRT: it needs a [`Thread`].
pub fn wanted(sources: &[SourceConfig], outputs: &[OutputConfig]) -> bool {
    sources.iter().any(|s| s.protocol.is_srt()) || outputs.iter().any(|o| o.protocol.is_srt())
}

/// Binds the listeners of the SRT sources (so that a port in use fails the
/// flow's start, naming it) and starts a bridged thread, which takes care
/// of the callers and of every SRT output. `None` when nothing in the flow
/// is SRT.
pub fn start(
    sources: &[SourceConfig],
    outputs: &[OutputConfig],
    events: Events,
    batching: Batching,
) -> Result<Option<Bridge>, StartError> {
    if !wanted(sources, outputs) {
        return Ok(None);
    }
    let sink = Channel {
        events,
        burst: None,
        messages: Vec::new(),
    };
    let thread = Thread::new(sources, outputs, sink)?;
    let (commands, rx) = std_mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("onair-flow-srt".into())
        .spawn(move || thread.run(&rx, batching))
        .map_err(StartError::Thread)?;
    Ok(Some(Bridge {
        commands,
        thread: Some(thread),
    }))
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr} (SRT): {source}")]
    Listen { addr: SocketAddr, source: io::Error },
    #[error("cannot start the flow's SRT thread: {0}")]
    Thread(io::Error),
}

enum Role {
    Listener {
        listener: Listener,
        allow: Vec<IpNet>,
    },
    Caller {
        remote: SocketAddr,
        /// The connection under way.
        attempt: Option<Socket>,
        next_try: Instant,
        backoff: Duration,
    },
}

/// One SRT source or output: its listener or calling state, and the peer.
struct Link {
    endpoint: Endpoint,
    role: Role,
    options: Options,
    /// The output config it was made from (outputs only), to tell changes.
    config: Option<OutputConfig>,
    peer: Option<(Arc<Socket>, SocketAddr)>,
    stats: SrtLinkStats,
    last_refusal_log: Option<Instant>,
    /// The source's name, for logs.
    label: String,
}

impl Link {
    fn new(endpoint: Endpoint, role: Role, options: Options) -> Self {
        Link {
            endpoint,
            role,
            options,
            config: None,
            peer: None,
            stats: SrtLinkStats::default(),
            last_refusal_log: None,
            label: String::new(),
        }
    }

    fn is_source(&self) -> bool {
        matches!(self.endpoint, Endpoint::Source(_))
    }

    fn name(&self) -> String {
        match &self.endpoint {
            Endpoint::Source(_) => format!("source '{}'", self.label),
            Endpoint::Output(id) => format!("output {id}"),
        }
    }
}

/// Why an accepted caller cannot stay, if it cannot.
fn refusal(link: &Link, socket: &Socket, peer: SocketAddr) -> Option<String> {
    if let Role::Listener { allow, .. } = &link.role {
        if !allowed(allow, peer.ip()) {
            return Some("address not in the allow list".into());
        }
    }
    if let Some(why) = socket.key_mismatch(link.options.passphrase.is_some()) {
        return Some(why);
    }
    link.peer
        .is_some()
        .then(|| "another peer is connected".into())
}

pub(crate) fn allowed(allow: &[IpNet], ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    allow.is_empty() || allow.iter().any(|n| n.contains(&ip))
}

/// Every SRT socket of one flow, waited on together. Runs on one thread
/// (libsrt's epoll is not shared): a bridged one ([`start`]) or the flow's
/// own, which then drives it with [`Thread::turn`].
pub struct Thread<S> {
    epoll: Epoll,
    links: Vec<Link>,
    /// Where messages and events go.
    pub sink: S,
    ready: Vec<srt_sys::Ready>,
    buf: Vec<u8>,
    next_stats: Instant,
}

impl<S: Sink> Thread<S> {
    /// Binds the listeners of the SRT sources, so that a port in use fails
    /// the flow's start, naming it, and sets up the callers and `outputs`.
    pub fn new(
        sources: &[SourceConfig],
        outputs: &[OutputConfig],
        sink: S,
    ) -> Result<Self, StartError> {
        let epoll = Epoll::new().map_err(StartError::Thread)?;
        let mut links = Vec::new();
        for (i, s) in sources.iter().enumerate() {
            let opts = options(s.srt.as_ref());
            let role = match s.protocol {
                SourceProtocol::SrtListener => {
                    let l =
                        srt_sys::listen(s.bind, &opts).map_err(|source| StartError::Listen {
                            addr: s.bind,
                            source,
                        })?;
                    epoll
                        .add(l.socket(), Interest::READ)
                        .map_err(StartError::Thread)?;
                    Role::Listener {
                        listener: l,
                        allow: s.allow.clone(),
                    }
                }
                SourceProtocol::SrtCaller => Role::Caller {
                    remote: s.bind,
                    attempt: None,
                    next_try: Instant::now(),
                    backoff: BACKOFF_MIN,
                },
                _ => continue,
            };
            let mut link = Link::new(Endpoint::Source(i), role, opts);
            link.label.clone_from(&s.name);
            links.push(link);
        }
        let mut thread = Thread {
            epoll,
            links,
            sink,
            ready: Vec::new(),
            buf: vec![0u8; MAX_MESSAGE],
            next_stats: Instant::now(),
        };
        thread.set_outputs(outputs.to_vec());
        Ok(thread)
    }

    /// A bridged thread's loop: until the flow drops its [`Bridge`] or
    /// stops listening. With [`Batching::Every`], it sleeps after a wait
    /// that passed messages on, so that libsrt's buffer gathers the next
    /// ones.
    fn run(mut self, commands: &std_mpsc::Receiver<Command>, batching: Batching) {
        loop {
            loop {
                match commands.try_recv() {
                    Ok(Command::SetOutputs(o)) => self.set_outputs(o),
                    Err(std_mpsc::TryRecvError::Empty) => break,
                    // The flow is gone: drop every socket and end.
                    Err(std_mpsc::TryRecvError::Disconnected) => return,
                }
            }
            if self.sink.is_closed() {
                return;
            }
            let start = Instant::now();
            let passed_on = self.turn(POLL);
            if let (Batching::Every(interval), true) = (batching, passed_on > 0) {
                std::thread::sleep(interval.saturating_sub(start.elapsed()));
            }
        }
    }

    /// One turn: starts the calls that are due, waits at most `timeout`
    /// for any socket, hands what is ready to the sink, and sends the
    /// statistics when due. Returns how many messages it passed on.
    pub fn turn(&mut self, timeout: Duration) -> usize {
        self.call(Instant::now());
        let mut ready = std::mem::take(&mut self.ready);
        if let Err(e) = self.epoll.wait(&mut ready, timeout) {
            tracing::error!("srt epoll: {e}");
            std::thread::sleep(timeout);
        }
        self.sink.woke();
        let mut passed_on = 0;
        for r in &ready {
            passed_on += self.on_ready(*r);
        }
        self.ready = ready;
        let now = Instant::now();
        if now >= self.next_stats {
            self.next_stats = now + STATS_EVERY;
            self.send_stats();
        }
        passed_on
    }

    /// Replaces the SRT outputs; an output whose settings are unchanged
    /// keeps its listener and receiver.
    pub fn set_outputs(&mut self, outputs: Vec<OutputConfig>) {
        // A disabled output neither listens nor calls.
        let wanted: Vec<OutputConfig> = outputs
            .into_iter()
            .filter(|o| o.protocol.is_srt() && o.enabled)
            .collect();
        let mut gone = Vec::new();
        self.links.retain(|l| match &l.config {
            Some(c) if !wanted.contains(c) => {
                gone.push(c.id.clone());
                false
            }
            _ => true,
        });
        for id in gone {
            self.sink.event(Event::OutputDown { id });
        }
        for o in wanted {
            if self.links.iter().any(|l| l.config.as_ref() == Some(&o)) {
                continue;
            }
            let opts = options(o.srt.as_ref());
            let role = match o.protocol {
                crate::OutputProtocol::SrtListener => match srt_sys::listen(o.destination, &opts) {
                    Ok(l) => {
                        if let Err(e) = self.epoll.add(l.socket(), Interest::READ) {
                            tracing::error!("srt output {}: {e}", o.id);
                        }
                        Role::Listener {
                            listener: l,
                            allow: o.allow.clone(),
                        }
                    }
                    Err(e) => {
                        tracing::error!(
                            "srt output {}: cannot listen on {}: {e}",
                            o.id,
                            o.destination
                        );
                        continue;
                    }
                },
                _ => Role::Caller {
                    remote: o.destination,
                    attempt: None,
                    next_try: Instant::now(),
                    backoff: BACKOFF_MIN,
                },
            };
            let mut link = Link::new(Endpoint::Output(o.id.clone()), role, opts);
            link.config = Some(o);
            self.links.push(link);
        }
    }

    /// Starts the connections of callers that are due.
    fn call(&mut self, now: Instant) {
        for link in &mut self.links {
            if link.peer.is_some() {
                continue;
            }
            let name = link.name();
            let Role::Caller {
                remote,
                attempt,
                next_try,
                backoff,
            } = &mut link.role
            else {
                continue;
            };
            if attempt.is_some() || now < *next_try {
                continue;
            }
            match srt_sys::connect(*remote, &link.options) {
                Ok(s) => {
                    if let Err(e) = self.epoll.add(&s, Interest::WRITE) {
                        tracing::error!("srt {name}: {e}");
                    }
                    *attempt = Some(s);
                }
                Err(e) => {
                    tracing::warn!("srt {name}: cannot call {remote}: {e}; again in {backoff:?}");
                    *next_try = now + *backoff;
                    *backoff = backoff.saturating_mul(2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// Handles one ready socket; returns how many messages it passed on.
    fn on_ready(&mut self, r: srt_sys::Ready) -> usize {
        let Some(i) = self.links.iter().position(|l| l.owns(r.socket)) else {
            return 0;
        };
        let kind = match self.links.get(i) {
            Some(l) => l.which(r.socket),
            None => return 0,
        };
        let mut passed_on = 0;
        match kind {
            Which::Listener => self.accept(i),
            Which::Attempt => self.attempt_done(i, r),
            Which::Peer => {
                if r.readable {
                    passed_on = self.read(i);
                }
                if r.error {
                    self.lost(i, "connection broken");
                }
            }
        }
        passed_on
    }

    /// Accepts a waiting caller of listener `i` (epoll reports the listener
    /// again while more wait), or refuses it.
    fn accept(&mut self, i: usize) {
        let Some(link) = self.links.get_mut(i) else {
            return;
        };
        let Role::Listener { listener, .. } = &link.role else {
            return;
        };
        let (socket, peer) = match listener.accept() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                tracing::warn!("srt {}: accept: {e}", link.name());
                return;
            }
        };
        if let Some(why) = refusal(link, &socket, peer) {
            link.stats.refused += 1;
            // A misconfigured caller retries many times a second: one line
            // per REFUSAL_LOG_EVERY is enough to tell why.
            let now = Instant::now();
            if link
                .last_refusal_log
                .is_none_or(|t| now.duration_since(t) >= REFUSAL_LOG_EVERY)
            {
                link.last_refusal_log = Some(now);
                tracing::warn!(
                    "srt {}: refused caller {peer}: {why} ({} refused so far)",
                    link.name(),
                    link.stats.refused
                );
            }
            return; // dropping `socket` closes it
        }
        tracing::info!("srt {}: caller {peer} connected", link.name());
        self.connected(i, socket, peer);
    }

    /// A caller's handshake finished, one way or the other.
    fn attempt_done(&mut self, i: usize, r: srt_sys::Ready) {
        let Some(link) = self.links.get_mut(i) else {
            return;
        };
        let name = link.name();
        let Role::Caller {
            remote,
            attempt,
            next_try,
            backoff,
        } = &mut link.role
        else {
            return;
        };
        let Some(socket) = attempt.take() else {
            return;
        };
        self.epoll.remove(&socket);
        let remote = *remote;
        let refused = if r.error || socket.state() != SocketState::Connected {
            Some(socket.reject_reason())
        } else {
            socket.key_mismatch(link.options.passphrase.is_some())
        };
        if let Some(why) = refused {
            link.stats.refused += 1;
            *next_try = Instant::now() + *backoff;
            tracing::warn!(
                "srt {name}: call to {remote} failed ({why}); again in {:?}",
                backoff
            );
            *backoff = backoff.saturating_mul(2).min(BACKOFF_MAX);
            return;
        }
        *backoff = BACKOFF_MIN;
        tracing::info!("srt {}: connected to {remote}", link.name());
        self.connected(i, socket, remote);
    }

    fn connected(&mut self, i: usize, socket: Socket, peer: SocketAddr) {
        let Some(link) = self.links.get_mut(i) else {
            return;
        };
        let interest = if link.is_source() {
            Interest::READ
        } else {
            Interest::ERROR
        };
        if let Err(e) = self.epoll.add(&socket, interest) {
            tracing::error!("srt {}: {e}", link.name());
            return;
        }
        let socket = Arc::new(socket);
        link.stats.connected = true;
        link.stats.peer = Some(peer);
        link.stats.connections += 1;
        link.peer = Some((socket.clone(), peer));
        if let Endpoint::Output(id) = &link.endpoint {
            self.sink.event(Event::OutputUp {
                id: id.clone(),
                socket,
            });
        }
        // A source's messages may already wait: epoll reports them anyway.
    }

    /// Link `i`'s peer is gone: forget it and, for a caller, call again.
    fn lost(&mut self, i: usize, why: &str) {
        let Some(link) = self.links.get_mut(i) else {
            return;
        };
        let Some((socket, peer)) = link.peer.take() else {
            return;
        };
        self.epoll.remove(&socket);
        link.stats.connected = false;
        link.stats.peer = None;
        link.stats.disconnections += 1;
        tracing::warn!("srt {}: peer {peer} gone: {why}", link.name());
        if let Role::Caller {
            next_try, backoff, ..
        } = &mut link.role
        {
            *next_try = Instant::now() + *backoff;
        }
        if let Endpoint::Output(id) = &link.endpoint {
            self.sink.event(Event::OutputDown { id: id.clone() });
        }
    }

    /// Reads what source link `i`'s peer has delivered and passes it on;
    /// returns how many messages that was.
    fn read(&mut self, i: usize) -> usize {
        let Some(link) = self.links.get_mut(i) else {
            return 0;
        };
        let (Endpoint::Source(source), Some((socket, from))) = (&link.endpoint, &link.peer) else {
            return 0;
        };
        let (source, from) = (*source, *from);
        let mut read = 0;
        let mut broken = None;
        for _ in 0..BATCH {
            match socket.recv(&mut self.buf) {
                Ok(n) => {
                    read += 1;
                    let data = self.buf.get(..n).unwrap_or_default();
                    self.sink.message(source, from, data);
                    // Asking is cheaper than a recv that finds nothing.
                    if !socket.has_message() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    broken = Some(e.to_string());
                    break;
                }
            }
        }
        if read > 0 {
            link.stats.overflow += self.sink.end_burst();
        }
        if let Some(why) = broken {
            self.lost(i, &why);
        }
        read
    }

    fn send_stats(&mut self) {
        let mut all = Vec::with_capacity(self.links.len());
        for link in &mut self.links {
            let is_source = link.is_source();
            if let Some((socket, _)) = &link.peer {
                if let Ok(s) = socket.stats(false) {
                    let st = &mut link.stats;
                    st.rtt_ms = s.rtt_ms;
                    st.lost = s.packets_lost.max(s.packets_send_lost);
                    st.dropped = s.packets_dropped.max(s.packets_send_dropped);
                    st.retransmitted = s.packets_retransmitted;
                    if is_source {
                        st.arq_requests = s.naks_sent;
                        st.arq_recovered = s.packets_lost.saturating_sub(s.packets_dropped);
                    } else {
                        st.arq_requests = s.naks_received;
                    }
                }
            }
            all.push((link.endpoint.clone(), link.stats.clone()));
        }
        self.sink.event(Event::Stats(all));
    }
}

enum Which {
    Listener,
    Attempt,
    Peer,
}

impl Link {
    fn owns(&self, raw: srt_sys::ffi::SRTSOCKET) -> bool {
        self.which_opt(raw).is_some()
    }

    fn which(&self, raw: srt_sys::ffi::SRTSOCKET) -> Which {
        self.which_opt(raw).unwrap_or(Which::Peer)
    }

    fn which_opt(&self, raw: srt_sys::ffi::SRTSOCKET) -> Option<Which> {
        if self.peer.as_ref().is_some_and(|(s, _)| s.raw() == raw) {
            return Some(Which::Peer);
        }
        match &self.role {
            Role::Listener { listener, .. } if listener.socket().raw() == raw => {
                Some(Which::Listener)
            }
            Role::Caller {
                attempt: Some(s), ..
            } if s.raw() == raw => Some(Which::Attempt),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_takes_mapped_addresses() {
        let allow: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert!(allowed(&allow, "10.1.2.3".parse().unwrap()));
        assert!(allowed(&allow, "::ffff:10.1.2.3".parse().unwrap()));
        assert!(!allowed(&allow, "192.0.2.1".parse().unwrap()));
        assert!(allowed(&[], "192.0.2.1".parse().unwrap()));
    }
}
