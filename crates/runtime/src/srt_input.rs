//! The source of an SRT_CALLER or SRT_LISTENER input: one thread per
//! running input calls the upstream SRT listener ([`SrtCaller::start`]), or
//! listens for one caller ([`SrtCaller::listen`]), through libsrt
//! ([`srt_sys`], blocking calls with timeouts, never on a tokio worker),
//! reads its live-mode messages (whole TS packets) and hands them to the
//! channel feed over a bounded channel.
//!
//! - A listener takes one caller at a time; a caller whose address the
//!   input's security groups do not admit (checked at accept, and again
//!   while connected, so a group change drops it) or whose stream id is not
//!   the input's is closed and reported ([`Delivery::Refused`]).
//!
//! - The call waits at most [`CONNECT_TIMEOUT`] for the handshake; a refused
//!   or failed call is tried again after a backoff doubling from
//!   [`BACKOFF_MIN`] to [`BACKOFF_MAX`] (reset once a call succeeds).
//! - A connected listener that goes away (closed, or silent past libsrt's
//!   peer idle timeout) ends the connection; the feed is told
//!   ([`Delivery::Down`]), which is input loss, and the thread calls again.
//! - A caller's passphrase mismatch is refused inside the handshake
//!   (`SRTO_ENFORCEDENCRYPTION`), so it reads as a refused call with
//!   libsrt's reason. A listener lets the handshake finish and then closes
//!   a caller whose key exchange failed ([`Delivery::Rejected`]), so the
//!   refusal is counted and its reason shown.
//! - Dropping the [`SrtCaller`] stops the thread within [`RECV_TIMEOUT`] (or
//!   the call in progress), closing its socket.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use control::medialive::security_group::AllowedSenders;
use srt_sys::{KeyLength, Options};
use tokio::sync::{mpsc, watch};

/// First and longest wait before calling the listener again.
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
pub const BACKOFF_MAX: Duration = Duration::from_secs(8);
/// How long a call waits for the handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one `recv` blocks: how late the thread notices it should stop.
pub const RECV_TIMEOUT: Duration = Duration::from_millis(200);
/// Messages queued towards the feed before new ones are dropped.
const QUEUE: usize = 4096;
/// Largest SRT live message (SRT_LIVE_MAX_PLSIZE).
const MAX_MESSAGE: usize = 1456;
/// Slices a backoff sleep is cut into, so that a stop is noticed.
const SLEEP_SLICE: Duration = Duration::from_millis(50);

/// How to call one SRT listener.
#[derive(Clone, Debug)]
pub struct CallerConfig {
    pub addr: SocketAddr,
    pub latency: Duration,
    pub stream_id: Option<String>,
    pub passphrase: Option<String>,
    pub key_length: KeyLength,
}

impl CallerConfig {
    /// `srt://addr` (with the stream id), for messages.
    pub fn url(&self) -> String {
        match &self.stream_id {
            Some(id) => format!("srt://{}?streamid={id}", self.addr),
            None => format!("srt://{}", self.addr),
        }
    }

    fn options(&self) -> Options {
        Options {
            latency: self.latency,
            passphrase: self.passphrase.clone(),
            key_length: self.key_length,
            stream_id: self.stream_id.clone(),
            connect_timeout: CONNECT_TIMEOUT,
            recv_timeout: Some(RECV_TIMEOUT),
            nonblocking: false,
            enforce_encryption: true,
            ..Options::default()
        }
    }
}

/// The key length of a MediaLive `Algorithm` (`AES128`, `AES192`, `AES256`).
pub fn key_length(algorithm: &str) -> Option<KeyLength> {
    match algorithm {
        "AES128" => Some(KeyLength::Aes128),
        "AES192" => Some(KeyLength::Aes192),
        "AES256" => Some(KeyLength::Aes256),
        _ => None,
    }
}

/// From the caller thread to the feed.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The listener accepted the call.
    Connected,
    /// One message: whole TS packets.
    Ts(Vec<u8>),
    /// The call failed or the connection ended, and why; the thread calls
    /// again after the backoff (a listener listens on).
    Down(String),
    /// A caller was refused by the input's security groups.
    Refused(SocketAddr),
    /// A caller was refused for its passphrase, and why (the listener
    /// listens on).
    Rejected(String),
}

