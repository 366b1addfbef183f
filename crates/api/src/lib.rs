//! onair's HTTP front: the AWS-compatible API on one port.
//!
//! Every API request is verified with SigV4 ([`sigv4`]) against the server's
//! credentials, then routed ([`route`]) to the service its credential scope
//! names: MediaConnect (`/v1/…`, `/tags/{arn}`), MediaLive (`/prod/…`),
//! MediaPackage (`/channels…`, `/origin_endpoints…`, `/tags/{arn}`),
//! CloudWatch, CloudWatch Logs and Secrets Manager (by `X-Amz-Target`), SNS,
//! IAM and STS (awsQuery); onair's own routes are under `/_onair/`. Paths are
//! split on `/` *before* percent-decoding, so ARNs with `/` (`%2F`) stay one
//! label. MediaPackage HLS
//! ingest (`/in/v2/…`) and origin (`/out/v1/…`) paths are routed to [`origin`]
//! before SigV4, as they are not AWS API calls; so are `/metrics`
//! ([`prometheus`]), the operator dashboard (`/` without AWS authentication,
//! `/dashboard/…`, [`dashboard`]), the browser player (`/player`,
//! [`player`]), whose files are compiled in ([`assets`]), and the SNS
//! SubscribeURL / UnsubscribeURL a subscriber follows (an unsigned GET with
//! `Action=`, [`sns`]). A path prefix in the client's endpoint URL
//! (`http://host:port/onair`) is skipped: the route starts at the first root
//! of the signed service ([`route`]).
//!
//! An API call is authenticated as far as its head allows (the `Authorization`
//! header's shape, key id, date and scope) before its body is read; then the body
//! is read up to [`MAX_API_BODY`](front::limits::MAX_API_BODY) and the signature
//! checked. Connections, timeouts and body sizes are the [`front`]'s.

// Request handlers never panic on what a client sends: numbers from a
// request are range-checked and arithmetic on them is checked or saturating.
// Denied outside tests (test code unwraps and indexes freely); the lib is
// linted in its non-test build, so every line of it is covered.
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

pub mod assets;
pub mod cloudwatch;
pub mod dashboard;
pub mod demo;
pub mod error;
pub mod forwarded;
pub mod front;
pub mod iam;
pub mod logs;
pub mod mediaconnect;
pub mod medialive;
pub mod mediapackage;
pub mod origin;
pub mod player;
pub mod prometheus;
mod query;
pub mod route;
pub mod secretsmanager;
pub mod sigv4;
pub mod sns;
pub mod sts;
pub mod xml;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::Router;
use control::ControlPlane;
use percent_encoding::percent_decode_str;

pub use error::{ApiError, ErrorShape};

/// One API key pair.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

#[derive(Clone)]
pub struct AppState {
    pub cp: Arc<ControlPlane>,
    pub credentials: Credentials,
    /// MediaPackage HLS ingest and origin store ([`origin`]).
    pub origin: origin::OriginStore,
    /// The dashboard's shared snapshot ([`dashboard`]).
    pub dashboard: Arc<dashboard::LiveView>,
    /// Metrics, alarms, alerts and the event feed ([`cloudwatch`], [`dashboard`]).
    pub monitor: Arc<monitor::Hub>,
    /// Publishes to SNS topics and delivers to their subscribers ([`sns`]).
    pub sns: sns::Notifier,
    /// The HTTP front's limits, trusted proxies and counters ([`front`]).
    pub front: Arc<front::Front>,
    /// `onair demo`'s controls and SNS subscriber, set once by the demo ([`demo`]).
    pub demo: Arc<std::sync::OnceLock<Arc<demo::Demo>>>,
}

impl AppState {
    /// The state of a server whose monitor starts empty, for fuzz targets and
    /// tests: credentials `AKIDFUZZ` / `fuzz`, an empty origin, the default limits
    /// and no trusted proxy.
    pub fn standalone(cp: Arc<ControlPlane>, max_metrics: usize) -> Self {
        AppState {
            sns: sns::Notifier::new(cp.clone()),
            cp,
            credentials: Credentials {
                access_key_id: "AKIDFUZZ".into(),
                secret_access_key: "fuzz".into(),
            },
            origin: origin::OriginStore::default(),
            dashboard: Default::default(),
            monitor: Arc::new(monitor::Hub::new(
                monitor::Identity {
                    account_id: "000000000000".into(),
                    region: "us-west-2".into(),
                },
                monitor::series::StoreConfig { max_metrics },
            )),
            front: Default::default(),
            demo: Default::default(),
        }
    }
}

/// The router: every path falls to the AWS dispatcher.
pub fn router(state: AppState) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

/// A request as the services see it, after authentication.
pub struct ApiRequest {
    pub method: Method,
    /// Path segments after any prefix, percent-decoded one by one; an
    /// empty label is an empty segment (`/v1/flows/` names flow "").
    pub segments: Vec<String>,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    pub body: bytes::Bytes,
    /// The region and service of the SigV4 credential scope.
    pub region: String,
    pub service: String,
    /// `X-Amz-Target` (awsJson services: `Prefix.Operation`).
    pub target: Option<String>,
    /// `Content-Type`, when sent.
    pub content_type: Option<String>,
    /// `Content-Encoding` (CloudWatch gzips PutMetricData bodies of 10 KiB and more).
    pub content_encoding: Option<String>,
}

