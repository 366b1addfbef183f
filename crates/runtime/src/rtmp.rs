//! The RTMP listener every RTMP_PUSH input shares: one TCP port
//! ([`control::Settings::rtmp_port`]), one [`rtmp::Session`] per connection,
//! publishers told apart by `app/key`.
//!
//! The model: a running channel's feed [`registers`](RtmpIngest::register)
//! the stream names of its RTMP_PUSH input and gets a [`Registration`] whose
//! receiver yields [`Delivery`]s; dropping it (the channel stopped) removes the
//! names. The listener runs while at least one registration exists (it binds
//! the port at the first, retrying every [`crate::channel::feed::RETRY_BIND`]
//! while the port is busy, and closes it after the last).
//!
//! A connection goes through these gates, each a refusal that closes it:
//! - its address must be admitted by the input security group of at least one
//!   registered input, before any byte is read (counted as
//!   [`Delivery::Refused`] on every registered input, as a refused datagram is);
//! - at most [`MAX_CONNECTIONS`] connections at once;
//! - `connect` must name an app some registered input uses, and `publish`
//!   must name a registered `app/key` whose input admits the address and has no
//!   publisher yet (one publisher per input: a backup encoder on the input's
//!   second name takes over when the first leaves);
//! - publish must be accepted within [`HANDSHAKE_TIMEOUT`] of the connection,
//!   and after that the publisher may be silent at most [`IDLE_TIMEOUT`];
//! - a message may be at most [`MAX_MESSAGE_LEN`] bytes long.
//!
//! Accepted media goes through [`rtmp::ts::TsAdapter`] and reaches the feed as
//! TS in datagram-sized pieces ([`Delivery::Ts`]), the way an RTP_PUSH input's
//! datagrams do, so input loss, failover, metrics and alerts treat an RTMP
//! publisher that leaves like a push input that stops.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use control::medialive::security_group::AllowedSenders;
use rtmp::ts::TsAdapter;
use rtmp::{Event, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::channel::feed::RETRY_BIND;

/// Most RTMP connections open at once; more are closed at accept.
pub const MAX_CONNECTIONS: usize = 32;
/// Longest time from accept to an accepted publish.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence of a publisher (or of a socket write) before it is dropped.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest RTMP message taken (a key frame must fit): a connection holds at
/// most about three times this.
pub const MAX_MESSAGE_LEN: u32 = 4 << 20;
/// TS handed to the feed at a time: seven packets, an RTP_PUSH datagram's load.
const TS_PIECE: usize = 7 * 188;
/// Pieces that may wait for the feed before the publisher is slowed down.
const QUEUE: usize = 1024;

/// What a registered input's feed receives.
#[derive(Debug)]
pub enum Delivery {
    /// A publisher was accepted on `stream` (`app/key`): a new stream starts.
    Publishing { peer: SocketAddr, stream: String },
    /// Whole TS packets of the publisher's media.
    Ts(Vec<u8>),
    /// The publisher left (or was dropped), and why.
    Ended { peer: SocketAddr, why: String },
    /// A connection from `peer` was refused by the input's security group.
    Refused(SocketAddr),
    /// The listener cannot bind its port (`Some`: why; it tries again every
    /// second), or is listening again (`None`).
    Listening { error: Option<String> },
}

/// One registered input.
struct Route {
    id: u64,
    tx: mpsc::Sender<Delivery>,
    rules: Option<watch::Receiver<AllowedSenders>>,
    /// The address of the connection publishing to the input, if any.
    publisher: Mutex<Option<SocketAddr>>,
}

impl Route {
    fn admits(&self, ip: IpAddr) -> bool {
        self.rules.as_ref().is_none_or(|r| r.borrow().admits(ip))
    }

    fn publisher(&self) -> MutexGuard<'_, Option<SocketAddr>> {
        self.publisher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The shared RTMP listener and who it routes to. See the [module docs](self).
pub struct RtmpIngest {
    bind: SocketAddr,
    routes: Mutex<HashMap<String, Arc<Route>>>,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// Why the listener cannot bind its port, while it cannot.
    listen_error: Mutex<Option<String>>,
    connections: Arc<Semaphore>,
    next_id: AtomicU64,
    /// Connections refused before the handshake, and at the connection cap.
    refused: AtomicU64,
    over_cap: AtomicU64,
}

/// An input's place in the routing table; dropping it frees its names (and
/// stops the listener when it was the last).
pub struct Registration {
    ingest: Arc<RtmpIngest>,
    id: u64,
    /// The input's deliveries.
    pub rx: mpsc::Receiver<Delivery>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut routes = self.ingest.routes();
        routes.retain(|_, r| r.id != self.id);
        if routes.is_empty() {
            if let Some(h) = self.ingest.listener().take() {
                h.abort();
            }
            *self.ingest.listen_error() = None;
        }
    }
}

impl RtmpIngest {
    /// A listener on `bind`, not opened until the first registration.
    pub fn new(bind: SocketAddr) -> Arc<Self> {
        Arc::new(RtmpIngest {
            bind,
            routes: Mutex::default(),
            listener: Mutex::default(),
            listen_error: Mutex::default(),
            connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            next_id: AtomicU64::new(1),
            refused: AtomicU64::new(0),
            over_cap: AtomicU64::new(0),
        })
    }

    /// The address the listener binds.
    pub fn bind(&self) -> SocketAddr {
        self.bind
    }

    /// Connections refused before the handshake (security groups) and at
    /// the connection cap, so far.
    pub fn refused(&self) -> (u64, u64) {
        (
            self.refused.load(Ordering::Relaxed),
            self.over_cap.load(Ordering::Relaxed),
        )
    }

    fn routes(&self) -> MutexGuard<'_, HashMap<String, Arc<Route>>> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn listener(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.listener.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn listen_error(&self) -> MutexGuard<'_, Option<String>> {
        self.listen_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records whether the port is bound and tells every input when that changes.
    fn listening(&self, error: Option<String>) {
        let mut now = self.listen_error();
        if *now == error {
            return;
        }
        now.clone_from(&error);
        drop(now);
        for r in self.routes().values() {
            let error = error.clone();
            let _ = r.tx.try_send(Delivery::Listening { error });
        }
    }

    /// Routes publishers of `names` (`app/key`) to the returned registration,
    /// admitting the addresses `rules` admits (none: anyone). Refused with the
    /// reason when another registration holds one of the names. Must be called
    /// inside a tokio runtime: the listener starts here.
    pub fn register(
        self: &Arc<Self>,
        names: &[String],
        rules: Option<watch::Receiver<AllowedSenders>>,
    ) -> Result<Registration, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(QUEUE);
        let route = Arc::new(Route {
            id,
            tx,
            rules,
            publisher: Mutex::new(None),
        });
        {
            let mut routes = self.routes();
            if let Some(name) = names.iter().find(|n| routes.contains_key(*n)) {
                return Err(format!(
                    "stream {name} is taken by another running channel's input"
                ));
            }
            for name in names {
                routes.insert(name.clone(), route.clone());
            }
        }
        if let Some(error) = self.listen_error().clone() {
            let _ = route
                .tx
                .try_send(Delivery::Listening { error: Some(error) });
        }
        let mut listener = self.listener();
        if listener.as_ref().is_none_or(JoinHandle::is_finished) {
            *listener = Some(tokio::spawn(listen(Arc::downgrade(self))));
        }
        Ok(Registration {
            ingest: self.clone(),
            id,
            rx,
        })
    }

    /// Whether some registered input admits `ip`; if none does, each is told
    /// of the refusal.
    fn admits_any(&self, peer: SocketAddr) -> bool {
        let routes = self.routes();
        if routes.values().any(|r| r.admits(peer.ip())) {
            return true;
        }
        for r in routes.values() {
            let _ = r.tx.try_send(Delivery::Refused(peer));
        }
        false
    }

    /// Whether some registered input uses `app`.
    fn knows_app(&self, app: &str) -> bool {
        self.routes()
            .keys()
            .any(|name| name.split_once('/').is_some_and(|(a, _)| a == app))
    }

    /// Makes `peer` the publisher of `stream`, or says why not.
    fn claim(&self, stream: &str, peer: SocketAddr) -> Result<Claim, String> {
        let route = self
            .routes()
            .get(stream)
            .cloned()
            .ok_or_else(|| format!("no running channel's input has stream {stream}"))?;
        if !route.admits(peer.ip()) {
            let _ = route.tx.try_send(Delivery::Refused(peer));
            return Err("the input's security group does not admit the address".into());
        }
        let mut publisher = route.publisher();
        if let Some(other) = *publisher {
            return Err(format!("the input already has a publisher ({other})"));
        }
        *publisher = Some(peer);
        drop(publisher);
        Ok(Claim { route, peer })
    }
}

/// A connection's hold on its input; released on drop.
struct Claim {
    route: Arc<Route>,
    peer: SocketAddr,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut publisher = self.route.publisher();
        if *publisher == Some(self.peer) {
            *publisher = None;
        }
    }
}

