//! `onair demo`'s controls and SNS subscriber, on the dashboard.
//!
//! Only a server started by `onair demo` has them: the demo registers a
//! [`Demo`] in [`AppState::demo`](crate::AppState) after it started its
//! test encoders. Then:
//!
//! | method | path | what |
//! |---|---|---|
//! | POST | `/dashboard/api/demo/primary/{action}` | `stop`, `black`, `silence`, `freeze` or `restore` the primary encoder |
//! | POST | `/dashboard/api/demo/sns` | the demo's SNS subscriber: an `http` subscription of the demo's topic |
//!
//! and the dashboard's snapshot carries a `demo` section ([`View`]): the
//! primary encoder's state and the notifications the subscriber received,
//! newest first.
//!
//! Like the rest of the dashboard these routes take no AWS signature; the demo
//! listens on loopback unless told otherwise. A control needs the header
//! `X-Onair-Demo: 1`, which a page of another origin cannot send without a
//! CORS preflight that onair never grants, so a web page elsewhere cannot
//! press the buttons.
//!
//! The subscriber does what any SNS http subscriber does: it confirms a
//! `SubscriptionConfirmation` by fetching its `SubscribeURL`, and keeps each
//! `Notification`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::Value;

/// What the dashboard's buttons do to the primary encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Sends nothing: the flow loses its source.
    Stop,
    /// A black picture.
    Black,
    /// No sound.
    Silence,
    /// The picture stops moving.
    Freeze,
    /// Back to the moving pattern and its tone.
    Restore,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Stop,
        Action::Black,
        Action::Silence,
        Action::Freeze,
        Action::Restore,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Stop => "stop",
            Action::Black => "black",
            Action::Silence => "silence",
            Action::Freeze => "freeze",
            Action::Restore => "restore",
        }
    }

    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// The demo's encoders, as the dashboard drives them.
pub trait Encoders: Send + Sync {
    /// Applies `action` to the primary encoder.
    fn apply(&self, action: Action) -> Result<(), String>;
    /// The primary encoder's state in words (`sending`, `stopped`, `black`…).
    fn primary_state(&self) -> String;
}

/// How many notifications the subscriber keeps.
pub const INBOX: usize = 20;

/// One SNS message the demo's subscriber received.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Received {
    /// `Notification` or `SubscriptionConfirmation`.
    pub kind: String,
    pub subject: Option<String>,
    /// The alarm's name and new state when the message is a CloudWatch alarm's.
    pub alarm: Option<String>,
    pub state: Option<String>,
    /// The message; for an alarm's, its `NewStateReason`.
    pub message: String,
    /// The message's `Timestamp` (ISO 8601).
    pub timestamp: String,
}

/// The demo's section of the dashboard snapshot.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct View {
    pub primary: String,
    pub actions: Vec<&'static str>,
    /// Newest first.
    pub notifications: Vec<Received>,
    /// The subscriber's URL (the `http` subscription's endpoint).
    pub subscriber: String,
}

/// The demo's hooks, registered once in [`crate::AppState::demo`].
pub struct Demo {
    encoders: Arc<dyn Encoders>,
    inbox: Mutex<VecDeque<Received>>,
    subscriber: String,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("subscriber", &self.subscriber)
            .finish_non_exhaustive()
    }
}

/// The subscriber's path on the API port.
pub const SNS_PATH: &str = "/dashboard/api/demo/sns";
const CONTROL_PREFIX: &str = "/dashboard/api/demo/primary/";

impl Demo {
    /// `endpoint` is the server's base URL (`http://127.0.0.1:8080`).
    pub fn new(encoders: Arc<dyn Encoders>, endpoint: &str) -> Demo {
        Demo {
            encoders,
            inbox: Mutex::new(VecDeque::new()),
            subscriber: format!("{}{SNS_PATH}", endpoint.trim_end_matches('/')),
        }
    }

    /// The URL to subscribe (protocol `http`) to the demo's topic.
    pub fn subscriber_url(&self) -> &str {
        &self.subscriber
    }

