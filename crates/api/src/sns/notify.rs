//! The [`Notifier`]: sends SNS messages to HTTP/S endpoints in the
//! background, with retries.
//!
//! Every message to every endpoint is its own tokio task: one POST per
//! attempt (connect timeout [`CONNECT_TIMEOUT`], whole-request timeout
//! [`ATTEMPT_TIMEOUT`]); a 2xx answer is a delivery, a 4xx other than 408 and
//! 429 a refusal that is not retried, anything else (another status, no
//! connection, no answer in time) is tried again on the [`RetryPolicy`].
//! Every failure is logged. At most [`MAX_IN_FLIGHT`] deliveries are under
//! way at once; past that, new ones are dropped with a warning rather than
//! queued without bound.
//!
//! HTTPS endpoints are reached with rustls (ring) and the Mozilla roots of
//! `webpki-roots`; the system's certificate store is not read.

use std::error::Error as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, Method, Request, Uri};
use bytes::Bytes;
use control::sns::model::{self, Subscription};
use control::ControlPlane;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use time::OffsetDateTime;

use super::message::{self, Delivery};
use super::retry::{self, Outcome, RetryPolicy};
use crate::ApiError;

/// How long connecting to an endpoint may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one attempt may take, from connecting to the answer's head.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// The most deliveries under way at once.
pub const MAX_IN_FLIGHT: usize = 1024;

const USER_AGENT: &str = concat!(
    "onair/",
    env!("CARGO_PKG_VERSION"),
    " (SNS HTTP/S delivery)"
);

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Publishes to SNS topics and talks to their subscribers. Cheap to clone.
///
/// ```no_run
/// # async fn demo(cp: std::sync::Arc<control::ControlPlane>) -> Result<(), api::ApiError> {
/// let notifier = api::sns::Notifier::new(cp);
/// // Inside a tokio runtime: returns at once, delivers in the background.
/// let message_id = notifier.publish(
///     "arn:aws:sns:us-west-2:000000000000:alarms",
///     Some("ALARM: flow loss"),
///     "{\"AlarmName\":\"flow-loss\",\"NewStateValue\":\"ALARM\"}",
/// )?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    cp: Arc<ControlPlane>,
    /// `Err` (why) when TLS could not be set up: every delivery then fails
    /// with that reason in the log.
    client: Result<HttpClient, String>,
    policy: RetryPolicy,
    in_flight: AtomicUsize,
}

fn client() -> Result<HttpClient, String> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(https))
}

