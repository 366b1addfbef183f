//! A broadcast test-signal generator: what `onair testsrc` runs, and what `onair demo`
//! runs twice in-process as its primary and backup encoders.
//!
//! ```text
//!                 encoder thread (FFmpeg calls block)               tokio task
//!  ┌──────────────────────────────────────────────────┐      ┌──────────────────────────┐
//!  │ pattern + timecode ─▶ libx264 ─┐                 │ TS   │ 7 TS packets a datagram, │   RTP (PT 33)
//!  │ (picture)                      ├─▶ TS mux ───────┼─────▶│ paced over each frame,   ├─▶ + 2022-1 FEC
//!  │ tone (sine) ───────▶ AAC ──────┘  one chunk/frame│ ≤ 3  │ drop / stop applied      │   or UDP
//!  └──────────────────────────────────────────────────┘ queue└──────────────────────────┘
//!        ▲ freeze, black, silence                                    ▲ drop, stop
//!        └──────────────── watch<Impairments> ◀── TestSource::set ──┘
//! ```
//!
//! The picture is 75 % colour bars, a luma ramp, a white box crossing the picture every two
//! seconds, the source's name and a burnt-in timecode (time of day UTC, HH:MM:SS:FF); the
//! sound is a sine at a frequency that identifies the source ([`picture`], [`tone`]).
//! H.264 comes from libx264 (zerolatency, veryfast, CBR, one-second closed GOPs), AAC-LC
//! from FFmpeg's encoder through `live`'s audio rendition, the transport stream from
//! `media`'s muxer, RTP and SMPTE 2022-1 FEC from `transport`'s sender: the same pieces as
//! a channel's and a flow's outputs.
//!
//! # Driving contract
//!
//! [`TestSource::start`] (inside a tokio runtime) opens the encoders, binds a UDP socket
//! and returns a running source: a dedicated OS thread draws and encodes one frame at a
//! time and hands a chunk of TS per frame through a bounded queue to a tokio task, which
//! sends each chunk's datagrams spread evenly over the frame's period, in real time. The
//! queue paces the encoder: it runs at most three frames ahead. [`TestSource::set`] and
//! [`TestSource::update`] change the [`Impairments`] while it runs (a `watch` channel read
//! each frame by the encoder and each datagram by the sender: a change shows within about
//! 100 ms). [`TestSource::stats`] reads the counters without waiting for anything.
//! Dropping the source stops it: the task is aborted, which closes the queue, and the
//! thread ends at its next frame; [`TestSource::stop`] does the same and waits for both.
//!
//! ```no_run
//! # async fn demo() -> Result<(), testsrc::Error> {
//! use std::net::SocketAddr;
//! use testsrc::{Config, Format, Impairments, Protocol, TestSource};
//!
//! let mut config = Config::new("primary", SocketAddr::from(([127, 0, 0, 1], 5000)));
//! config.format = Format::Hd720p30;
//! config.tone_hz = 1000;
//! config.protocol = Protocol::Rtp;
//! let primary = TestSource::start(config)?;
//! primary.update(|i| i.freeze = true); // a dashboard button
//! primary.set(Impairments::none()); // and another
//! let sent = primary.stats().datagrams;
//! primary.stop().await?;
//! # let _ = sent; Ok(()) }
//! ```
//!
//! # Why 720p30 by default, and what each format costs
//!
//! On the two-core box onair targets, the demo runs two sources plus a channel that
//! decodes one of them and encodes a ladder. 720p30 is HD at a common contribution rate
//! (3 Mb/s) for about a sixth of a core per source; 1080p30 costs about twice as much to
//! encode here and to decode in the channel, for nothing a test signal needs to show.
//!
//! Measured with `onair testsrc --protocol rtp-fec` for 20 s on the project's two-core
//! box while other builds kept its load average at 4–5 (CPU time from
//! `/proc/PID/task/*/stat`, % of one core; the encoder thread is drawing, libx264, AAC and
//! muxing; the tokio side is packetizing, RTP, FEC and pacing):
//!
//! | format | release: encoder thread | release: tokio | release: total | debug: total |
//! |---|---|---|---|---|
//! | 720p30 | 13.8 % | 1.7 % | 15.5 % | 20.2 % |
//! | 720p25 | 12.0 % | 1.7 % | 13.6 % | — |
//! | 1080p30 | 26.5 % | 1.8 % | 28.3 % | 38.5 % |
//!
//! # Why a crate of its own
//!
//! It composes three engine crates (`live` for FFmpeg, `media` for TS, `transport` for RTP
//! and FEC) into a peer that sits *outside* onair's resource model: nothing in `control`
//! describes it and the supervisor does not run it. In `runtime` it would be a second kind
//! of thing in the crate that runs resources, and everything that wants a test signal
//! (the binary, the demo, benchmarks) would link the control plane to get one.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod config;
mod encode;
pub mod font;
pub mod impair;
pub mod pace;
pub mod picture;
mod send;
pub mod timecode;
pub mod tone;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use config::{
    Config, FecMatrix, Format, Protocol, AUDIO_BITRATE, CHANNELS, SAMPLE_RATE, TONE_RANGE,
};
pub use impair::{Command, CommandError, Impairments};
pub use send::Stats;
pub use timecode::Timecode;

