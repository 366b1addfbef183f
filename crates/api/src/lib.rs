//! onair's HTTP front: the AWS-compatible API on one port.
//!
//! Every API request is verified with SigV4 ([`sigv4`]) against the server's
//! credentials, then routed by path to a service: MediaConnect (`/v1/…`,
//! `/tags/{arn}` for MediaConnect ARNs). Paths are split on `/` *before*
//! percent-decoding, so ARNs with `/` (`%2F`) stay one label. MediaPackage HLS
//! ingest (`/in/v2/…`) and origin (`/out/v1/…`) paths are routed to [`origin`]
//! before SigV4, as they are not AWS API calls; so are `/metrics`
//! ([`prometheus`]), the operator dashboard (`/` without AWS authentication,
//! `/dashboard/…`, [`dashboard`]), the browser player (`/player`,
//! [`player`]), whose files are compiled in ([`assets`]), and the SNS
//! SubscribeURL / UnsubscribeURL a subscriber follows (an unsigned GET with
//! `Action=`, [`sns`]). SNS calls (awsQuery) are told apart by their
//! credential scope. A path prefix in the client's endpoint URL
//! (`http://host:port/onair`) is skipped.
//!
//! An API call is authenticated as far as its head allows (the `Authorization`
//! header's shape, key id, date and scope) before its body is read; then the body
//! is read up to [`MAX_API_BODY`](front::limits::MAX_API_BODY) and the signature
//! checked. Connections, timeouts and body sizes are the [`front`]'s.

pub mod assets;
pub mod cloudwatch;
pub mod dashboard;
pub mod error;
pub mod forwarded;
pub mod front;
pub mod logs;
pub mod mediaconnect;
pub mod medialive;
pub mod mediapackage;
pub mod origin;
pub mod player;
pub mod prometheus;
pub mod sigv4;
pub mod sns;
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
    /// Path segments after any prefix, percent-decoded one by one.
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

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(&k.replace('+', " ")), decode(&v.replace('+', " ")))
        })
        .collect()
}

/// The first segment of each service's routes; anything before is a prefix.
const ROOTS: &[&str] = &[
    "v1",
    "tags",
    "onair",
    "prod",
    "channels",
    "origin_endpoints",
];

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
    let refuse = |e: sigv4::SigError| {
        if is_query_call(&parts.headers) {
            return sns::auth_error(&e);
        }
        let code = match e {
            sigv4::SigError::Missing => "MissingAuthenticationTokenException",
            sigv4::SigError::UnknownKey(_) => "UnrecognizedClientException",
            sigv4::SigError::Skew(..) => "InvalidSignatureException",
            sigv4::SigError::Malformed(_) => "IncompleteSignatureException",
            sigv4::SigError::Mismatch => "InvalidSignatureException",
        };
        ApiError::forbidden(code, e.to_string())
    };
    let body_refused = |e: front::limits::BodyError| {
        let e = e.into_api_error();
        if is_query_call(&parts.headers) {
            e.with_shape(sns::SHAPE)
        } else {
            e
        }
    };
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

    let raw_segments: Vec<&str> = raw_path.split('/').filter(|s| !s.is_empty()).collect();
    let start = raw_segments
        .iter()
        .position(|s| ROOTS.contains(s))
        .unwrap_or(0);
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let api = ApiRequest {
        method: parts.method.clone(),
        segments: raw_segments.iter().skip(start).map(|s| decode(s)).collect(),
        query: parse_query(&raw_query),
        body,
        region: auth.region,
        service: auth.service,
        target: header("x-amz-target"),
        content_type: header("content-type"),
        content_encoding: header("content-encoding"),
    };
    // awsJson services (CloudWatch, CloudWatch Logs) post to any path with
    // the operation in X-Amz-Target; awsQuery services (SNS) post a form
    // with `Action=`, told apart by the credential scope's service.
    if let Some(target) = api.target.as_deref() {
        let (prefix, operation) = target.split_once('.').unwrap_or((target, ""));
        return match prefix {
            cloudwatch::TARGET_PREFIX => cloudwatch::handle(&state, &api, operation).await,
            logs::TARGET_PREFIX => logs::handle(&state, &api, operation).await,
            _ => Err(ApiError::bad_request(format!(
                "X-Amz-Target: onair does not implement the service of '{target}'"
            ))
            .with_shape(ErrorShape::AwsJson)),
        };
    }
    if api.method == Method::POST && sns::is_sns(&api) {
        return sns::handle(&state, &api).await;
    }
    let first = api.segments.first().map(String::as_str);
    match first {
        Some("v1") => mediaconnect::handle(&state.cp, &api).await,
        Some("onair") => onair_stats(&state.cp, &api),
        Some("prod") => match api.segments.as_slice() {
            [_, c, id, a] if c == "channels" && a == "alerts" && api.method == Method::GET => {
                medialive::list_alerts(&state.cp, &state.monitor, &api, id)
            }
            _ => medialive::handle(&state.cp, &api).await,
        },
        Some("channels" | "origin_endpoints") => {
            let result = mediapackage::handle(&state.cp, &api).await;
            if api.method != Method::GET {
                // A deleted or changed channel or endpoint frees its origin memory now.
                origin::sync(&state.cp, &state.origin);
            }
            result
        }
        Some("tags") => {
            let arn_service = api
                .segments
                .get(1)
                .and_then(|a| control::arn::Arn::parse(a))
                .map(|a| a.service.to_string());
            match arn_service.as_deref().unwrap_or(api.service.as_str()) {
                "mediaconnect" => mediaconnect::handle(&state.cp, &api).await,
                "mediapackage" => mediapackage::handle(&state.cp, &api).await,
                other => Err(ApiError::bad_request(format!(
                    "onair does not implement tagging for service '{other}' yet"
                ))),
            }
        }
        _ => Err(unknown_operation(&api)),
    }
}

/// Whether a request is an awsQuery (SNS) call, whose clients can read
/// only an XML error: signed for `sns`, or a form POST with no signature
/// and no `X-Amz-Target`.
fn is_query_call(headers: &axum::http::HeaderMap) -> bool {
    match headers.get(axum::http::header::AUTHORIZATION) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| sigv4::Authorization::parse(v).ok())
            .is_some_and(|a| a.service == "sns"),
        None => {
            !headers.contains_key("x-amz-target")
                && headers
                    .get(axum::http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
        }
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

/// `GET /onair/flows/{flowArn}/stats`: the live engine statistics of a flow
/// (onair's own route, used by `onair flows status`).
fn onair_stats(cp: &ControlPlane, req: &ApiRequest) -> Result<Response, ApiError> {
    let seg: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    match (&req.method, seg.as_slice()) {
        (&Method::GET, ["onair", "flows", arn, "stats"]) => {
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