/// Decrements the in-flight count when a delivery ends, however it ends.
struct InFlight(Arc<Inner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Notifier {
    /// A notifier reading topics and subscriptions from `cp`. It starts
    /// nothing: deliveries are spawned on the tokio runtime of the caller.
    pub fn new(cp: Arc<ControlPlane>) -> Notifier {
        let client = client();
        if let Err(e) = &client {
            tracing::error!("SNS deliveries will fail: {e}");
        }
        Notifier {
            inner: Arc::new(Inner {
                cp,
                client,
                policy: RetryPolicy::default(),
                in_flight: AtomicUsize::new(0),
            }),
        }
    }

    /// Publishes `message` (with an optional `subject`) to the topic: returns
    /// the MessageId at once and POSTs a Notification to every confirmed
    /// subscriber in the background, with retries. Call it inside a tokio
    /// runtime. Errors: the topic does not exist (`NotFound`), the message or
    /// subject breaks SNS's rules (`InvalidParameter`: a message of 1 byte to
    /// 256 KiB; a subject of 1–99 printable ASCII characters, which
    /// [`fit_subject`](super::message::fit_subject) makes of any text), no
    /// runtime (`InternalError`).
    pub fn publish(
        &self,
        topic_arn: &str,
        subject: Option<&str>,
        message: &str,
    ) -> Result<String, ApiError> {
        model::message(message).map_err(super::from_control)?;
        if let Some(s) = subject {
            model::subject(s).map_err(super::from_control)?;
        }
        let subscribers = self
            .inner
            .cp
            .sns_deliverable(topic_arn)
            .map_err(super::from_control)?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(super::internal(
                "SNS publish was called outside a tokio runtime",
            ));
        }
        let message_id = uuid::Uuid::new_v4().to_string();
        let now = OffsetDateTime::now_utc();
        let base = &self.inner.cp.settings.base_url;
        for sub in &subscribers {
            self.send(message::notification(
                base,
                sub,
                &message_id,
                subject,
                message,
                now,
            ));
        }
        tracing::debug!(
            topic = topic_arn,
            message_id,
            subscribers = subscribers.len(),
            "SNS message published"
        );
        Ok(message_id)
    }

    /// Sends `sub` its SubscriptionConfirmation (in the background).
    pub fn confirm(&self, sub: &Subscription) {
        let id = uuid::Uuid::new_v4().to_string();
        let base = &self.inner.cp.settings.base_url;
        self.send(message::confirmation(
            base,
            sub,
            &id,
            OffsetDateTime::now_utc(),
        ));
    }

    /// Tells the endpoint of a subscription that ended (in the background).
    pub fn unsubscribed(&self, sub: &Subscription) {
        let id = uuid::Uuid::new_v4().to_string();
        let base = &self.inner.cp.settings.base_url;
        self.send(message::unsubscribe_confirmation(
            base,
            sub,
            &id,
            OffsetDateTime::now_utc(),
        ));
    }

    /// Deliveries under way now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Acquire)
    }

    fn send(&self, delivery: Delivery) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!(
                endpoint = delivery.endpoint,
                "SNS {} not sent: no tokio runtime",
                delivery.kind.as_str()
            );
            return;
        };
        if self.inner.in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            self.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(
                endpoint = delivery.endpoint,
                message_id = delivery.message_id,
                "SNS {} dropped: {MAX_IN_FLIGHT} deliveries are already under way",
                delivery.kind.as_str()
            );
            return;
        }
        let guard = InFlight(self.inner.clone());
        runtime.spawn(async move {
            deliver(&guard.0, &delivery).await;
            drop(guard);
        });
    }
}

/// Sends one delivery until it is delivered, refused or the policy is spent.
async fn deliver(inner: &Inner, d: &Delivery) {
    let started = tokio::time::Instant::now();
    let mut failures: u32 = 0;
    loop {
        let why = match attempt(inner, d).await {
            Ok(status) => match retry::outcome(status) {
                Outcome::Delivered => {
                    tracing::debug!(
                        endpoint = d.endpoint,
                        message_id = d.message_id,
                        "SNS {} delivered ({status})",
                        d.kind.as_str()
                    );
                    return;
                }
                Outcome::Refused => {
                    tracing::warn!(
                        endpoint = d.endpoint,
                        message_id = d.message_id,
                        "SNS {} refused by the endpoint with HTTP {status}; not retried",
                        d.kind.as_str()
                    );
                    return;
                }
                Outcome::Retry => format!("HTTP {status}"),
            },
            Err(e) => e,
        };
        failures = failures.saturating_add(1);
        match inner.policy.next_delay(failures, started.elapsed()) {
            Some(delay) => {
                tracing::warn!(
                    endpoint = d.endpoint,
                    message_id = d.message_id,
                    attempt = failures,
                    "SNS {} failed ({why}); trying again in {delay:?}",
                    d.kind.as_str()
                );
                tokio::time::sleep(delay).await;
            }
            None => {
                tracing::warn!(
                    endpoint = d.endpoint,
                    message_id = d.message_id,
                    attempt = failures,
                    "SNS {} failed ({why}); giving up after {failures} attempts",
                    d.kind.as_str()
                );
                return;
            }
        }
    }
}

/// One POST; the answer's status, or why there was none.
async fn attempt(inner: &Inner, d: &Delivery) -> Result<u16, String> {
    let client = inner.client.as_ref().map_err(Clone::clone)?;
    let request = request(d)?;
    match tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request)).await {
        Err(_) => Err(format!("no answer within {ATTEMPT_TIMEOUT:?}")),
        Ok(Err(e)) => {
            // The legacy client's own message is terse ("client error
            // (Connect)"): say what lies under it.
            let mut why = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                why = format!("{why}: {s}");
                source = s.source();
            }
            Err(why)
        }
        Ok(Ok(resp)) => Ok(resp.status().as_u16()),
    }
}