/// What can go wrong starting or running a test source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The encoders could not be opened or failed (libx264 or AAC missing, FFmpeg error).
    #[error("encoder: {0}")]
    Encoder(#[from] live::Error),
    /// FFmpeg reported an error.
    #[error("ffmpeg: {0}")]
    Ffmpeg(#[from] ffmpeg_next::Error),
    /// The muxer refused an access unit.
    #[error("ts mux: {0}")]
    Mux(#[from] media::mux::MuxError),
    /// The socket could not be opened.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// A setting is out of range; the message names it.
    #[error("{0}")]
    Settings(String),
    /// [`TestSource::start`] was called outside a tokio runtime.
    #[error("a test source must be started inside a tokio runtime")]
    NoRuntime,
    /// The encoder thread could not start or died.
    #[error("encoder thread: {0}")]
    Thread(String),
}

/// A running test source. See the [crate docs](crate) for the driving contract.
#[derive(Debug)]
pub struct TestSource {
    config: Config,
    impairments: watch::Sender<Impairments>,
    stats: watch::Receiver<Stats>,
    stop: Arc<AtomicBool>,
    task: Option<JoinHandle<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), Error>>>,
}

impl TestSource {
    /// Checks `config`, opens the encoders (a few milliseconds), binds a UDP socket on an
    /// ephemeral port of the destination's address family, and starts sending. Must be
    /// called inside a tokio runtime, whose tasks then do the sending.
    pub fn start(config: Config) -> Result<Self, Error> {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
        let generator = encode::Generator::open(&config)?;
        let bind = if config.destination.is_ipv4() {
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
        } else {
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
        };
        let socket = std::net::UdpSocket::bind(bind)?;
        socket.set_nonblocking(true)?;
        let socket = {
            let _in_runtime = runtime.enter();
            tokio::net::UdpSocket::from_std(socket)?
        };
        let (impairments, impairments_rx) = watch::channel(config.impairments.clamped());
        let (stats_tx, stats) = watch::channel(Stats::default());
        let (chunks_tx, chunks_rx) = mpsc::channel(encode::QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let impairments = impairments_rx.clone();
            std::thread::Builder::new()
                .name("testsrc".into())
                .spawn(move || encode::run(generator, impairments, chunks_tx, stop))
                .map_err(|e| Error::Thread(e.to_string()))?
        };
        let route = send::Route {
            destination: config.destination,
            protocol: config.protocol,
            fec: config.fec,
            seed: config.seed,
        };
        let task = runtime.spawn(send::run(
            socket,
            route,
            chunks_rx,
            impairments_rx,
            stats_tx,
        ));
        Ok(Self {
            config,
            impairments,
            stats,
            stop,
            task: Some(task),
            thread: Some(thread),
        })
    }

    /// What this source was started with (its impairments as at start).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replaces the impairments in effect (`drop_percent` is clamped to 0–100).
    pub fn set(&self, impairments: Impairments) {
        self.impairments.send_replace(impairments.clamped());
    }

    /// Changes the impairments in effect in place, e.g. `source.update(|i| i.black = true)`.
    pub fn update(&self, change: impl FnOnce(&mut Impairments)) {
        self.impairments.send_modify(|i| {
            change(i);
            *i = i.clamped();
        });
    }

    /// The impairments in effect.
    pub fn impairments(&self) -> Impairments {
        *self.impairments.borrow()
    }

    /// A receiver that sees every change of the impairments (for a dashboard).
    pub fn watch_impairments(&self) -> watch::Receiver<Impairments> {
        self.impairments.subscribe()
    }

    /// The counters as of the last frame sent.
    pub fn stats(&self) -> Stats {
        *self.stats.borrow()
    }

    /// A receiver of the counters, updated after every frame.
    pub fn watch_stats(&self) -> watch::Receiver<Stats> {
        self.stats.clone()
    }

    /// False once the source has stopped (by [`stop`](Self::stop), or by itself after an
    /// encoder error: see [`finished`](Self::finished)).
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Waits until the source stops by itself and says why: a healthy source runs until it
    /// is stopped or dropped, so this resolves only on an encoder error. Cancel-safe (use it
    /// in `select!`); after it has resolved once it resolves at once with `Ok`.
    pub async fn finished(&mut self) -> Result<(), Error> {
        if let Some(task) = self.task.as_mut() {
            let _ = task.await;
            self.task = None;
        }
        self.join_thread().await
    }

    /// Stops sending and encoding, waits for the thread, and returns the last counters.
    pub async fn stop(mut self) -> Result<Stats, Error> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.join_thread().await?;
        Ok(*self.stats.borrow())
    }

    async fn join_thread(&mut self) -> Result<(), Error> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(Error::Thread("the encoder thread panicked".into())),
            Err(e) => Err(Error::Thread(e.to_string())),
        }
    }
}