    pub fn view(&self) -> View {
        View {
            primary: self.encoders.primary_state(),
            actions: Action::ALL.iter().map(|a| a.name()).collect(),
            notifications: self.inbox().into_iter().collect(),
            subscriber: self.subscriber.clone(),
        }
    }

    /// What the subscriber received, newest first.
    pub fn inbox(&self) -> VecDeque<Received> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn keep(&self, r: Received) {
        let mut inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        inbox.push_front(r);
        inbox.truncate(INBOX);
    }
}

/// A demo path: a control or the subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Control(Option<Action>),
    Subscriber,
}

/// Recognises the demo's paths (whether or not this server runs the demo).
pub fn route(path: &str) -> Option<Route> {
    if path == SNS_PATH {
        return Some(Route::Subscriber);
    }
    path.strip_prefix(CONTROL_PREFIX)
        .map(|name| Route::Control(Action::parse(name)))
}

/// The largest SNS message body the subscriber reads (SNS messages are at most 256 KiB).
const MAX_BODY: usize = 300 * 1024;

/// Answers a demo request; 404 when the server is not `onair demo`.
pub async fn handle(demo: Option<&Arc<Demo>>, route: Route, req: Request) -> Response {
    let Some(demo) = demo else {
        return plain(
            StatusCode::NOT_FOUND,
            "not found: this server is not `onair demo`\n",
        );
    };
    if req.method() != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            "POST only\n",
        )
            .into_response();
    }
    match route {
        Route::Control(action) => control(demo, action, req.headers()),
        Route::Subscriber => {
            let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
                Ok(b) => b,
                Err(_) => {
                    return plain(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "an SNS message is at most 256 KiB\n",
                    )
                }
            };
            subscriber(demo, &body).await
        }
    }
}

fn control(demo: &Demo, action: Option<Action>, headers: &HeaderMap) -> Response {
    if headers.get("x-onair-demo").and_then(|v| v.to_str().ok()) != Some("1") {
        return plain(
            StatusCode::FORBIDDEN,
            "a demo control needs the header X-Onair-Demo: 1 (the dashboard sends it)\n",
        );
    }
    let Some(action) = action else {
        let names: Vec<_> = Action::ALL.iter().map(|a| a.name()).collect();
        return plain(
            StatusCode::NOT_FOUND,
            &format!(
                "no such control; the primary encoder takes: {}\n",
                names.join(", ")
            ),
        );
    };
    match demo.encoders.apply(action) {
        Ok(()) => {
            tracing::info!(action = action.name(), "demo: primary encoder");
            (
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::json!({ "primary": demo.encoders.primary_state() }).to_string(),
            )
                .into_response()
        }
        Err(e) => plain(StatusCode::CONFLICT, &format!("{e}\n")),
    }
}

async fn subscriber(demo: &Demo, body: &[u8]) -> Response {
    let Ok(msg) = serde_json::from_slice::<Value>(body) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "the body is not an SNS JSON message\n",
        );
    };
    let field = |k: &str| msg.get(k).and_then(Value::as_str).map(str::to_owned);
    let kind = field("Type").unwrap_or_default();
    let message = field("Message").unwrap_or_default();
    // A CloudWatch alarm's message is JSON with its name and new state.
    let alarm: Option<Value> = serde_json::from_str(&message).ok();
    let alarm_field = |k: &str| {
        alarm
            .as_ref()
            .and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    // An alarm's message is long JSON: its reason is what the page shows.
    let message = alarm_field("NewStateReason").unwrap_or(message);
    let received = Received {
        kind: kind.clone(),
        subject: field("Subject"),
        alarm: alarm_field("AlarmName"),
        state: alarm_field("NewStateValue"),
        message,
        timestamp: field("Timestamp").unwrap_or_default(),
    };
    match kind.as_str() {
        "SubscriptionConfirmation" => {
            let Some(url) = field("SubscribeURL") else {
                return plain(StatusCode::BAD_REQUEST, "SubscribeURL is missing\n");
            };
            demo.keep(received);
            // Confirmed as any subscriber does: by fetching the URL, after
            // this answer (SNS waits for it before it counts the delivery).
            tokio::spawn(async move {
                if let Err(e) = fetch(&url).await {
                    tracing::warn!(%url, error = %e, "demo: cannot confirm the SNS subscription");
                }
            });
        }
        "Notification" => demo.keep(received),
        _ => {}
    }
    StatusCode::OK.into_response()
}

