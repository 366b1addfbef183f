//! hyper's side of the front: a connection the short path handed over, served by
//! hyper and the [router](crate::router) for the rest of its life, on the same
//! clock as the short path.
//!
//! hyper knows one timeout for a request head, started when it begins to read one,
//! so an idle keep-alive connection and a slow head would share it. Here the
//! stream keeps the front's two apart: it learns from the service when a request
//! is in progress (a head was parsed, its response body not yet dropped) and,
//! while none is, a read that waits is bounded by the idle timeout until the first
//! byte of the next request arrives, then by the header timeout. The end of a
//! request also wakes the connection's task, so that the idle wait starts even if
//! hyper, whose last read waited, would otherwise wait on the socket without
//! reading (hyper 1.12 reads again after writing a response; the wake keeps that
//! from being a condition of the timeout). While a request is in progress reads
//! are not timed here: its body is ([`TimedBody`]), and a long response (the
//! dashboard's event stream) may take as long as it takes. hyper's
//! own head timeout stays set to the sum of the two as a backstop.

use std::fmt;
use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use axum::extract::ConnectInfo;
use axum::Router;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::limits::{deadline, Counters, Front, TimedBody, HEADER_TIMEOUT_RESPONSE};
use crate::forwarded::ClientAddress;

/// The largest request head hyper reads (it answers 431 past it).
const MAX_HYPER_HEAD: usize = 64 * 1024;

/// hyper serves the rest of the connection, starting with the bytes already read
/// (a request head that began to arrive at `head_from`).
pub(super) async fn hand_over(
    stream: TcpStream,
    read: Bytes,
    head_from: Instant,
    peer: SocketAddr,
    app: Router,
    front: Arc<Front>,
) -> io::Result<()> {
    let cycle = Arc::new(Cycle::default());
    let limits = front.limits;
    let io = TokioIo::new(Replayed {
        read,
        stream,
        cycle: cycle.clone(),
        wait: Wait {
            generation: 0,
            head_from: Some(head_from),
        },
        timer: Box::pin(tokio::time::sleep_until(deadline(
            head_from,
            limits.header_timeout,
        ))),
        front: front.clone(),
    });
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        cycle.started.fetch_add(1, Ordering::Relaxed);
        let finished = Finished(cycle.clone());
        let client = front
            .trusted_proxies
            .client(peer.ip(), forwarded_for(req.headers()));
        let mut req = req.map(|body| axum::body::Body::new(TimedBody::new(body, front.clone())));
        // The peer address and the client's are what origin endpoint whitelists match.
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(ClientAddress(client));
        let app = app.clone();
        async move {
            let resp = tower::ServiceExt::oneshot(app, req).await?;
            Ok::<_, std::convert::Infallible>(resp.map(|body| Tracked {
                body,
                _finished: finished,
            }))
        }
    });
    hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout.saturating_add(limits.header_timeout))
        .max_header_size(MAX_HYPER_HEAD)
        .serve_connection(io, service)
        .with_upgrades()
        .await
        .map_err(io::Error::other)
}

/// Every `X-Forwarded-For` field line of a request, in order.
fn forwarded_for(headers: &axum::http::HeaderMap) -> impl DoubleEndedIterator<Item = &str> + '_ {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
}

/// Where a connection's requests stand: a request is in progress while fewer have
/// finished (their response body dropped, sent or not) than started.
#[derive(Debug, Default)]
struct Cycle {
    started: AtomicU64,
    finished: AtomicU64,
    /// The connection's task, as of its last read that waited during a request:
    /// woken when the request ends, for the stream to start the idle wait.
    reader: Mutex<Option<Waker>>,
}

impl Cycle {
    fn park(&self, waker: &Waker) {
        if let Ok(mut reader) = self.reader.lock() {
            if !reader.as_ref().is_some_and(|r| r.will_wake(waker)) {
                *reader = Some(waker.clone());
            }
        }
    }
}

/// Marks its request finished when dropped.
struct Finished(Arc<Cycle>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::Relaxed);
        let reader = self.0.reader.lock().ok().and_then(|mut r| r.take());
        if let Some(waker) = reader {
            waker.wake();
        }
    }
}

/// A response body that marks its request finished when hyper drops it.
struct Tracked {
    body: axum::body::Body,
    _finished: Finished,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The wait for the next request: which one (the number started before it), and
/// when its first byte arrived.
#[derive(Clone, Copy, Debug)]
struct Wait {
    generation: u64,
    head_from: Option<Instant>,
}

/// A stream with bytes already read from it put back in front, whose reads between
/// requests are timed.
struct Replayed {
    read: Bytes,
    stream: TcpStream,
    cycle: Arc<Cycle>,
    wait: Wait,
    timer: Pin<Box<Sleep>>,
    front: Arc<Front>,
}

impl fmt::Debug for Replayed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replayed")
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl Replayed {
    /// Whether no request is in progress; on the first call after a response, the
    /// wait for the next one starts (idle, from `now`).
    fn waiting(&mut self, now: Instant) -> bool {
        let started = self.cycle.started.load(Ordering::Relaxed);
        if started != self.cycle.finished.load(Ordering::Relaxed) {
            return false;
        }
        if self.wait.generation != started {
            self.wait = Wait {
                generation: started,
                head_from: None,
            };
            let idle = self.front.limits.idle_timeout;
            self.timer.as_mut().reset(deadline(now, idle));
        }
        true
    }

    /// Bytes arrived: if they began a request's head, the head is timed from `now`.
    fn arrived(&mut self, now: Instant) {
        if self.waiting(now) && self.wait.head_from.is_none() {
            self.wait.head_from = Some(now);
            let header = self.front.limits.header_timeout;
            self.timer.as_mut().reset(deadline(now, header));
        }
    }
}

impl AsyncRead for Replayed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.read.is_empty() {
            let n = this.read.len().min(buf.remaining());
            buf.put_slice(&this.read.split_to(n));
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                this.arrived(Instant::now());
                Poll::Ready(Ok(()))
            }
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => {
                if !this.waiting(Instant::now()) {
                    this.cycle.park(cx.waker());
                    return Poll::Pending;
                }
                if this.timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let counters = &this.front.counters;
                let what = if this.wait.head_from.is_some() {
                    // Best effort: the socket's buffer has room for a few lines.
                    let _ = this.stream.try_write(HEADER_TIMEOUT_RESPONSE);
                    Counters::count(&counters.header_timeouts);
                    "a request head took longer than the header timeout"
                } else {
                    Counters::count(&counters.idle_timeouts);
                    "idle for longer than the idle timeout"
                };
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)))
            }
        }
    }
}

impl AsyncWrite for Replayed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
