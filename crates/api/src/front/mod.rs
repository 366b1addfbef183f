//! The HTTP/1.1 front on the one port: origin GETs on a short path of their own,
//! everything else through hyper and the [router](crate::router).
//!
//! Viewers are where a live event's load lands, and nearly all of it is two kinds of
//! request: a media playlist every few seconds and a segment. Each connection starts
//! here. Its request heads are read and parsed ([`httparse`]); while they are
//! `GET`/`HEAD` of `/out/v1/…` that the origin can answer (200, 206, 304, 416), the
//! answer ([`origin::answer`], the same decision hyper's path makes) is written
//! straight to the socket:
//!
//! - the response head is formatted into one reusable buffer, with the headers the
//!   other path sends (`Content-Type`, `Cache-Control`, `ETag`, `Accept-Ranges`,
//!   CORS, `Content-Range`, `Content-Length`, `x-amzn-RequestId`, `Date`);
//! - a playlist goes out in the same `write` as its head;
//! - a segment kept in a file of its own ([`package::body`]) goes out with
//!   `sendfile(2)` after its head (sent with `MSG_MORE`, so that they leave in
//!   full-sized packets): the kernel hands the file's pages to the socket, as nginx
//!   does with `sendfile on` and `tcp_nopush on`, and the bytes are never copied
//!   through user space.
//!
//! Anything else — another method or path, an error answer (404, 403), HTTP/1.0, a
//! body, `Upgrade`, a head that does not parse or is larger than [`MAX_HEAD`] — hands
//! the connection to hyper for the rest of its life, with the bytes read so far put
//! back in front of the stream. hyper then answers that request from the start, so
//! behaviour is defined in one place and this path only makes the common case fast.
//! Keep-alive and pipelining work on both.
//!
//! Both paths keep the [limits]: an idle timeout between requests, a header timeout
//! from a request's first byte to the end of its head, a body timeout between reads
//! of a body, and a cap on open connections, checked at accept (past it, a
//! connection is answered 503 and closed, which costs one `write`). The short
//! path has one timer per connection, moved only when it would fire outside a
//! window of a sixteenth of the timeout, so a busy keep-alive connection does not
//! re-arm a timer per request. onair speaks HTTP/1.1 only (no HTTP/2, so no
//! stream limits to set).

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use bytes::{Buf as _, BytesMut};
use package::body::Body;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, Interest};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::origin::{self, Answer, Ask, OriginPath, Side};
use crate::AppState;

mod handover;
pub mod limits;

pub use limits::{Counters, Front, Limits};

/// The largest request head the short path reads before handing over to hyper
/// (which answers 431 past its own limit).
pub const MAX_HEAD: usize = 16 * 1024;

/// Headers the short path parses; more hands over to hyper.
const MAX_HEADERS: usize = 40;

/// Bodies up to this size go out in one write with their head.
const INLINE_BODY: usize = 64 * 1024;

/// Serves the API, the origin, the player and everything else on `listener` until
/// the process ends. Every accepted connection gets `TCP_NODELAY` (responses go out
/// as soon as they are written, as nginx does) and its own task, while there are
/// fewer than [`Limits::max_connections`]; past that it is answered 503 and closed.
pub async fn serve(listener: TcpListener, state: AppState) {
    let app = crate::router(state.clone());
    // Whether the cap has been reached since the last connection was taken (to
    // warn once per episode, not once per refused connection).
    let full = AtomicBool::new(false);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors or memory: wait rather than spin.
                tracing::warn!("cannot accept an HTTP connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = state.front.slots.clone().try_acquire_owned() else {
            refuse(&stream, &state.front, &full);
            continue;
        };
        full.store(false, Ordering::Relaxed);
        if let Err(e) = stream.set_nodelay(true) {
            tracing::trace!("cannot set TCP_NODELAY: {e}");
        }
        let (state, app) = (state.clone(), app.clone());
        tokio::spawn(async move {
            if let Err(e) = connection(stream, peer, &state, app).await {
                tracing::trace!(%peer, "HTTP connection ended: {e}");
            }
            drop(permit);
        });
    }
}