/// GET `url` (http only: the demo's own server).
async fn fetch(url: &str) -> Result<(), String> {
    let uri: axum::http::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<axum::body::Bytes>>();
    let req = axum::http::Request::get(uri)
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let res = tokio::time::timeout(std::time::Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let _ = res.into_body().collect().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from(text.to_owned()),
    )
        .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct Fake(Mutex<Vec<Action>>);

    impl Encoders for Fake {
        fn apply(&self, action: Action) -> Result<(), String> {
            self.0.lock().unwrap().push(action);
            Ok(())
        }
        fn primary_state(&self) -> String {
            self.0
                .lock()
                .unwrap()
                .last()
                .map_or("sending".into(), |a| a.name().into())
        }
    }

    fn demo() -> (Arc<Demo>, Arc<Fake>) {
        let fake = Arc::new(Fake(Mutex::new(Vec::new())));
        (
            Arc::new(Demo::new(fake.clone(), "http://127.0.0.1:8080/")),
            fake,
        )
    }

    fn post(path: &str, demo_header: bool, body: &str) -> Request {
        let mut b = axum::http::Request::post(path);
        if demo_header {
            b = b.header("x-onair-demo", "1");
        }
        b.body(Body::from(body.to_owned())).unwrap()
    }

    #[test]
    fn routes() {
        assert_eq!(route(SNS_PATH), Some(Route::Subscriber));
        assert_eq!(
            route("/dashboard/api/demo/primary/black"),
            Some(Route::Control(Some(Action::Black)))
        );
        assert_eq!(
            route("/dashboard/api/demo/primary/explode"),
            Some(Route::Control(None))
        );
        assert_eq!(route("/dashboard/api/snapshot"), None);
    }

    #[tokio::test]
    async fn controls_need_the_demo_and_its_header() {
        let path = "/dashboard/api/demo/primary/stop";
        let r = handle(None, route(path).unwrap(), post(path, true, "")).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);

        let (d, fake) = demo();
        let r = handle(Some(&d), route(path).unwrap(), post(path, false, "")).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(fake.0.lock().unwrap().is_empty());

        let r = handle(Some(&d), route(path).unwrap(), post(path, true, "")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(*fake.0.lock().unwrap(), vec![Action::Stop]);
        assert_eq!(d.view().primary, "stop");

        let odd = "/dashboard/api/demo/primary/explode";
        let r = handle(Some(&d), route(odd).unwrap(), post(odd, true, "")).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn the_subscriber_keeps_alarm_notifications_newest_first() {
        let (d, _) = demo();
        for state in ["ALARM", "OK"] {
            let alarm = serde_json::json!({"AlarmName": "demo-bitrate", "NewStateValue": state})
                .to_string();
            let msg = serde_json::json!({
                "Type": "Notification", "Subject": format!("{state}: demo-bitrate"),
                "Message": alarm, "Timestamp": "2026-11-29T15:00:00.000Z"
            });
            let r = handle(
                Some(&d),
                Route::Subscriber,
                post(SNS_PATH, false, &msg.to_string()),
            )
            .await;
            assert_eq!(r.status(), StatusCode::OK);
        }
        let view = d.view();
        let states: Vec<_> = view
            .notifications
            .iter()
            .map(|n| n.state.clone().unwrap())
            .collect();
        assert_eq!(states, ["OK", "ALARM"]);
        assert_eq!(view.notifications[0].alarm.as_deref(), Some("demo-bitrate"));
        assert_eq!(
            view.subscriber,
            "http://127.0.0.1:8080/dashboard/api/demo/sns"
        );

        let r = handle(
            Some(&d),
            Route::Subscriber,
            post(SNS_PATH, false, "not json"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        for _ in 0..INBOX + 5 {
            let msg = serde_json::json!({"Type": "Notification", "Message": "x"}).to_string();
            handle(Some(&d), Route::Subscriber, post(SNS_PATH, false, &msg)).await;
        }
        assert_eq!(d.inbox().len(), INBOX);
    }
}