/// Binds the port (again every [`RETRY_BIND`] while it is busy) and accepts
/// connections until the ingest is gone or the task aborted.
async fn listen(ingest: Weak<RtmpIngest>) {
    let Some(bind) = ingest.upgrade().map(|i| i.bind) else {
        return;
    };
    let mut logged = None;
    let listener = loop {
        match TcpListener::bind(bind).await {
            Ok(l) => break l,
            Err(e) => {
                let why = e.to_string();
                if logged.as_ref() != Some(&why) {
                    tracing::warn!(
                        "RTMP listener cannot listen on {bind}: {why}; trying again every second"
                    );
                    logged = Some(why.clone());
                }
                let Some(i) = ingest.upgrade() else { return };
                i.listening(Some(why));
                drop(i);
                tokio::time::sleep(RETRY_BIND).await;
            }
        }
    };
    if let Some(i) = ingest.upgrade() {
        i.listening(None);
    }
    tracing::info!("RTMP listener on {bind}");
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: back off a little.
                tracing::warn!("RTMP listener: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(ingest) = ingest.upgrade() else {
            return;
        };
        if !ingest.admits_any(peer) {
            let n = ingest
                .refused
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1);
            tracing::warn!(
                %peer,
                refused = n,
                "RTMP connection refused: no input's security group admits {}",
                peer.ip()
            );
            continue;
        }
        let Ok(permit) = ingest.connections.clone().try_acquire_owned() else {
            let n = ingest
                .over_cap
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1);
            tracing::warn!(%peer, refused = n, "RTMP connection refused: {MAX_CONNECTIONS} connections are open");
            continue;
        };
        tokio::spawn(serve(ingest, stream, peer, permit));
    }
}

