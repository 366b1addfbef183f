//! What one client may take from the HTTP front: time to send a request head and a
//! body, time to sit idle between requests, body sizes, and a share of the
//! connections, so that a slow, stalled or hostile client costs the others nothing.
//!
//! | limit | from → to | past it |
//! |---|---|---|
//! | [`idle_timeout`](Limits::idle_timeout) | accept, or the end of a response → the first byte of the next request | the connection is closed (FIN) |
//! | [`header_timeout`](Limits::header_timeout) | the first byte of a request → the end of its head | `408` in the AWS shape, then close |
//! | [`body_timeout`](Limits::body_timeout) | one read of a request body → the next | `408` in the AWS shape, then close |
//! | [`max_connections`](Limits::max_connections) | open connections at once | accepted, answered `503` with `Connection: close`, closed |
//! | [`MAX_API_BODY`], ingest's [`MAX_INGEST_BODY`](package::origin::MAX_INGEST_BODY) | request body bytes | `413` in the AWS shape, then close (before reading when `Content-Length` says so) |
//!
//! Both HTTP paths keep the same clock: the short path in its read loop
//! ([`super`]), hyper's in the stream it is handed ([`super::handover`]). The
//! short path's timeouts are kept to within a sixteenth of their length. Every
//! refusal is counted ([`Counters`], on `/metrics`).

use std::fmt;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

use crate::forwarded::TrustedProxies;
use crate::ApiError;

/// The largest body of an AWS API call: a CloudWatch `PutMetricData` batch (gzipped
/// at 10 KiB and more) or a MediaLive `CreateChannel` document are each about 1 MiB
/// at most.
pub const MAX_API_BODY: usize = 2 << 20;

/// The timeouts and the connection cap (`onair serve --header-timeout`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// From the first byte of a request to the end of its head.
    pub header_timeout: Duration,
    /// The longest wait between two reads of a request body.
    pub body_timeout: Duration,
    /// How long a connection may wait for its next request (from accept, or from
    /// the end of the previous response, to the first byte of the next request).
    pub idle_timeout: Duration,
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
}

impl Limits {
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_MAX_CONNECTIONS: usize = 8192;