/// Answers a connection past the cap with 503 (one non-blocking `write`; a client
/// that has not read it yet may see a reset instead) and closes it.
fn refuse(stream: &TcpStream, front: &Front, full: &AtomicBool) {
    Counters::count(&front.counters.refused);
    if !full.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "{} HTTP connections are open, the most allowed (--max-connections): refusing more",
            front.limits.max_connections
        );
    }
    let _ = stream.try_write(limits::BUSY_RESPONSE);
}

/// Raises the soft limit of open files to the hard limit and returns it. Every
/// viewer's connection and every stored segment's file ([`package::body`])
/// is a descriptor; the usual soft limit of 1024 would cap an origin at a few
/// hundred viewers. Call once at start, before the first segment is stored.
pub fn raise_open_file_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!("cannot raise the open-file limit: {e}");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// What to do with the bytes buffered so far.
enum Step {
    /// The head is not complete: read more.
    Read,
    /// Answer on the short path; `consumed` bytes were the request.
    Answer {
        answer: Answer,
        consumed: usize,
        close: bool,
        route: Box<OriginPath>,
    },
    /// Not for the short path: hyper takes the connection.
    HandOver,
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    state: &AppState,
    app: Router,
) -> io::Result<()> {
    let limits = state.front.limits;
    let mut input = BytesMut::with_capacity(2048);
    let mut head = Vec::with_capacity(512);
    // When the first bytes of the head in `input` arrived (`None`: none yet).
    let mut head_from: Option<Instant> = None;
    let (idle_slack, header_slack) = (
        limits::slack(limits.idle_timeout),
        limits::slack(limits.header_timeout),
    );
    let timer = tokio::time::sleep_until(limits::deadline(
        Instant::now(),
        limits.idle_timeout.saturating_add(idle_slack),
    ));
    tokio::pin!(timer);
    loop {
        match step(&input, peer, state) {
            Step::Read => {
                let now = Instant::now();
                let (wanted, slack) = if input.is_empty() {
                    (limits::deadline(now, limits.idle_timeout), idle_slack)
                } else {
                    let from = *head_from.get_or_insert(now);
                    (limits::deadline(from, limits.header_timeout), header_slack)
                };
                if let Some(deadline) = limits::retarget(timer.deadline(), wanted, slack) {
                    timer.as_mut().reset(deadline);
                }
                tokio::select! {
                    biased;
                    read = stream.read_buf(&mut input) => {
                        if read? == 0 {
                            return Ok(()); // closed between requests (or mid-head)
                        }
                    }
                    () = &mut timer => return timed_out(stream, &input, &state.front).await,
                }
            }
            Step::HandOver => {
                let from = head_from.unwrap_or_else(Instant::now);
                let front = state.front.clone();
                return handover::hand_over(stream, input.freeze(), from, peer, app, front).await;
            }
            Step::Answer {
                answer,
                consumed,
                close,
                route,
            } => {
                let started = std::time::Instant::now();
                input.advance(consumed);
                head_from = None;
                write_answer(&mut stream, &answer, close, &mut head).await?;
                state.origin.traffic().egress(
                    &route.channel_id,
                    &route.endpoint_id,
                    answer.status.as_u16(),
                    answer.send.len() as u64,
                    started.elapsed(),
                );
                if close {
                    return stream.shutdown().await;
                }
                if input.capacity() > 4 * MAX_HEAD {
                    input = BytesMut::from(&input[..]); // give back a burst's memory
                }
            }
        }
    }
}