/// The POST of a delivery. Credentials in the endpoint URL
/// (`https://user:pass@host/…`) are sent as HTTP Basic authorization, as SNS
/// does, and left out of the request line.
pub fn request(d: &Delivery) -> Result<Request<Full<Bytes>>, String> {
    let uri: Uri = d
        .endpoint
        .parse()
        .map_err(|e| format!("endpoint is not a URL: {e}"))?;
    let mut builder = Request::builder().method(Method::POST);
    let mut uri_parts = uri.into_parts();
    if let Some(authority) = uri_parts.authority.clone() {
        if let Some((userinfo, host)) = authority.as_str().rsplit_once('@') {
            let userinfo = percent_encoding::percent_decode_str(userinfo).decode_utf8_lossy();
            let credentials = base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                userinfo.as_bytes(),
            );
            builder = builder.header(header::AUTHORIZATION, format!("Basic {credentials}"));
            uri_parts.authority = Some(
                host.parse()
                    .map_err(|e| format!("endpoint host is not valid: {e}"))?,
            );
        }
    }
    let uri = Uri::from_parts(uri_parts).map_err(|e| format!("endpoint is not a URL: {e}"))?;
    builder = builder
        .uri(uri)
        .header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=UTF-8"),
        )
        .header(header::USER_AGENT, USER_AGENT);
    for (name, value) in d.headers() {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(Bytes::from(d.body.clone())))
        .map_err(|e| format!("cannot build the request: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use message::Kind;

    fn delivery(endpoint: &str) -> Delivery {
        Delivery {
            endpoint: endpoint.into(),
            kind: Kind::Notification,
            message_id: "m".into(),
            topic_arn: "arn:aws:sns:r:1:t".into(),
            subscription_arn: Some("arn:aws:sns:r:1:t:s".into()),
            raw: false,
            body: "{}".into(),
        }
    }

    #[test]
    fn the_request_carries_the_sns_headers() {
        let r = request(&delivery("http://127.0.0.1:9/hook?x=1")).unwrap();
        assert_eq!(r.method(), Method::POST);
        assert_eq!(r.uri().to_string(), "http://127.0.0.1:9/hook?x=1");
        let h = r.headers();
        assert_eq!(h["content-type"], "text/plain; charset=UTF-8");
        assert_eq!(h["x-amz-sns-message-type"], "Notification");
        assert_eq!(h["x-amz-sns-subscription-arn"], "arn:aws:sns:r:1:t:s");
        assert!(h.get("authorization").is_none());
    }

    #[test]
    fn credentials_in_the_url_become_basic_authorization() {
        let r = request(&delivery("https://ops:p%40ss@alerts.example.com/sns")).unwrap();
        assert_eq!(r.uri().to_string(), "https://alerts.example.com/sns");
        // base64("ops:p@ss")
        assert_eq!(r.headers()["authorization"], "Basic b3BzOnBAc3M=");
        assert!(request(&delivery("not a url")).is_err());
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_retried_then_given_up() {
        // A port nobody listens on: every attempt fails at once.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let cp = control::ControlPlane::with_store(
            control::Store::in_memory().unwrap(),
            control::Settings::default(),
        );
        let notifier = Notifier::new(cp);
        let inner = Inner {
            cp: notifier.inner.cp.clone(),
            client: client(),
            policy: RetryPolicy {
                immediate: 1,
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
                budget: Duration::from_millis(50),
            },
            in_flight: AtomicUsize::new(0),
        };
        let d = delivery(&format!("http://127.0.0.1:{port}/"));
        tokio::time::timeout(Duration::from_secs(10), deliver(&inner, &d))
            .await
            .unwrap();
        let why = attempt(&inner, &d).await.unwrap_err();
        assert!(why.contains("onnect"), "{why}");
    }
}