impl ApiRequest {
    /// The `tags` map of a TagResource body (MediaConnect, MediaLive), as
    /// key/value pairs; errors name the member.
    pub fn tag_pairs(&self) -> Result<Vec<(String, String)>, ApiError> {
        let body = self.json()?;
        let tags = body
            .get("tags")
            .and_then(serde_json::Value::as_object)
            .ok_or_else(|| ApiError::bad_request("tags: is required (a map of strings)"))?;
        tags.iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|v| (k.clone(), v.to_string()))
                    .ok_or_else(|| ApiError::bad_request(format!("tags.{k}: expected a string")))
            })
            .collect()
    }

    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn query_all(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as JSON; an empty body reads as `{}`.
    pub fn json(&self) -> Result<serde_json::Value, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::json!({}));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))
    }
}

/// Sets `key` of a JSON object (an answer built with `json!({…})`) to `value`:
/// `object[key] = value` without the index operator, which panics on a
/// non-object.
pub(crate) fn set_member(object: &mut serde_json::Value, key: &str, value: serde_json::Value) {
    if let Some(members) = object.as_object_mut() {
        members.insert(key.to_owned(), value);
    }
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

pub(crate) fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(&k.replace('+', " ")), decode(&v.replace('+', " ")))
        })
        .collect()
}

async fn dispatch(State(state): State<AppState>, req: Request) -> Response {
    let request_id = request_id();
    // HLS ingest (Basic auth), origin GETs, /metrics, the dashboard and the
    // player (public), and the SNS SubscribeURL / UnsubscribeURL a subscriber
    // follows, are not AWS calls: no SigV4.
    let uri = req.uri();
    let result = if uri.path() == "/metrics" && req.method() == Method::GET {
        Ok(prometheus::handle(&state.monitor, &state.front))
    } else if is_sns_link(&req) {
        sns::handle_link(&state, req.uri().query().unwrap_or("")).await
    } else if let Some(route) = demo::route(uri.path()) {
        Ok(demo::handle(state.demo.get(), route, req).await)
    } else if let Some(route) =
        dashboard::route(req.method(), uri.path(), uri.query(), req.headers())
    {
        Ok(dashboard::handle(&state, route, req).await)
    } else if let Some(asset) = player::route(uri.path()) {
        Ok(player::handle(asset, req.method(), req.headers()))
    } else {
        match origin::route(req.uri().path()) {
            Some(path) => origin::handle(state.cp.clone(), state.origin.clone(), path, req).await,
            None => handle(state, req).await,
        }
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    // awsQuery answers carry their request id in the body: keep theirs.
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().entry("x-amzn-RequestId").or_insert(v);
    }
    resp
}

/// A visit of an SNS SubscribeURL or UnsubscribeURL: an unsigned GET with
/// `Action=ConfirmSubscription` or `Action=Unsubscribe` in the query, on
/// any path (the base URL may have a prefix). A signed GET is an API call.
fn is_sns_link(req: &Request) -> bool {
    sns::is_link(req.method(), req.uri().query())
        && !req
            .headers()
            .contains_key(axum::http::header::AUTHORIZATION)
}

