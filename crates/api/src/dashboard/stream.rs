//! `GET /dashboard/api/stream`: the snapshot as Server-Sent Events.
//!
//! Every [`TICK`] the stream takes the shared snapshot ([`super::LiveView`])
//! and sends it as a `snapshot` event when its content changed since the last
//! one sent; after [`PING`] without a change it sends a `ping` event (the
//! server's time in unix ms), so the page can tell a quiet server from a lost
//! connection. The first event says `retry: 1000`: a browser reconnects one
//! second after losing the stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::AppState;

/// How often a stream looks at the snapshot.
pub const TICK: Duration = Duration::from_millis(500);
/// The longest a stream stays silent.
pub const PING: Duration = Duration::from_secs(5);

struct Follower {
    state: AppState,
    tick: Interval,
    sent_digest: Option<u64>,
    sent_at: Instant,
}

impl Follower {
    async fn next(&mut self) -> Event {
        loop {
            self.tick.tick().await;
            let built = self.state.dashboard.current(&self.state);
            if self.sent_digest != Some(built.digest) {
                let first = self.sent_digest.is_none();
                self.sent_digest = Some(built.digest);
                self.sent_at = Instant::now();
                let event = Event::default().event("snapshot").data(&*built.wire);
                return if first {
                    event.retry(Duration::from_secs(1))
                } else {
                    event
                };
            }
            if self.sent_at.elapsed() >= PING {
                self.sent_at = Instant::now();
                return Event::default()
                    .event("ping")
                    .data(built.at.as_unix_millis().to_string());
            }
        }
    }
}

/// The event stream of one page.
pub fn follow(state: AppState) -> Response {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let follower = Follower {
        state,
        tick,
        sent_digest: None,
        sent_at: Instant::now(),
    };
    let events = futures_util::stream::unfold(follower, |mut f| async move {
        let event = f.next().await;
        Some((Ok::<_, Infallible>(event), f))
    });
    let mut resp = Sse::new(events).into_response();
    // Proxies (nginx) must pass each event on at once.
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}