/// Runs one connection to its end; the outcome is logged.
async fn serve(
    ingest: Arc<RtmpIngest>,
    stream: TcpStream,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
) {
    let mut conn = Connection {
        ingest,
        stream,
        peer,
        session: Session::new(),
        adapter: TsAdapter::new(),
        claim: None,
        name: String::new(),
        warned_dropped: false,
    };
    conn.session.set_max_message_len(MAX_MESSAGE_LEN);
    let _ = conn.stream.set_nodelay(true);
    let why = conn.run().await;
    // Whatever the session still has to say (an error status), best effort.
    let _ = conn.flush().await;
    if let Some(claim) = conn.claim.take() {
        tracing::info!(%peer, stream = %conn.name, "RTMP publisher left: {why}");
        // Behind the media still queued; a feed that takes nothing for a
        // second sees the loss by the silence instead.
        let ended = Delivery::Ended {
            peer,
            why: why.clone(),
        };
        let _ = claim.route.tx.send_timeout(ended, RETRY_BIND).await;
    } else {
        tracing::info!(%peer, "RTMP connection closed before publishing: {why}");
    }
}

/// One connection's state. See [`serve`].
struct Connection {
    ingest: Arc<RtmpIngest>,
    stream: TcpStream,
    peer: SocketAddr,
    session: Session,
    adapter: TsAdapter,
    /// Set once publish is accepted.
    claim: Option<Claim>,
    /// The `app/key` published.
    name: String,
    /// The publisher was told of in the log for media that is dropped.
    warned_dropped: bool,
}

/// Media messages dropped (other codecs, malformed) before it is logged: a
/// few before the codec configuration are normal.
const DROPPED_WARNING: u64 = 50;