/// Ends a connection whose wait ran out: idle (nothing of a next request), closed
/// at once; mid-head, answered 408 first.
async fn timed_out(mut stream: TcpStream, input: &[u8], front: &Front) -> io::Result<()> {
    if input.is_empty() {
        Counters::count(&front.counters.idle_timeouts);
    } else {
        Counters::count(&front.counters.header_timeouts);
        // Best effort: the socket's buffer has room for a few lines.
        let _ = stream.try_write(limits::HEADER_TIMEOUT_RESPONSE);
    }
    stream.shutdown().await
}

/// Parses the head in `input`, if complete, and decides whether and what the short
/// path answers.
fn step(input: &[u8], peer: SocketAddr, state: &AppState) -> Step {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(input) {
        Ok(httparse::Status::Complete(consumed)) => match short(&req, peer, state) {
            Some((answer, close, route)) => Step::Answer {
                answer,
                consumed,
                close,
                route: Box::new(route),
            },
            None => Step::HandOver,
        },
        Ok(httparse::Status::Partial) if input.len() < MAX_HEAD => Step::Read,
        _ => Step::HandOver,
    }
}

/// The origin's answer to `req` and whether to close after it, or `None` when hyper
/// should take it.
fn short(
    req: &httparse::Request<'_, '_>,
    peer: SocketAddr,
    state: &AppState,
) -> Option<(Answer, bool, OriginPath)> {
    let head = match req.method? {
        "GET" => false,
        "HEAD" => true,
        _ => return None,
    };
    if req.version? != 1 {
        return None;
    }
    let target = req.path?;
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    if !path.starts_with('/') {
        return None;
    }
    let route = origin::route(path).filter(|r| r.side == Side::Out)?;
    let forwarded_for = req
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("x-forwarded-for"))
        .filter_map(|h| std::str::from_utf8(h.value).ok());
    let mut ask = Ask {
        head,
        client: state.front.trusted_proxies.client(peer.ip(), forwarded_for),
        ..Ask::default()
    };
    let mut close = false;
    for h in req.headers.iter() {
        let value = || std::str::from_utf8(h.value).ok();
        let name = h.name;
        if name.eq_ignore_ascii_case("if-none-match") {
            ask.if_none_match.push(value()?);
        } else if name.eq_ignore_ascii_case("range") {
            ask.range = ask.range.or(value());
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value()?.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("upgrade") {
                    return None;
                }
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            if value()?.trim() != "0" {
                return None;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("upgrade")
            || name.eq_ignore_ascii_case("expect")
        {
            return None;
        }
    }
    let answer = origin::answer(&state.cp, &state.origin, &route, &ask).ok()?;
    Some((answer, close, route))
}

/// Writes `answer`: its head, then its bytes (with the head for memory, with
/// `sendfile` for a segment file).
async fn write_answer(
    stream: &mut TcpStream,
    answer: &Answer,
    close: bool,
    head: &mut Vec<u8>,
) -> io::Result<()> {
    format_head(answer, close, head);
    let send = answer.send.clone();
    match &answer.body {
        _ if send.is_empty() => stream.write_all(head).await,
        Body::File(file) => {
            // The head waits (MSG_MORE) for the file's bytes, and `sendfile` marks
            // all but its last chunk the same way, so the response leaves in
            // full-sized packets, as nginx's `tcp_nopush` does with TCP_CORK in two
            // more system calls. Sent alone (TCP_NODELAY), the head costs a packet
            // and the receiver a wake-up of its own: measured, half the requests/s.
            send_more(stream, head).await?;
            send_file(stream, file.file(), send).await
        }
        Body::Memory(bytes) => {
            let part = bytes.get(send).unwrap_or_default();
            if part.len() <= INLINE_BODY {
                head.extend_from_slice(part);
                stream.write_all(head).await
            } else {
                stream.write_all(head).await?;
                stream.write_all(part).await
            }
        }
    }
}

/// The status line and headers of `answer` into `out`.
fn format_head(answer: &Answer, close: bool, out: &mut Vec<u8>) {
    out.clear();
    // Writes into a Vec do not fail.
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncache-control: ",
        answer.status.as_str(),
        answer.status.canonical_reason().unwrap_or(""),
        answer.content_type,
    );
    answer.cache.write(out);
    out.extend_from_slice(b"\r\netag: ");
    out.extend_from_slice(&answer.etag);
    out.extend_from_slice(b"\r\naccept-ranges: bytes\r\naccess-control-allow-origin: *\r\n");
    if let Some(range) = &answer.content_range {
        let _ = write!(out, "content-range: {range}\r\n");
    }
    if let Some(n) = answer.content_length {
        let _ = write!(out, "content-length: {n}\r\n");
    }
    if close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    let _ = write!(out, "x-amzn-requestid: {}\r\ndate: ", crate::request_id());
    http_date(out);
    out.extend_from_slice(b"\r\n\r\n");
}