impl Drop for TestSource {
    /// Stops the source without waiting: the task is aborted at once, which closes the
    /// queue; the encoder thread sees that (or the stop flag) and ends within a frame.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use std::time::Duration;
    use transport::rtp::RtpPacket;

    async fn receiver() -> (tokio::net::UdpSocket, SocketAddr) {
        let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let a = s.local_addr().unwrap();
        (s, a)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sends_paced_rtp_and_changes_impairments_while_running() {
        let (rx, addr) = receiver().await;
        let mut config = Config::new("unit", addr);
        config.seed = Some(1);
        let source = TestSource::start(config).unwrap();
        let mut buf = vec![0u8; 2048];
        let started = tokio::time::Instant::now();
        let mut seqs = Vec::new();
        while started.elapsed() < Duration::from_millis(1000) {
            let n = tokio::time::timeout(Duration::from_secs(5), rx.recv(&mut buf))
                .await
                .unwrap()
                .unwrap();
            let p = RtpPacket::parse(&buf[..n]).unwrap();
            assert_eq!((p.payload_type, p.payload.len()), (33, 1316));
            seqs.push(p.seq);
        }
        // About a second of 3 Mb/s (plus audio and TS overhead): ~300 datagrams, in order.
        assert!((200..450).contains(&seqs.len()), "{}", seqs.len());
        assert!(seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)));
        // Half the datagrams lost from now on.
        source.update(|i| i.drop_percent = 50.0);
        assert_eq!(source.impairments().drop_percent, 50.0);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let st = source.stats();
        assert!(st.dropped > 20, "{st:?}");
        assert!(st.frames >= 40, "{st:?}");
        // Stop: nothing arrives any more.
        source.set(Impairments {
            stop: true,
            ..Impairments::none()
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        while rx.try_recv(&mut buf).is_ok() {}
        let quiet = tokio::time::timeout(Duration::from_millis(500), rx.recv(&mut buf)).await;
        assert!(quiet.is_err(), "datagrams after stop");
        let st = source.stop().await.unwrap();
        assert!(st.withheld > 0, "{st:?}");
    }

    #[tokio::test]
    async fn bad_settings_and_no_runtime_are_errors_not_panics() {
        let (_rx, addr) = receiver().await;
        let mut config = Config::new("unit", addr);
        config.tone_hz = 5;
        assert!(matches!(TestSource::start(config), Err(Error::Settings(_))));
        let config = Config::new("unit", addr);
        let outside = std::thread::spawn(move || TestSource::start(config).map(|_| ()));
        assert!(matches!(outside.join().unwrap(), Err(Error::NoRuntime)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_source_ends_its_thread() {
        let (_rx, addr) = receiver().await;
        let source = TestSource::start(Config::new("unit", addr)).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let stop = source.stop.clone();
        let stats = source.watch_stats();
        drop(source);
        assert!(stop.load(Ordering::Relaxed));
        // The sending task is gone: its stats sender is dropped.
        tokio::time::timeout(Duration::from_secs(2), async {
            let mut stats = stats;
            while stats.changed().await.is_ok() {}
        })
        .await
        .unwrap();
    }
}
