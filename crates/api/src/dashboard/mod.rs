//! The operator dashboard: the page kept open during an event, on the API port.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET, HEAD | `/` (without AWS authentication) | the page (`web/dashboard/index.html`) |
//! | GET, HEAD | `/dashboard/assets/{name}` | its scripts and styles, hls.js, uPlot ([`crate::assets`]) |
//! | GET | `/dashboard/api/snapshot` | the [`Snapshot`] as JSON, with `at` (unix ms) |
//! | GET | `/dashboard/api/stream` | Server-Sent Events: `snapshot` events (the same JSON) when it changed, `ping` every 5 s otherwise |
//! | GET | `/dashboard/api/history` | the last 5 minutes of the charted metrics, 1-second points |
//!
//! Like the player and the origin these routes are public: no SigV4. A
//! request to `/` that carries AWS authentication (an `Authorization` or
//! `X-Amz-Target` header, a presigned query) is an API call and goes on to
//! the AWS dispatcher, as do other methods than GET and HEAD.
//!
//! # Model
//!
//! One [`LiveView`] per server keeps the latest built snapshot; every reader
//! (each open page's stream, the JSON route) takes it when it is younger
//! than [`REBUILD`], so the control plane and the monitor are read at most
//! four times a second however many pages are open. Each stream looks every
//! [`stream::TICK`] and sends only when the snapshot's content changed. A
//! source stops being `connected` within a second of its last packet, so a
//! failure reaches the page within about 1.8 s.

mod history;
mod metrics;
pub mod snapshot;
mod stream;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash as _, Hasher as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use monitor::Timestamp;

use crate::assets::{self, Asset};
use crate::AppState;

pub use snapshot::Snapshot;

/// How long a built snapshot is shared before the next reader builds anew.
pub const REBUILD: Duration = Duration::from_millis(250);

/// What a dashboard path asks for.
#[derive(Clone, Copy, Debug)]
pub enum Route {
    /// An embedded file; `None` when no file has that name (404).
    Asset(Option<&'static Asset>),
    Snapshot,
    Stream,
    History,
    /// Under `/dashboard/` but nothing there (404).
    Unknown,
}

/// Recognises the dashboard's paths; `None` leaves the request to the API.
pub fn route(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Option<Route> {
    match path {
        "/" if (method == Method::GET || method == Method::HEAD) && !aws_call(query, headers) => {
            Some(Route::Asset(assets::find("index.html")))
        }
        "/dashboard/api/snapshot" => Some(Route::Snapshot),
        "/dashboard/api/stream" => Some(Route::Stream),
        "/dashboard/api/history" => Some(Route::History),
        _ => {
            let rest = path.strip_prefix("/dashboard/")?;
            Some(match rest.strip_prefix("assets/") {
                // Only the table's names: nothing with a `/` can match.
                Some(name) => Route::Asset(assets::find(name).filter(|a| a.name != "index.html")),
                None => Route::Unknown,
            })
        }
    }
}

/// Whether a request carries AWS authentication (header or presigned query)
/// or names an AWS operation.
fn aws_call(query: Option<&str>, headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION)
        || headers.contains_key("x-amz-target")
        || query.is_some_and(|q| {
            q.split('&').any(|p| {
                let key = p.split('=').next().unwrap_or("");
                key == "Action" || key.starts_with("X-Amz-")
            })
        })
}

/// Answers one dashboard request.
pub async fn handle(state: &AppState, route: Route, req: Request) -> Response {
    let method = req.method();
    match route {
        Route::Asset(Some(asset)) => asset.serve(method, req.headers()),
        Route::Asset(None) | Route::Unknown => assets::not_found(req.uri().path()),
        _ if method != Method::GET => (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET")],
            "the dashboard's data is served to GET only\n",
        )
            .into_response(),
        Route::Snapshot => json(state.dashboard.current(state).wire.to_string()),
        Route::History => json(history::build(state, now())),
        Route::Stream => stream::follow(state.clone()),
    }
}

fn json(body: String) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// The wall clock, as the monitor counts time.
fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    Timestamp::from_unix_millis(ms)
}

/// A built snapshot as it goes out.
#[derive(Clone, Debug)]
pub struct Built {
    /// When it was built, as the server's clock reads.
    pub at: Timestamp,
    /// `{"at": <unix ms>, "flows": …}`.
    pub wire: Arc<str>,
    /// Hash of the content without `at`: equal digests, nothing new to send.
    pub digest: u64,
    made: Instant,
}

/// The latest snapshot, shared by every reader of one server (see the
/// [module docs](self)).
#[derive(Debug, Default)]
pub struct LiveView {
    latest: Mutex<Option<Built>>,
}

impl LiveView {
    /// The latest snapshot, built anew when the last is older than [`REBUILD`].
    pub fn current(&self, state: &AppState) -> Built {
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = latest.as_ref().filter(|b| b.made.elapsed() < REBUILD) {
            return b.clone();
        }
        let at = now();
        let mut snapshot = snapshot::build(&state.cp, &state.monitor, at);
        snapshot.demo = state.demo.get().map(|d| d.view());
        let built = encode(&snapshot, at);
        *latest = Some(built.clone());
        built
    }
}

/// The snapshot as JSON with `at` in front, and the digest of the rest.
pub fn encode(snapshot: &Snapshot, at: Timestamp) -> Built {
    let body = serde_json::to_string(snapshot).unwrap_or_else(|_| "{}".into());
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    let rest = body.strip_prefix('{').unwrap_or("}");
    let sep = if rest.starts_with('}') { "" } else { "," };
    Built {
        at,
        wire: format!("{{\"at\":{}{sep}{rest}", at.as_unix_millis()).into(),
        digest: hasher.finish(),
        made: Instant::now(),
    }
}

#[cfg(test)]
mod tests;