/// The current time as an HTTP date (RFC 9110 §5.6.7, `Sun, 06 Nov 1994 08:49:37
/// GMT`), formatted once a second per thread.
fn http_date(out: &mut Vec<u8>) {
    thread_local! {
        static CACHE: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let now = time::OffsetDateTime::now_utc();
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != now.unix_timestamp() {
            const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            let day = DAYS
                .get(usize::from(now.weekday().number_days_from_monday()))
                .unwrap_or(&"Mon");
            let month = MONTHS
                .get(usize::from(u8::from(now.month())).saturating_sub(1))
                .unwrap_or(&"Jan");
            *cache = (
                now.unix_timestamp(),
                format!(
                    "{day}, {:02} {month} {} {:02}:{:02}:{:02} GMT",
                    now.day(),
                    now.year(),
                    now.hour(),
                    now.minute(),
                    now.second()
                ),
            );
        }
        out.extend_from_slice(cache.1.as_bytes());
    });
}

/// Sends `data` with `MSG_MORE`: the kernel holds a short tail for what follows.
async fn send_more(stream: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        stream.writable().await?;
        let sent = stream.try_io(Interest::WRITABLE, || {
            rustix::net::send(stream, data, rustix::net::SendFlags::MORE).map_err(io::Error::from)
        });
        match sent {
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends bytes `range` of `file` with `sendfile(2)`.
async fn send_file(
    stream: &TcpStream,
    file: &File,
    range: std::ops::Range<usize>,
) -> io::Result<()> {
    let mut offset = range.start as u64;
    let end = range.end as u64;
    while offset < end {
        stream.writable().await?;
        let count = usize::try_from(end.saturating_sub(offset)).unwrap_or(usize::MAX);
        let sent = stream.try_io(Interest::WRITABLE, || {
            rustix::fs::sendfile(stream, file, Some(&mut offset), count).map_err(io::Error::from)
        });
        match sent {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The body of the `http_head` fuzz target (and of a property test): `data` as the
/// bytes buffered on a connection of a server with one packaging channel and one
/// origin endpoint. Whatever the bytes, deciding what to do must not panic, and an
/// answer never consumes more than was read.
pub fn fuzz_head(data: &[u8]) {
    static STATE: std::sync::OnceLock<Option<AppState>> = std::sync::OnceLock::new();
    let state = STATE.get_or_init(|| {
        let store = control::store::Store::in_memory().ok()?;
        let cp = control::ControlPlane::with_store(store, control::Settings::default());
        cp.create_package_channel("us-west-2", &serde_json::json!({"id": "live"}))
            .ok()?;
        cp.create_origin_endpoint(
            "us-west-2",
            &serde_json::json!({"id": "ep", "channelId": "live", "hlsPackage": {}}),
        )
        .ok()?;
        Some(AppState::standalone(cp, 1000))
    });
    let Some(state) = state else { return };
    let peer = SocketAddr::from(([127, 0, 0, 1], 40000));
    if let Step::Answer { consumed, .. } = step(data, peer, state) {
        assert!(consumed <= data.len());
    }
}

#[cfg(test)]
mod tests;