impl Connection {
    /// Reads and answers until the connection ends; returns why it ended.
    async fn run(&mut self) -> String {
        let publish_by = Instant::now() + HANDSHAKE_TIMEOUT;
        let mut buf = vec![0u8; 64 * 1024];
        let mut ts = Vec::new();
        loop {
            let limit = if self.claim.is_some() {
                Instant::now() + IDLE_TIMEOUT
            } else {
                publish_by
            };
            let n = match tokio::time::timeout_at(limit, self.stream.read(&mut buf)).await {
                Err(_) if self.claim.is_some() => {
                    return format!("no data for {} s", IDLE_TIMEOUT.as_secs())
                }
                Err(_) => {
                    return format!("not publishing within {} s", HANDSHAKE_TIMEOUT.as_secs())
                }
                Ok(Ok(0)) => return "the publisher closed the connection".into(),
                // ffmpeg closes with acknowledgements unread: a reset is an end.
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return "the publisher closed the connection (reset)".into()
                }
                Ok(Err(e)) => return format!("read error: {e}"),
                Ok(Ok(n)) => n,
            };
            let data = buf.get(..n).unwrap_or_default();
            if let Err(e) = self.session.handle_input(data) {
                return format!("protocol error: {e}");
            }
            if let Some(end) = self.events(&mut ts) {
                return end;
            }
            self.warn_dropped();
            if let Err(e) = self.flush().await {
                return e;
            }
            if let Some(end) = self.deliver(&mut ts).await {
                return end;
            }
            if self.session.is_closed() {
                return "session closed".into();
            }
        }
    }

    /// Handles the session's events; media goes to `ts`. Some(why) ends the
    /// connection.
    fn events(&mut self, ts: &mut Vec<u8>) -> Option<String> {
        while let Some(event) = self.session.poll_event() {
            let decision = match &event {
                Event::Connect { app, .. } => {
                    let ok = self.ingest.knows_app(app);
                    if !ok {
                        tracing::warn!(peer = %self.peer, "RTMP connect refused: no running channel's input uses app '{app}'");
                    }
                    Some(ok)
                }
                Event::Publish { app, stream_key } => {
                    let name = format!("{app}/{stream_key}");
                    match self.ingest.claim(&name, self.peer) {
                        Ok(claim) => {
                            let _ = claim.route.tx.try_send(Delivery::Publishing {
                                peer: self.peer,
                                stream: name.clone(),
                            });
                            tracing::info!(peer = %self.peer, stream = %name, "RTMP publisher accepted");
                            self.claim = Some(claim);
                            self.name = name;
                            Some(true)
                        }
                        Err(why) => {
                            tracing::warn!(peer = %self.peer, "RTMP publish to {name} refused: {why}");
                            Some(false)
                        }
                    }
                }
                Event::Video(_) | Event::Audio(_) => {
                    if let Err(e) = self.adapter.push(&event, ts) {
                        return Some(format!("cannot make TS of the media: {e}"));
                    }
                    None
                }
                Event::Unpublish => return Some("the publisher unpublished".into()),
                Event::Closed { reason } => return Some(format!("refused ({reason:?})")),
                Event::Metadata(_) => None,
            };
            if let Some(ok) = decision {
                if let Err(e) = self.session.accept(ok) {
                    return Some(format!("protocol error: {e}"));
                }
            }
        }
        None
    }

    /// Logs, once, a publisher whose media is mostly dropped (a codec other
    /// than H.264 / AAC, or malformed tags).
    fn warn_dropped(&mut self) {
        let stats = self.session.stats();
        if !self.warned_dropped && stats.dropped >= DROPPED_WARNING {
            self.warned_dropped = true;
            tracing::warn!(
                peer = %self.peer,
                stream = %self.name,
                dropped = stats.dropped,
                video = stats.video_frames,
                audio = stats.audio_frames,
                "RTMP publisher sends media onair drops: only H.264 video and AAC audio are taken"
            );
        }
    }

    /// Writes what the session has to say.
    async fn flush(&mut self) -> Result<(), String> {
        while let Some(bytes) = self.session.poll_transmit() {
            match tokio::time::timeout(IDLE_TIMEOUT, self.stream.write_all(&bytes)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("write error: {e}")),
                Err(_) => return Err("the publisher reads nothing".into()),
            }
        }
        Ok(())
    }

    /// Hands `ts` to the input's feed in datagram-sized pieces. Some(why)
    /// ends the connection.
    async fn deliver(&mut self, ts: &mut Vec<u8>) -> Option<String> {
        let claim = self.claim.as_ref()?;
        if !claim.route.admits(self.peer.ip()) {
            let _ = claim.route.tx.try_send(Delivery::Refused(self.peer));
            return Some("the input's security group no longer admits the address".into());
        }
        for piece in ts.chunks(TS_PIECE) {
            let sent = claim
                .route
                .tx
                .send_timeout(Delivery::Ts(piece.to_vec()), IDLE_TIMEOUT)
                .await;
            match sent {
                Ok(()) => {}
                Err(mpsc::error::SendTimeoutError::Closed(_)) => {
                    return Some("the channel stopped".into())
                }
                Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                    return Some("the channel's feed takes nothing".into())
                }
            }
        }
        ts.clear();
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free_port() -> SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
    }

    /// Connects (retrying while the listener binds) and reads until the server
    /// closes; returns what it read, or None if the server kept it open.
    async fn closed_after(addr: SocketAddr, send: &[u8]) -> Option<Vec<u8>> {
        let mut stream = None;
        for _ in 0..50 {
            if let Ok(s) = TcpStream::connect(addr).await {
                stream = Some(s);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut stream = stream.expect("the listener answers");
        let _ = stream.write_all(send).await;
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut got)).await;
        read.is_ok().then_some(got)
    }

    #[tokio::test]
    async fn names_are_held_once_and_freed_with_the_registration() {
        let ingest = RtmpIngest::new(free_port());
        let names = vec!["live/a".to_string(), "live/b".to_string()];
        let reg = ingest.register(&names, None).unwrap();
        let err = ingest
            .register(&["live/b".to_string()], None)
            .err()
            .unwrap();
        assert!(err.contains("live/b"), "{err}");
        assert!(ingest.knows_app("live") && !ingest.knows_app("other"));
        drop(reg);
        assert!(!ingest.knows_app("live"));
        // The listener stopped with the last registration: the port is free.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let again = ingest.register(&names, None).unwrap();
        drop(again);
    }

    #[tokio::test]
    async fn a_busy_port_is_reported_and_tried_again() {
        let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let ingest = RtmpIngest::new(busy.local_addr().unwrap());
        let mut reg = ingest.register(&["live/a".to_string()], None).unwrap();
        let first = tokio::time::timeout(Duration::from_secs(3), reg.rx.recv())
            .await
            .unwrap();
        assert!(
            matches!(&first, Some(Delivery::Listening { error: Some(e) }) if !e.is_empty()),
            "{first:?}"
        );
        drop(busy);
        let again = tokio::time::timeout(Duration::from_secs(3), reg.rx.recv())
            .await
            .unwrap();
        assert!(
            matches!(again, Some(Delivery::Listening { error: None })),
            "{again:?}"
        );
    }

    #[tokio::test]
    async fn a_sender_outside_the_groups_is_closed_before_the_handshake_and_counted() {
        let addr = free_port();
        let ingest = RtmpIngest::new(addr);
        let (_rules, rx) =
            watch::channel(AllowedSenders::Within(vec!["10.0.0.0/8".parse().unwrap()]));
        let mut reg = ingest.register(&["live/a".to_string()], Some(rx)).unwrap();
        // C0 + C1 of a real client: no S0 S1 S2 comes back.
        let got = closed_after(addr, &[3u8; 1537]).await;
        assert_eq!(got, Some(Vec::new()));
        let delivery = tokio::time::timeout(Duration::from_secs(2), reg.rx.recv())
            .await
            .unwrap();
        assert!(matches!(delivery, Some(Delivery::Refused(p)) if p.ip().is_loopback()));
        assert_eq!(ingest.refused(), (1, 0));
    }

    #[tokio::test]
    async fn garbage_closes_the_connection_without_a_publisher() {
        let addr = free_port();
        let ingest = RtmpIngest::new(addr);
        let mut reg = ingest.register(&["live/a".to_string()], None).unwrap();
        // RTMP version 9 is refused at the handshake.
        let got = closed_after(addr, &[9u8; 1537]).await;
        assert!(got.is_some(), "the connection stayed open");
        assert!(
            tokio::time::timeout(Duration::from_millis(200), reg.rx.recv())
                .await
                .is_err(),
            "no delivery for a connection that never published"
        );
    }
}