    /// The default cap for an open-file limit of `open_files`: 8192, or half the
    /// limit if that is lower (a quarter goes to segment files, the rest to flows,
    /// inputs and the store).
    pub fn default_max_connections(open_files: u64) -> usize {
        let half = usize::try_from(open_files / 2).unwrap_or(usize::MAX);
        Self::DEFAULT_MAX_CONNECTIONS.min(half).max(1)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// What the front turned away, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connections answered 503 at the cap.
    pub refused: AtomicU64,
    /// Connections closed after waiting longer than the idle timeout.
    pub idle_timeouts: AtomicU64,
    /// Requests whose head took longer than the header timeout.
    pub header_timeouts: AtomicU64,
    /// Requests whose body stalled for longer than the body timeout.
    pub body_timeouts: AtomicU64,
}

impl Counters {
    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The HTTP front's settings and state, shared by every connection.
#[derive(Debug)]
pub struct Front {
    pub limits: Limits,
    /// Whose `X-Forwarded-For` is believed ([`crate::forwarded`]).
    pub trusted_proxies: TrustedProxies,
    pub counters: Counters,
    /// One permit per open connection.
    pub(crate) slots: Arc<Semaphore>,
}

impl Front {
    pub fn new(limits: Limits, trusted_proxies: TrustedProxies) -> Self {
        let permits = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
        Front {
            limits,
            trusted_proxies,
            counters: Counters::default(),
            slots: Arc::new(Semaphore::new(permits)),
        }
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.limits
            .max_connections
            .saturating_sub(self.slots.available_permits())
    }
}

impl Default for Front {
    fn default() -> Self {
        Front::new(Limits::default(), TrustedProxies::default())
    }
}

/// Where a timer that fires at `current` should fire instead, if anywhere, to
/// fire between `wanted` and `wanted + slack`: `None` while it already does.
/// Moved, it goes to the far end, so that successive requests on a busy
/// keep-alive connection (`wanted` creeping forward) leave it alone for `slack`.
pub(crate) fn retarget(current: Instant, wanted: Instant, slack: Duration) -> Option<Instant> {
    let latest = deadline(wanted, slack);
    (current < wanted || current > latest).then_some(latest)
}

/// The longest a timer is set for: about 30 years, where tokio's `sleep` caps a
/// duration too. A longer timeout (`--idle-timeout 1e12s`) never fires either way.
const FOREVER: Duration = Duration::from_secs(30 * 365 * 86_400);

/// The instant `timeout` after `from`, a timeout too long for the clock cut to
/// [`FOREVER`]: `Instant + Duration` would panic past the clock's range. (30
/// years on from a monotonic clock that counts from boot always fits.)
pub(crate) fn deadline(from: Instant, timeout: Duration) -> Instant {
    from.checked_add(timeout.min(FOREVER)).unwrap_or(from)
}

/// How late the short path's timer may fire: a sixteenth of its timeout.
pub(crate) fn slack(timeout: Duration) -> Duration {
    timeout.checked_div(16).unwrap_or_default()
}

/// The answer to a request head that took too long: written straight to the socket
/// by either path, then the connection is closed.
pub(crate) const HEADER_TIMEOUT_RESPONSE: &[u8] = b"HTTP/1.1 408 Request Timeout\r\n\
content-type: application/json\r\n\
x-amzn-errortype: RequestTimeoutException\r\n\
connection: close\r\n\
content-length: 71\r\n\
\r\n\
{\"message\":\"the request head did not arrive within the header timeout\"}";

/// The answer to a connection past the cap (botocore retries a 503).
pub(crate) const BUSY_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
x-amzn-errortype: ServiceUnavailableException\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 60\r\n\
\r\n\
{\"message\":\"onair is serving as many connections as it may\"}";

/// A request body that stalled for longer than the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body stalled for longer than the body timeout")]
pub struct BodyTimeout;

/// A request body whose frames must follow one another within a timeout: the wait
/// for each frame starts when the reader asks for it (so a handler that decides
/// before reading — SigV4, Basic auth — is not timed), and past it the body ends
/// with [`BodyTimeout`].
pub struct TimedBody<B> {
    inner: B,
    timeout: Duration,
    /// The wait for the next frame, armed while one is pending.
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
    front: Arc<Front>,
}

impl<B> TimedBody<B> {
    pub fn new(inner: B, front: Arc<Front>) -> Self {
        TimedBody {
            inner,
            timeout: front.limits.body_timeout,
            timer: None,
            armed: false,
            front,
        }
    }
}

impl<B> Body for TimedBody<B>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.armed = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let deadline = deadline(Instant::now(), this.timeout);
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if !this.armed {
                    timer.as_mut().reset(deadline);
                    this.armed = true;
                }
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                Counters::count(&this.front.counters.body_timeouts);
                Poll::Ready(Some(Err(Box::new(BodyTimeout))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> fmt::Debug for TimedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimedBody")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why a request body could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("request bodies here are limited to {0} bytes")]
    TooLarge(usize),
    #[error("the request body stalled for longer than the body timeout")]
    TimedOut,
    #[error("cannot read the request body: {0}")]
    Broken(String),
}

impl BodyError {
    /// The AWS-shaped answer (413, 408 or 400), which closes the connection: the
    /// rest of the body is not read.
    pub fn into_api_error(self) -> ApiError {
        let (status, code) = match &self {
            BodyError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLargeException"),
            BodyError::TimedOut => (StatusCode::REQUEST_TIMEOUT, "RequestTimeoutException"),
            BodyError::Broken(_) => (StatusCode::BAD_REQUEST, "BadRequestException"),
        };
        ApiError::new(status, code, self.to_string()).closing()
    }
}

/// The declared `Content-Length`, when there is one that parses.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether the request has a body still to read: a non-zero `Content-Length` or a
/// `Transfer-Encoding`.
pub fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING) || content_length(headers).unwrap_or(0) > 0
}

/// Refuses a body whose `Content-Length` exceeds `limit` before reading any of it.
pub fn check_declared(headers: &HeaderMap, limit: usize) -> Result<(), BodyError> {
    match content_length(headers) {
        Some(n) if n > limit as u64 => Err(BodyError::TooLarge(limit)),
        _ => Ok(()),
    }
}

/// Reads a whole request body of at most `limit` bytes.
pub async fn read_body(body: axum::body::Body, limit: usize) -> Result<Bytes, BodyError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&*e);
            while let Some(err) = cause {
                if err.is::<http_body_util::LengthLimitError>() {
                    return Err(BodyError::TooLarge(limit));
                }
                if err.is::<BodyTimeout>() {
                    return Err(BodyError::TimedOut);
                }
                cause = err.source();
            }
            Err(BodyError::Broken(e.to_string()))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn canned_responses_say_their_length() {
        for canned in [HEADER_TIMEOUT_RESPONSE, BUSY_RESPONSE] {
            let text = std::str::from_utf8(canned).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .unwrap();
            assert_eq!(length.parse::<usize>().unwrap(), body.len(), "{text}");
            assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
        }
    }