/// A fresh request id: a version-4 UUID drawn from a per-thread generator (splitmix64
/// over a counter) seeded once per thread from the OS, so that a request — an origin
/// GET above all — does not cost a `getrandom` system call.
pub(crate) fn request_id() -> String {
    use std::cell::Cell;
    fn splitmix(state: &Cell<u64>) -> u64 {
        let x = state.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        state.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    thread_local! {
        static STATE: Cell<u64> = Cell::new(uuid::Uuid::new_v4().as_u64_pair().0);
    }
    let (hi, lo) = STATE.with(|s| (splitmix(s), splitmix(s)));
    let bits = (u128::from(hi) << 64) | u128::from(lo);
    uuid::Builder::from_random_bytes(bits.to_le_bytes())
        .into_uuid()
        .to_string()
}

async fn handle(state: AppState, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let raw_path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let creds = &state.credentials;
    let secret_for =
        |key: &str| (key == creds.access_key_id).then(|| creds.secret_access_key.clone());
    let shape = route::error_shape(&parts.headers);
    let refuse = |e: sigv4::SigError| route::auth_error(&e, shape);
    let body_refused = |e: front::limits::BodyError| e.into_api_error().with_shape(shape);
    let mut signed = sigv4::SignedRequest {
        method: parts.method.as_str(),
        raw_path: &raw_path,
        raw_query: &raw_query,
        headers: &headers,
        body: b"",
    };
    // Everything but the signature is checked before the body is read, by
    // verifying as if the body were empty: only a wrong signature (which a
    // non-empty body makes) lets the request on to its body.
    let before_body = match sigv4::verify(&signed, now, secret_for) {
        Ok(auth) => Some(auth),
        Err(sigv4::SigError::Mismatch) => None,
        Err(e) if front::limits::has_body(&parts.headers) => return Err(refuse(e).closing()),
        Err(e) => return Err(refuse(e)),
    };
    front::limits::check_declared(&parts.headers, front::limits::MAX_API_BODY)
        .map_err(body_refused)?;
    let body = front::limits::read_body(Body::new(body), front::limits::MAX_API_BODY)
        .await
        .map_err(body_refused)?;
    let auth = match before_body {
        Some(auth) if body.is_empty() => auth,
        _ => {
            signed.body = &body;
            sigv4::verify(&signed, now, secret_for).map_err(refuse)?
        }
    };

    let raw_segments = route::segments(&raw_path);
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let target = header("x-amz-target");
    let routed = route::resolve(
        &raw_segments,
        &auth.service,
        target.as_deref(),
        &parts.method,
    )?;
    let start = match routed {
        route::Route::Rest { start, .. } => start,
        _ => raw_segments.len(),
    };
    let api = ApiRequest {
        method: parts.method.clone(),
        segments: raw_segments.iter().skip(start).map(|s| decode(s)).collect(),
        query: parse_query(&raw_query),
        body,
        region: auth.region,
        service: auth.service,
        target,
        content_type: header("content-type"),
        content_encoding: header("content-encoding"),
    };
    let rest = match routed {
        route::Route::CloudWatch { operation } => {
            return cloudwatch::handle(&state, &api, &operation).await
        }
        route::Route::Logs { operation } => return logs::handle(&state, &api, &operation).await,
        route::Route::Sns => return sns::handle(&state, &api).await,
        route::Route::Iam => return iam::handle(&state, &api).await,
        route::Route::Sts => return sts::handle(&state, &api),
        route::Route::SecretsManager { operation } => {
            return secretsmanager::handle(&state, &api, &operation).await
        }
        route::Route::Rest { service, .. } => service,
    };
    let first = api.segments.first().map(String::as_str);
    match (rest, first) {
        (route::Service::MediaConnect, Some(route::ONAIR_ROOT)) => onair_stats(&state.cp, &api),
        (route::Service::MediaConnect, _) => mediaconnect::handle(&state.cp, &api).await,
        (route::Service::MediaLive, _) => match api.segments.as_slice() {
            [_, c, id, a] if c == "channels" && a == "alerts" && api.method == Method::GET => {
                medialive::list_alerts(&state.cp, &state.monitor, &api, id)
            }
            _ => medialive::handle(&state.cp, &api).await,
        },
        (route::Service::MediaPackage, _) => {
            let result = mediapackage::handle(&state.cp, &api).await;
            if api.method != Method::GET && first != Some("tags") {
                // A deleted or changed channel or endpoint frees its origin memory now.
                origin::sync(&state.cp, &state.origin);
            }
            result
        }
        _ => Err(unknown_operation(&api)),
    }
}

/// 404 for a route no service implements.
pub(crate) fn unknown_operation(req: &ApiRequest) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "UnknownOperationException",
        format!(
            "onair does not implement {} /{} (signed for service '{}')",
            req.method,
            req.segments.join("/"),
            req.service
        ),
    )
}

/// `GET /_onair/flows/{flowArn}/stats`: the live engine statistics of a flow
/// (onair's own route, signed for `mediaconnect`, used by `onair flows status`).
fn onair_stats(cp: &ControlPlane, req: &ApiRequest) -> Result<Response, ApiError> {
    let seg: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    match (&req.method, seg.as_slice()) {
        (&Method::GET, [route::ONAIR_ROOT, "flows", arn, "stats"]) => {
            cp.flow_record(arn)?;
            let stats = cp
                .reports
                .flow(arn)
                .ok_or_else(|| ApiError::not_found(format!("flow is not running: {arn}")))?;
            let body = serde_json::to_value(stats)
                .map_err(|e| ApiError::bad_request(format!("stats: {e}")))?;
            Ok(axum::Json(body).into_response())
        }
        _ => Err(ApiError::not_found(format!(
            "no onair route {} /{}",
            req.method,
            seg.join("/")
        ))),
    }
}

#[cfg(test)]
mod request_ids {
    #[test]
    fn request_ids_are_distinct_v4_uuids() {
        let ids: std::collections::HashSet<String> =
            (0..1000).map(|_| super::request_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids.iter().take(10) {
            let u = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(u.get_version_num(), 4, "{id}");
        }
    }
}

#[cfg(test)]
mod set_member_tests {
    use serde_json::json;

    #[test]
    fn sets_a_member_of_an_object_and_leaves_anything_else() {
        let mut v = json!({ "a": 1 });
        super::set_member(&mut v, "b", json!("x"));
        assert_eq!(v, json!({ "a": 1, "b": "x" }));
        let mut list = json!([1]);
        super::set_member(&mut list, "b", json!("x"));
        assert_eq!(list, json!([1]));
    }
}