/// A running caller; dropping it stops the thread.
pub struct SrtCaller {
    pub rx: mpsc::Receiver<Delivery>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SrtCaller {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl SrtCaller {
    /// Stops the thread and waits until it has closed its socket and left
    /// libsrt (at most [`RECV_TIMEOUT`], or the call in progress). A process
    /// that exits while such a thread is inside libsrt can crash in
    /// libsrt's static destructors.
    pub async fn close(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl SrtCaller {
    /// Starts calling `config.addr` on a new thread.
    pub fn start(config: CallerConfig) -> io::Result<SrtCaller> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("srt-caller".into())
            .spawn(move || run(&config, &tx, &flag))?;
        Ok(SrtCaller {
            rx,
            stop,
            thread: Some(thread),
        })
    }
}

impl SrtCaller {
    /// Starts listening on `config.addr` for one caller at a time, admitting
    /// those `rules` admit (none: anyone).
    pub fn listen(
        config: CallerConfig,
        rules: Option<watch::Receiver<AllowedSenders>>,
    ) -> io::Result<SrtCaller> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("srt-listener".into())
            .spawn(move || run_listener(&config, rules.as_ref(), &tx, &flag))?;
        Ok(SrtCaller {
            rx,
            stop,
            thread: Some(thread),
        })
    }
}

/// Whether `rules` admit `ip` now.
fn admitted(rules: Option<&watch::Receiver<AllowedSenders>>, ip: std::net::IpAddr) -> bool {
    rules.is_none_or(|r| r.borrow().admits(ip))
}

fn run_listener(
    config: &CallerConfig,
    rules: Option<&watch::Receiver<AllowedSenders>>,
    tx: &mpsc::Sender<Delivery>,
    stop: &AtomicBool,
) {
    let options = Options {
        stream_id: None,
        // Checked below, so that a wrong passphrase is seen and counted.
        enforce_encryption: false,
        ..config.options()
    };
    let mut buf = vec![0u8; MAX_MESSAGE];
    while !stopping(stop, tx) {
        let listener = match srt_sys::listen(config.addr, &options) {
            Ok(l) => l,
            Err(e) => {
                let _ = tx.try_send(Delivery::Down(format!(
                    "cannot listen on srt://{}: {e}; trying again every second",
                    config.addr
                )));
                sleep(Duration::from_secs(1), stop, tx);
                continue;
            }
        };
        let waiting = format!("waiting for an SRT caller on srt://{}", config.addr);
        let _ = tx.try_send(Delivery::Down(waiting.clone()));
        loop {
            if stopping(stop, tx) {
                return;
            }
            let (socket, peer) = match listener.accept_timeout(RECV_TIMEOUT) {
                Ok(p) => p,
                Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
                Err(e) => {
                    let _ = tx.try_send(Delivery::Down(format!(
                        "the SRT listener on srt://{} failed ({e}); listening again",
                        config.addr
                    )));
                    sleep(Duration::from_secs(1), stop, tx);
                    break;
                }
            };
            if !admitted(rules, peer.ip()) {
                let _ = tx.try_send(Delivery::Refused(peer));
                continue;
            }
            if let Some(why) = socket.key_mismatch(config.passphrase.is_some()) {
                let _ = tx.try_send(Delivery::Rejected(format!(
                    "refused SRT caller {peer}: {why}; {waiting}"
                )));
                continue;
            }
            if let Some(want) = &config.stream_id {
                let got = socket.stream_id().unwrap_or_default();
                if &got != want {
                    let _ = tx.try_send(Delivery::Down(format!(
                        "refused SRT caller {peer}: stream id '{got}' is not '{want}'; {waiting}"
                    )));
                    continue;
                }
            }
            if tx.blocking_send(Delivery::Connected).is_err() {
                return;
            }
            let why = loop {
                if stopping(stop, tx) {
                    return;
                }
                if !admitted(rules, peer.ip()) {
                    let _ = tx.try_send(Delivery::Refused(peer));
                    break "the input's security groups no longer admit it".to_owned();
                }
                match pass_on(&socket, &mut buf, tx) {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => break e.to_string(),
                }
            };
            drop(socket);
            let _ = tx.blocking_send(Delivery::Down(format!(
                "the SRT caller {peer} left ({why}); {waiting}"
            )));
        }
    }
}

/// Whether the thread should end: told to, or nobody listens.
/// Reads one message (or times out) and hands it to the feed; `Ok(false)`
/// once the feed is gone. A feed that falls behind loses messages, not the
/// thread.
fn pass_on(
    socket: &srt_sys::Socket,
    buf: &mut [u8],
    tx: &mpsc::Sender<Delivery>,
) -> io::Result<bool> {
    match socket.recv(buf) {
        Ok(n) => {
            let message = buf.get(..n).unwrap_or_default().to_vec();
            Ok(!matches!(
                tx.try_send(Delivery::Ts(message)),
                Err(mpsc::error::TrySendError::Closed(_))
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(true),
        Err(e) => Err(e),
    }
}

fn stopping(stop: &AtomicBool, tx: &mpsc::Sender<Delivery>) -> bool {
    stop.load(Ordering::Relaxed) || tx.is_closed()
}

fn run(config: &CallerConfig, tx: &mpsc::Sender<Delivery>, stop: &AtomicBool) {
    let options = config.options();
    let mut backoff = BACKOFF_MIN;
    let mut buf = vec![0u8; MAX_MESSAGE];
    while !stopping(stop, tx) {
        let socket = match srt_sys::connect(config.addr, &options) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.try_send(Delivery::Down(format!(
                    "cannot call {}: {e}; calling again in {} ms",
                    config.url(),
                    backoff.as_millis()
                )));
                sleep(backoff, stop, tx);
                backoff = backoff.saturating_mul(2).min(BACKOFF_MAX);
                continue;
            }
        };
        backoff = BACKOFF_MIN;
        if tx.blocking_send(Delivery::Connected).is_err() {
            return;
        }
        let why = loop {
            if stopping(stop, tx) {
                return;
            }
            match pass_on(&socket, &mut buf, tx) {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => break e,
            };
        };
        let _ = tx.blocking_send(Delivery::Down(format!(
            "the SRT listener {} went away ({why}); calling again",
            config.url()
        )));
    }
}

/// Sleeps `d`, ending early when the thread should stop.
fn sleep(d: Duration, stop: &AtomicBool, tx: &mpsc::Sender<Delivery>) {
    let mut left = d;
    while !left.is_zero() && !stopping(stop, tx) {
        let slice = left.min(SLEEP_SLICE);
        std::thread::sleep(slice);
        left = left.saturating_sub(slice);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(addr: SocketAddr, passphrase: Option<&str>) -> CallerConfig {
        CallerConfig {
            addr,
            latency: Duration::from_millis(120),
            stream_id: None,
            passphrase: passphrase.map(str::to_owned),
            key_length: KeyLength::Aes128,
        }
    }

    async fn next(c: &mut SrtCaller) -> Delivery {
        tokio::time::timeout(Duration::from_secs(10), c.rx.recv())
            .await
            .expect("a delivery within 10 s")
            .expect("the thread runs")
    }

    /// A caller with the listener's passphrase receives its messages; when
    /// the listener goes away the feed hears so, and the caller calls again
    /// and connects to a new listener on the same port.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_receives_and_calls_again() {
        let secret = Some("correct horse".to_owned());
        let listen = |addr: SocketAddr| {
            srt_sys::listen(
                addr,
                &Options {
                    passphrase: secret.clone(),
                    ..Options::default()
                },
            )
            .unwrap()
        };
        let listener = listen("127.0.0.1:0".parse().unwrap());
        let addr = listener.local_addr().unwrap();
        let mut caller = SrtCaller::start(config(addr, Some("correct horse"))).unwrap();
        // The listener's side sends a message every 20 ms for a second,
        // then closes.
        let sender = std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            for _ in 0..50 {
                socket.send(&[0x47; 188]).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
            drop(socket);
            listener
        });
        assert_eq!(next(&mut caller).await, Delivery::Connected);
        assert_eq!(next(&mut caller).await, Delivery::Ts(vec![0x47; 188]));
        let why = loop {
            match next(&mut caller).await {
                Delivery::Ts(_) => {}
                Delivery::Down(why) => break why,
                other => panic!("{other:?}"),
            }
        };
        let _listener = sender.join().unwrap();
        assert!(why.contains("went away"), "{why}");
        caller.close().await;
    }

    /// A wrong passphrase is a refused call, reported and tried again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wrong_passphrase_is_refused() {
        let listener = srt_sys::listen(
            "127.0.0.1:0".parse().unwrap(),
            &Options {
                passphrase: Some("correct horse".into()),
                ..Options::default()
            },
        )
        .unwrap();
        let addr = listener.local_addr().unwrap();
        let mut caller = SrtCaller::start(config(addr, Some("wrong horse!"))).unwrap();
        let Delivery::Down(why) = next(&mut caller).await else {
            panic!("expected Down");
        };
        assert!(why.starts_with("cannot call srt://127.0.0.1:"), "{why}");
        caller.close().await;
        drop(listener);
    }

    /// A listener refuses callers its rules do not admit, and takes them
    /// once the rules change.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_listener_admits_whom_its_rules_admit() {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let (rules, rx) =
            watch::channel(AllowedSenders::Within(vec!["10.0.0.0/8".parse().unwrap()]));
        let mut input = SrtCaller::listen(config(addr, Some("correct horse")), Some(rx)).unwrap();
        assert!(matches!(next(&mut input).await, Delivery::Down(w) if w.starts_with("waiting")));
        let call = move || {
            std::thread::spawn(move || {
                let Ok(socket) = srt_sys::connect(
                    addr,
                    &Options {
                        passphrase: Some("correct horse".into()),
                        ..Options::default()
                    },
                ) else {
                    return;
                };
                for _ in 0..50 {
                    if socket.send(&[0x47; 188]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let first = call();
        assert!(
            matches!(next(&mut input).await, Delivery::Refused(from) if from.ip() == addr.ip())
        );
        first.join().unwrap();
        rules.send(AllowedSenders::Anyone).unwrap();
        let second = call();
        assert_eq!(next(&mut input).await, Delivery::Connected);
        assert_eq!(next(&mut input).await, Delivery::Ts(vec![0x47; 188]));
        second.join().unwrap();
        input.close().await;
    }

    /// A listener refuses a caller with the wrong passphrase, or with none,
    /// saying why, and takes one with the right passphrase afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_listener_refuses_a_wrong_passphrase_and_says_so() {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut input = SrtCaller::listen(config(addr, Some("correct horse")), None).unwrap();
        assert!(matches!(next(&mut input).await, Delivery::Down(w) if w.starts_with("waiting")));
        let call = move |passphrase: Option<&str>| {
            let passphrase = passphrase.map(str::to_owned);
            std::thread::spawn(move || {
                let options = Options {
                    passphrase,
                    enforce_encryption: false,
                    ..Options::default()
                };
                let Ok(socket) = srt_sys::connect(addr, &options) else {
                    return;
                };
                for _ in 0..25 {
                    if socket.send(&[0x47; 188]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        for (passphrase, reason) in [
            (Some("wrong horse!"), "wrong passphrase"),
            (None, "the peer sent no passphrase"),
        ] {
            let caller = call(passphrase);
            match next(&mut input).await {
                Delivery::Rejected(why) => {
                    assert!(why.contains(reason), "{why}");
                    assert!(why.contains("refused SRT caller 127.0.0.1:"), "{why}");
                }
                other => panic!("{passphrase:?}: {other:?}"),
            }
            caller.join().unwrap();
        }
        let caller = call(Some("correct horse"));
        assert_eq!(next(&mut input).await, Delivery::Connected);
        assert_eq!(next(&mut input).await, Delivery::Ts(vec![0x47; 188]));
        caller.join().unwrap();
        input.close().await;
    }

    #[test]
    fn algorithms() {
        assert_eq!(key_length("AES256"), Some(KeyLength::Aes256));
        assert_eq!(key_length("AES512"), None);
    }
}