    #[test]
    fn timers_move_only_out_of_their_window() {
        let t0 = Instant::now();
        let slack = Duration::from_secs(1);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // Too early or too late: to the far end of the window.
        assert_eq!(retarget(at(0), at(10_000), slack), Some(at(11_000)));
        assert_eq!(retarget(at(60_000), at(10_000), slack), Some(at(11_000)));
        // Within it: left alone, as the wanted time creeps forward.
        for wanted in [10_000, 10_400, 11_000] {
            assert_eq!(retarget(at(11_000), at(wanted), slack), None, "{wanted}");
        }
        assert_eq!(retarget(at(11_000), at(11_001), slack), Some(at(12_001)));
    }

    #[test]
    fn timeouts_too_long_for_the_clock_are_cut_not_overflowed() {
        let t0 = Instant::now();
        let year = Duration::from_secs(365 * 86_400);
        assert_eq!(
            deadline(t0, Duration::from_secs(10)),
            t0 + Duration::from_secs(10)
        );
        assert_eq!(deadline(t0, FOREVER), t0 + FOREVER);
        assert_eq!(deadline(t0, Duration::MAX), t0 + FOREVER);
        assert!(deadline(t0, Duration::MAX) > t0 + 29 * year);
        let past_forever = t0 + FOREVER + Duration::from_secs(1);
        assert_eq!(
            retarget(past_forever, t0, Duration::MAX),
            Some(t0 + FOREVER)
        );
        assert_eq!(slack(Duration::from_secs(16)), Duration::from_secs(1));
        assert_eq!(slack(Duration::MAX), Duration::MAX / 16);
    }

    #[test]
    fn default_cap_follows_the_open_file_limit() {
        assert_eq!(Limits::default_max_connections(1 << 20), 8192);
        assert_eq!(Limits::default_max_connections(4096), 2048);
        assert_eq!(Limits::default_max_connections(0), 1);
    }

    #[tokio::test]
    async fn bodies_are_bounded_and_classified() {
        let body = |n: usize| axum::body::Body::from(vec![7u8; n]);
        assert_eq!(read_body(body(10), 10).await.unwrap().len(), 10);
        assert_eq!(read_body(body(11), 10).await, Err(BodyError::TooLarge(10)));
        let mut headers = HeaderMap::new();
        assert!(!has_body(&headers));
        headers.insert(header::CONTENT_LENGTH, "11".parse().unwrap());
        assert!(has_body(&headers));
        assert_eq!(check_declared(&headers, 10), Err(BodyError::TooLarge(10)));
        assert_eq!(check_declared(&headers, 11), Ok(()));
        let e = BodyError::TooLarge(10).into_api_error();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(e.close);
    }

    #[tokio::test]
    async fn a_stalled_body_times_out() {
        let front = Arc::new(Front::new(
            Limits {
                body_timeout: Duration::from_millis(100),
                ..Limits::default()
            },
            TrustedProxies::default(),
        ));
        // A body that sends one frame and then nothing.
        let trickle = Trickle {
            frames: [Bytes::from_static(b"a")].into(),
        };
        let body = axum::body::Body::new(TimedBody::new(trickle, front.clone()));
        let started = std::time::Instant::now();
        assert_eq!(read_body(body, 100).await, Err(BodyError::TimedOut));
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(front.counters.body_timeouts.load(Ordering::Relaxed), 1);
    }

    /// A body of some frames, then pending for ever.
    struct Trickle {
        frames: std::collections::VecDeque<Bytes>,
    }

    impl Body for Trickle {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            match self.get_mut().frames.pop_front() {
                Some(b) => Poll::Ready(Some(Ok(Frame::data(b)))),
                None => Poll::Pending,
            }
        }
    }
}
