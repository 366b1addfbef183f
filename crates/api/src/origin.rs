//! MediaPackage HLS ingest and origin on the API port. These are not AWS API calls:
//! they are routed before SigV4 verification.
//!
//! | method | path | what |
//! |---|---|---|
//! | PUT, POST | /in/v2/{channelId}/{ingestEndpointId}/{file…} | an encoder pushes HLS (HTTP Basic auth with the ingest endpoint's username and password) |
//! | DELETE | /in/v2/{channelId}/{ingestEndpointId}/{file…} | accepted and ignored (ffmpeg `delete_segments`) |
//! | GET, HEAD | /out/v1/{channelId}/{endpointId}/{manifestName}.m3u8 | multivariant playlist |
//! | GET, HEAD | /out/v1/{channelId}/{endpointId}/{manifestName}_{n}.m3u8 | media playlist of variant n |
//! | GET, HEAD | /out/v1/{channelId}/{endpointId}/{manifestName}_{n}_iframe.m3u8 | I-frame playlist of variant n (`includeIframeOnlyStream`) |
//! | GET, HEAD | /out/v1/{channelId}/{endpointId}/{manifestName}_{n}_{seq}.ts | segment |
//!
//! Origin GETs are public, limited by the endpoint's `whitelist` (CIDRs matched
//! against the client address: the TCP peer, or the address its trusted proxies
//! forwarded in `X-Forwarded-For`, [`forwarded`](crate::forwarded)) and
//! refused with 403 when `origination` is `DENY`. Every answer carries a strong `ETag`
//! (`If-None-Match` → 304) and honours a single `Range` (206, or 416 past the end).
//! The store is [`package::origin::OriginStore`]: one lock per packaging channel,
//! never held across an `.await`; a GET holds its channel's only to clone the object's
//! bytes and entity tag (computed when the segment was stored or the playlist
//! rendered). Endpoint settings come from the control plane's in-memory
//! [`packaging_view`](ControlPlane::packaging_view), so a GET reads no database.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use control::packaging::model::{HlsPackage, Origination, StreamOrder as ModelOrder};
use control::ControlPlane;
use package::body::Body as Stored;
use package::origin::{
    Origin, OriginFile, ServeOptions, StreamOrder, StreamSelection, MAX_INGEST_BODY,
};

use crate::forwarded::ClientAddress;
use crate::front::limits::{self, BodyError};
use crate::ApiError;

/// The origin store shared by every request and the channel engines.
pub use package::origin::OriginStore;

/// Which side of the origin a path is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// `/in/v2/…`: encoder ingest.
    Ingest,
    /// `/out/v1/…`: player GETs.
    Out,
}

/// A parsed ingest or origin path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginPath {
    pub side: Side,
    pub channel_id: String,
    pub endpoint_id: String,
    /// The rest of the path after the endpoint id, `/`-joined.
    pub file: String,
}

/// Recognises `…/in/v2/{ch}/{ep}/{file…}` and `…/out/v1/{ch}/{ep}/{file}` (any prefix
/// before `in`/`out`, as behind a proxy with a path prefix).
pub fn route(path: &str) -> Option<OriginPath> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let start = segs
        .windows(2)
        .position(|w| matches!(w, ["in", "v2"] | ["out", "v1"]))?;
    let [side, _, channel_id, endpoint_id, file @ ..] = segs.get(start..)? else {
        return None;
    };
    let side = if *side == "in" {
        Side::Ingest
    } else {
        Side::Out
    };
    if file.is_empty() || file.iter().any(|s| *s == "." || *s == "..") {
        return None;
    }
    if side == Side::Out && file.len() != 1 {
        return None;
    }
    Some(OriginPath {
        side,
        channel_id: (*channel_id).to_owned(),
        endpoint_id: (*endpoint_id).to_owned(),
        file: file.join("/"),
    })
}

/// Handles an ingest or origin request.
///
/// Ingest runs in its own task: ffmpeg's HTTP client half-closes the connection after
/// the last chunk of a PUT without waiting for the response, and hyper then drops the
/// request future, which would lose the segment if it were still reading the body.
pub async fn handle(
    cp: Arc<ControlPlane>,
    store: OriginStore,
    path: OriginPath,
    req: Request,
) -> Result<Response, ApiError> {
    match path.side {
        Side::Ingest => tokio::spawn(async move { ingest(&cp, &store, path, req).await })
            .await
            .unwrap_or_else(|e| {
                Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerErrorException",
                    format!("ingest task failed: {e}"),
                ))
            }),
        Side::Out => serve(&cp, &store, path, &req),
    }
}

fn unauthorized(message: &str, close: bool) -> Response {
    let error = ApiError::new(StatusCode::UNAUTHORIZED, "UnauthorizedException", message);
    let mut resp = if close { error.closing() } else { error }.into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"onair ingest\""),
    );
    resp
}

async fn ingest(
    cp: &ControlPlane,
    store: &OriginStore,
    path: OriginPath,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    if !matches!(parts.method, Method::PUT | Method::POST | Method::DELETE) {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowedException",
            "ingest accepts PUT, POST and DELETE",
        ));
    }
    // Not found and bad credentials look the same to an unauthenticated client.
    let view = cp.packaging_view()?;
    let channel = view.channels.get(&path.channel_id);
    let endpoint = channel.and_then(|c| {
        c.channel
            .hls_ingest
            .ingest_endpoints
            .iter()
            .find(|e| e.id == path.endpoint_id)
    });
    let authorized = endpoint.is_some_and(|endpoint| {
        basic_auth(&parts.headers).is_some_and(|(u, p)| ingest_credentials_match(&u, &p, endpoint))
    });
    if !authorized {
        // Refused before the body is read: close rather than read it.
        let close = limits::has_body(&parts.headers);
        return Ok(unauthorized(
            "unknown ingest endpoint or wrong credentials",
            close,
        ));
    }
    if parts.method == Method::DELETE {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    limits::check_declared(&parts.headers, MAX_INGEST_BODY).map_err(BodyError::into_api_error)?;
    let body = limits::read_body(Body::new(body), MAX_INGEST_BODY)
        .await
        .map_err(BodyError::into_api_error)?;
    let endpoints = view.endpoint_configs(&path.channel_id);
    drop(view);
    let now = time::OffsetDateTime::now_utc();
    let (outcome, warnings) = store.ingest(
        &path.channel_id,
        &path.endpoint_id,
        &path.file,
        &body,
        &endpoints,
        now,
    );
    tracing::debug!(channel = %path.channel_id, file = %path.file, ?outcome, "ingest");
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(StatusCode::CREATED.into_response())
}

/// The packaging settings of an origin endpoint record.
pub use control::packaging::endpoint_config;

/// Applies the packaging channels and origin endpoints that exist now to the store
/// ([`OriginStore::sync`]): a deleted channel or endpoint frees its memory at once.
pub fn sync(cp: &ControlPlane, store: &OriginStore) {
    match cp.packaging_view() {
        Ok(view) => store.sync(&view.origin_configs()),
        Err(e) => tracing::warn!("origin sync: cannot read packaging resources: {e}"),
    }
}

/// What an origin GET or HEAD brings, read from either HTTP path (hyper's or the
/// [`front`](crate::front)'s own).
#[derive(Debug, Default)]
pub struct Ask<'a> {
    /// HEAD: the headers a GET would get, no body.
    pub head: bool,
    /// The client address the whitelist is matched against: the TCP peer, or the
    /// address its trusted proxies forwarded ([`crate::forwarded`]); `None` when
    /// unknown (refused by a whitelist).
    pub client: Option<IpAddr>,
    /// Every `If-None-Match` header.
    pub if_none_match: Vec<&'a str>,
    /// The `Range` header.
    pub range: Option<&'a str>,
}

/// The answer to an origin [`Ask`], before either HTTP path writes it out.
#[derive(Debug)]
pub struct Answer {
    /// 200, 206, 304 or 416.
    pub status: StatusCode,
    /// The whole object.
    pub body: Stored,
    /// Bytes of `body` to send (empty for 304, 416 and HEAD).
    pub send: std::ops::Range<usize>,
    /// What `Content-Length` says: `send`'s length, or for HEAD what a GET would send.
    pub content_length: Option<usize>,
    /// Quoted strong entity tag.
    pub etag: Bytes,
    pub content_type: &'static str,
    /// `Cache-Control`.
    pub cache: CacheControl,
    /// `Content-Range` of a 206 or 416.
    pub content_range: Option<String>,
}

/// The `Cache-Control` of an origin object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheControl {
    /// Segments: a day (they never change).
    Segment,
    /// Playlists: half a target duration, at least a second.
    Playlist { max_age: u64 },
}

impl CacheControl {
    /// Writes the header's value.
    pub fn write(self, out: &mut Vec<u8>) {
        match self {
            Self::Segment => out.extend_from_slice(b"max-age=86400"),
            Self::Playlist { max_age } => {
                out.extend_from_slice(b"max-age=");
                out.extend_from_slice(max_age.to_string().as_bytes());
            }
        }
    }

    fn header(self) -> HeaderValue {
        match self {
            Self::Segment => HeaderValue::from_static("max-age=86400"),
            Self::Playlist { max_age } => playlist_cache(max_age),
        }
    }
}

fn serve(
    cp: &ControlPlane,
    store: &OriginStore,
    path: OriginPath,
    req: &Request,
) -> Result<Response, ApiError> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowedException",
            "the origin serves GET and HEAD",
        ));
    }
    let headers = req.headers();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let ask = Ask {
        head: req.method() == Method::HEAD,
        client: req.extensions().get::<ClientAddress>().and_then(|c| c.0),
        if_none_match: headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect(),
        range: text(header::RANGE),
    };
    let started = std::time::Instant::now();
    let result = answer(cp, store, &path, &ask);
    let (status, bytes) = match &result {
        Ok(a) => (a.status.as_u16(), a.send.len() as u64),
        Err(e) => (e.status.as_u16(), 0),
    };
    // Only endpoints that exist are counted: a client cannot grow the counters.
    let known = cp.packaging_view().is_ok_and(|v| {
        v.endpoints
            .get(&path.endpoint_id)
            .is_some_and(|e| e.endpoint.channel_id == path.channel_id)
    });
    if known {
        store.traffic().egress(
            &path.channel_id,
            &path.endpoint_id,
            status,
            bytes,
            started.elapsed(),
        );
    }
    Ok(respond(result?))
}

/// Looks up an origin object for a GET or HEAD and decides the answer: the
/// endpoint's checks (it exists under this channel, `origination`, `whitelist`, the
/// file name), then the object, then the conditional and range headers. Every
/// refusal is an [`ApiError`] with the AWS shape.
pub fn answer(
    cp: &ControlPlane,
    store: &OriginStore,
    path: &OriginPath,
    ask: &Ask<'_>,
) -> Result<Answer, ApiError> {
    let not_found = || ApiError::not_found(format!("no such origin object: {}", path.file));
    let view = cp.packaging_view()?;
    let rec = view
        .endpoints
        .get(&path.endpoint_id)
        .ok_or_else(not_found)?;
    if rec.endpoint.channel_id != path.channel_id {
        return Err(not_found());
    }
    if rec.endpoint.origination == Origination::Deny {
        return Err(ApiError::forbidden(
            "ForbiddenException",
            "origination is DENY for this endpoint",
        ));
    }
    if !rec.endpoint.whitelist.is_empty() {
        let allowed = ask
            .client
            .is_some_and(|ip| rec.endpoint.whitelist.iter().any(|c| cidr_contains(c, ip)));
        if !allowed {
            return Err(ApiError::forbidden(
                "ForbiddenException",
                "the client address is not in the endpoint's whitelist",
            ));
        }
    }
    let file = Origin::parse_file(&rec.endpoint.manifest_name, &path.file).ok_or_else(not_found)?;
    let options = serve_options(&rec.endpoint.hls_package);
    drop(view);
    let now = time::OffsetDateTime::now_utc();
    let served = store
        .serve(&path.channel_id, &path.endpoint_id, file, &options, now)
        .ok_or_else(not_found)?;
    let (content_type, cache) = match file {
        OriginFile::Segment(..) => ("video/mp2t", CacheControl::Segment),
        _ => (
            PLAYLIST,
            CacheControl::Playlist {
                max_age: (served.target_duration / 2).max(1),
            },
        ),
    };
    Ok(decide(served.body, served.etag, content_type, cache, ask))
}

/// The answer for `body` whose strong `ETag` is `etag`: `304 Not Modified` when
/// `If-None-Match` names it (RFC 9110 §13.1.2), a single `Range` of bytes as `206`
/// with `Content-Range`, `416` when it lies past the end (§14.2; several ranges or
/// an unreadable header get the whole body, as §14.2 allows), and HEAD with the
/// headers GET would send.
fn decide(
    body: Stored,
    etag: Bytes,
    content_type: &'static str,
    cache: CacheControl,
    ask: &Ask<'_>,
) -> Answer {
    let len = body.len();
    let not_modified = ask
        .if_none_match
        .iter()
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t.as_bytes() == etag.as_ref());
    let (status, send, content_range) = if not_modified {
        (StatusCode::NOT_MODIFIED, 0..0, None)
    } else {
        match ask.range.and_then(|v| byte_range(v, len)) {
            None => (StatusCode::OK, 0..len, None),
            Some(Err(())) => (
                StatusCode::RANGE_NOT_SATISFIABLE,
                0..0,
                Some(format!("bytes */{len}")),
            ),
            // `last` is below `len` (byte_range clamps it): no saturation.
            Some(Ok((first, last))) => (
                StatusCode::PARTIAL_CONTENT,
                first..last.saturating_add(1),
                Some(format!("bytes {first}-{last}/{len}")),
            ),
        }
    };
    let content_length = (status != StatusCode::NOT_MODIFIED).then_some(send.len());
    Answer {
        status,
        body,
        send: if ask.head { 0..0 } else { send },
        content_length,
        etag,
        content_type,
        cache,
        content_range,
    }
}

/// An [`Answer`] as hyper's response (the segment copied out of its memory file).
fn respond(answer: Answer) -> Response {
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(answer.content_type),
    );
    headers.insert(header::CACHE_CONTROL, answer.cache.header());
    if let Ok(v) = HeaderValue::from_maybe_shared(answer.etag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if let Some(v) = answer
        .content_range
        .and_then(|r| HeaderValue::from_str(&r).ok())
    {
        headers.insert(header::CONTENT_RANGE, v);
    }
    if let Some(n) = answer.content_length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    let body = if answer.send.is_empty() {
        Body::empty()
    } else {
        Body::from(answer.body.slice(answer.send))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = answer.status;
    *resp.headers_mut() = headers;
    resp
}

/// The one byte range of a `Range` header over `len` bytes (RFC 9110 §14.1.2), as
/// inclusive (first, last): `None` to ignore the header (not `bytes=`, several
/// ranges, unreadable), `Err` when unsatisfiable (starts at or past the end, or an
/// empty suffix).
fn byte_range(value: &str, len: usize) -> Option<Result<(usize, usize), ()>> {
    let spec = value.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<usize> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(s.parse().unwrap_or(usize::MAX))
    };
    let last_byte = len.checked_sub(1);
    if first.trim().is_empty() {
        // bytes=-N: the last N bytes.
        let n = number(last)?;
        return Some(match last_byte {
            Some(end) if n > 0 => Ok((len.saturating_sub(n), end)),
            _ => Err(()),
        });
    }
    let first = number(first)?;
    let last = if last.trim().is_empty() {
        None
    } else {
        Some(number(last)?)
    };
    if last.is_some_and(|l| l < first) {
        return None;
    }
    Some(match last_byte {
        Some(end) if first <= end => Ok((first, last.map_or(end, |l| l.min(end)))),
        _ => Err(()),
    })
}

/// The serve-time settings of an endpoint's `hlsPackage`.
fn serve_options(hls: &HlsPackage) -> ServeOptions {
    let sel = &hls.stream_selection;
    let bps = |v: i64| u64::try_from(v).unwrap_or(0);
    ServeOptions {
        selection: StreamSelection {
            min_video_bits_per_second: bps(sel.min_video_bits_per_second),
            max_video_bits_per_second: bps(sel.max_video_bits_per_second),
            order: match sel.stream_order {
                ModelOrder::Original => StreamOrder::Original,
                ModelOrder::VideoBitrateAscending => StreamOrder::VideoBitrateAscending,
                ModelOrder::VideoBitrateDescending => StreamOrder::VideoBitrateDescending,
            },
        },
        iframes: hls.include_iframe_only_stream,
    }
}

const PLAYLIST: &str = "application/vnd.apple.mpegurl";

/// Playlists may be cached for half a target duration (at least one second).
fn playlist_cache(target: u64) -> HeaderValue {
    match (target / 2).max(1) {
        1 => HeaderValue::from_static("max-age=1"),
        2 => HeaderValue::from_static("max-age=2"),
        3 => HeaderValue::from_static("max-age=3"),
        n => HeaderValue::from_str(&format!("max-age={n}"))
            .unwrap_or_else(|_| HeaderValue::from_static("max-age=1")),
    }
}

/// Whether a Basic-auth pair is the ingest endpoint's, in time that does not
/// depend on where the first wrong byte is (both members are compared
/// whatever the first gives), so a client cannot find the password byte by
/// byte by timing answers.
fn ingest_credentials_match(
    user: &str,
    password: &str,
    endpoint: &control::packaging::model::IngestEndpoint,
) -> bool {
    use subtle::ConstantTimeEq;
    let user = user.as_bytes().ct_eq(endpoint.username.as_bytes());
    let password = password.as_bytes().ct_eq(endpoint.password.as_bytes());
    (user & password).into()
}

/// `Authorization: Basic base64(user:password)` (RFC 7617).
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(token.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Standard base64 with optional padding (RFC 4648 §4); `None` on any other byte.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    LENIENT.decode(s).ok()
}

/// Whether `ip` is in `cidr` (`10.0.0.0/8`, `2001:db8::/32`, or a bare address).
/// An IPv4-mapped IPv6 address is matched against IPv4 networks.
fn cidr_contains(cidr: &str, ip: IpAddr) -> bool {
    let cidr: String = cidr.split_whitespace().collect();
    let net = match cidr.parse::<ipnet::IpNet>() {
        Ok(net) => net,
        Err(_) if !cidr.contains('/') => match cidr.parse::<IpAddr>() {
            Ok(addr) => ipnet::IpNet::from(addr),
            Err(_) => return false,
        },
        Err(_) => return false,
    };
    let ip = match (net, ip) {
        (ipnet::IpNet::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        _ => ip,
    };
    net.contains(&ip)
}

/// The body of the `origin_headers` fuzz target: the bytes as a `Range` value over
/// a length the first byte picks, a Basic `Authorization` value, an `X-Forwarded-For`
/// seen from a loopback and a remote peer, a whitelist CIDR, and a request path.
#[doc(hidden)]
pub fn fuzz_headers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let len = usize::from(data.first().copied().unwrap_or(0)) * 37;
    if let Some(Ok((first, last))) = byte_range(&text, len) {
        assert!(
            first <= last && last < len,
            "{text:?} over {len}: {first}-{last}"
        );
    }
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_bytes(data) {
        headers.insert(header::AUTHORIZATION, v);
    }
    let _ = (basic_auth(&headers), base64_decode(&text), route(&text));
    let proxies = crate::forwarded::TrustedProxies::new(vec![
        ipnet::IpNet::from(IpAddr::from([127, 0, 0, 1])),
        ipnet::IpNet::from(IpAddr::from([10, 0, 0, 0])),
    ]);
    for peer in [IpAddr::from([127, 0, 0, 1]), IpAddr::from([203, 0, 113, 7])] {
        if let Some(client) = proxies.client(peer, text.split('\n')) {
            let _ = cidr_contains(&text, client);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::body::to_bytes;

    #[test]
    fn routes() {
        let p = route("/in/v2/ch1/ep1/channel.m3u8").unwrap();
        assert_eq!(p.side, Side::Ingest);
        assert_eq!(
            (p.channel_id.as_str(), p.file.as_str()),
            ("ch1", "channel.m3u8")
        );
        assert_eq!(
            route("/prefix/out/v1/ch/ep/index.m3u8").unwrap().side,
            Side::Out
        );
        assert_eq!(route("/in/v2/ch/ep/v0/seg1.ts").unwrap().file, "v0/seg1.ts");
        assert!(route("/out/v1/ch/ep/a/b.ts").is_none());
        assert!(route("/in/v2/ch/ep").is_none());
        assert!(route("/in/v2/ch/ep/../x.ts").is_none());
        assert!(route("/channels").is_none());
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert!(base64_decode("Y").is_none());
        assert!(base64_decode("a*b=").is_none());
        // RFC 4648 §10 vectors, padded and not.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_decode(encoded).unwrap(), plain.as_bytes());
            let bare = encoded.trim_end_matches('=');
            assert_eq!(base64_decode(bare).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn basic_header() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpwOmFzcw=="),
        );
        assert_eq!(basic_auth(&h), Some(("user".into(), "p:ass".into())));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert_eq!(basic_auth(&h), None);
    }

    #[test]
    fn byte_ranges() {
        assert_eq!(byte_range("bytes=0-99", 1000), Some(Ok((0, 99))));
        assert_eq!(byte_range("bytes=900-", 1000), Some(Ok((900, 999))));
        assert_eq!(byte_range("bytes=900-5000", 1000), Some(Ok((900, 999))));
        assert_eq!(byte_range("bytes=-100", 1000), Some(Ok((900, 999))));
        assert_eq!(byte_range("bytes=-5000", 1000), Some(Ok((0, 999))));
        assert_eq!(byte_range("bytes=1000-", 1000), Some(Err(())));
        assert_eq!(byte_range("bytes=-0", 1000), Some(Err(())));
        assert_eq!(byte_range("bytes=0-0", 0), Some(Err(())));
        assert_eq!(
            byte_range("bytes=99999999999999999999999-", 10),
            Some(Err(()))
        );
        for ignored in [
            "bytes=5-1",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=a-b",
            "bytes=-",
            "",
        ] {
            assert_eq!(byte_range(ignored, 1000), None, "{ignored}");
        }
    }

    proptest::proptest! {
        #[test]
        fn range_headers_never_panic(value in "\\PC{0,40}", len in 0usize..5000) {
            if let Some(Ok((first, last))) = byte_range(&value, len) {
                proptest::prop_assert!(first <= last && last < len);
            }
        }
    }

    #[tokio::test]
    async fn etags_and_ranges() {
        let body = Bytes::from_static(b"0123456789");
        let get = |headers: &[(&str, &str)], method: &str| {
            let value = |name: &str| headers.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
            let ask = Ask {
                head: method == "HEAD",
                if_none_match: value("if-none-match").into_iter().collect(),
                range: value("range"),
                ..Ask::default()
            };
            respond(decide(
                Stored::Memory(body.clone()),
                package::origin::etag(&body),
                "video/mp2t",
                CacheControl::Playlist { max_age: 1 },
                &ask,
            ))
        };
        let read =
            |resp: Response| async move { to_bytes(resp.into_body(), 1 << 20).await.unwrap() };
        let full = get(&[], "GET");
        assert_eq!(full.status(), StatusCode::OK);
        let etag = full.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.len() == 34, "{etag}");
        assert_eq!(full.headers()[header::ACCEPT_RANGES], "bytes");
        assert_eq!(read(full).await, body);

        let same = get(&[("if-none-match", &etag)], "GET");
        assert_eq!(same.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(same.headers()[header::ETAG], etag.as_str());
        assert!(read(same).await.is_empty());
        let listed = format!("\"other\", W/{etag}");
        assert_eq!(
            get(&[("if-none-match", &listed)], "GET").status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            get(&[("if-none-match", "\"other\"")], "GET").status(),
            StatusCode::OK
        );

        let part = get(&[("range", "bytes=2-4")], "GET");
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(part.headers()[header::CONTENT_RANGE], "bytes 2-4/10");
        assert_eq!(part.headers()[header::CONTENT_LENGTH], "3");
        assert_eq!(read(part).await, &b"234"[..]);
        let past = get(&[("range", "bytes=10-")], "GET");
        assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(past.headers()[header::CONTENT_RANGE], "bytes */10");

        let head = get(&[], "HEAD");
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()[header::CONTENT_LENGTH], "10");
        assert_eq!(head.headers()[header::ETAG], etag.as_str());
        assert!(read(head).await.is_empty());
    }

    #[test]
    fn cidrs() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(cidr_contains("10.0.0.0/8", ip("10.1.2.3")));
        assert!(!cidr_contains("10.0.0.0/8", ip("11.1.2.3")));
        assert!(cidr_contains("127.0.0.1", ip("127.0.0.1")));
        assert!(cidr_contains("0.0.0.0/0", ip("8.8.8.8")));
        assert!(cidr_contains("127.0.0.0/8", ip("::ffff:127.0.0.1")));
        assert!(cidr_contains("2001:db8::/32", ip("2001:db8::1")));
        assert!(!cidr_contains("10.0.0.0/33", ip("10.0.0.1")));
        assert!(!cidr_contains("garbage", ip("10.0.0.1")));
        assert!(cidr_contains(" 10.1.2.3/ 8", ip("10.200.0.1")));
        assert!(!cidr_contains("::1", ip("127.0.0.1")));
        assert!(!cidr_contains("10.0.0.0/8", ip("::1")));
    }

    mod http {
        use super::super::*;
        use crate::{router, AppState, Credentials};
        use control::{Settings, Store};
        use tower::ServiceExt;

        fn state() -> AppState {
            let cp = ControlPlane::with_store(Store::in_memory().unwrap(), Settings::default());
            cp.create_package_channel("us-west-2", &serde_json::json!({"id": "live"}))
                .unwrap();
            AppState {
                sns: crate::sns::Notifier::new(cp.clone()),
                front: Default::default(),
                demo: Default::default(),
                cp,
                credentials: Credentials {
                    access_key_id: "AKIDTEST".into(),
                    secret_access_key: "secret".into(),
                },
                origin: OriginStore::default(),
                dashboard: Default::default(),
                monitor: std::sync::Arc::new(monitor::Hub::new(
                    monitor::Identity {
                        account_id: "000000000000".into(),
                        region: "us-west-2".into(),
                    },
                    monitor::series::StoreConfig::default(),
                )),
            }
        }

        fn b64(s: &str) -> String {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(s)
        }

        async fn put(state: &AppState, path: &str, auth: Option<&str>) -> Response {
            let mut req = Request::builder().method("PUT").uri(path);
            if let Some(auth) = auth {
                req = req.header("Authorization", format!("Basic {}", b64(auth)));
            }
            let req = req.body(Body::from("#EXTM3U\n")).unwrap();
            router(state.clone()).oneshot(req).await.unwrap()
        }

        #[tokio::test]
        async fn ingest_needs_the_endpoint_credentials() {
            let state = state();
            let ep = state
                .cp
                .packaging_channel("live")
                .unwrap()
                .channel
                .hls_ingest
                .ingest_endpoints[0]
                .clone();
            let path = format!("/in/v2/live/{}/channel.m3u8", ep.id);
            let good = format!("{}:{}", ep.username, ep.password);
            let wrong = format!("{}:nope", ep.username);
            for auth in [None, Some(wrong.as_str()), Some("x:y")] {
                let resp = put(&state, &path, auth).await;
                assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
                assert!(resp.headers().contains_key(header::WWW_AUTHENTICATE));
                assert!(!state.origin.has_channel("live"));
            }
            let other = put(&state, "/in/v2/live/unknown/channel.m3u8", Some(&good)).await;
            assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
            let resp = put(&state, &path, Some(&good)).await;
            assert_eq!(resp.status(), StatusCode::CREATED);
            assert!(state.origin.has_channel("live"));
            // No SigV4 needed, and no origin content yet: 404 (not 403).
            let get = Request::builder()
                .uri("/out/v1/live/none/index.m3u8")
                .body(Body::empty())
                .unwrap();
            let resp = router(state.clone()).oneshot(get).await.unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        }

        #[tokio::test]
        async fn a_deleted_channel_leaves_the_origin_at_once() {
            let state = state();
            let ep = state
                .cp
                .packaging_channel("live")
                .unwrap()
                .channel
                .hls_ingest
                .ingest_endpoints[0]
                .clone();
            let path = format!("/in/v2/live/{}/channel.m3u8", ep.id);
            let auth = format!("{}:{}", ep.username, ep.password);
            assert_eq!(
                put(&state, &path, Some(&auth)).await.status(),
                StatusCode::CREATED
            );
            assert!(state.origin.has_channel("live"));
            let before = state.cp.packaging_version();
            sync(&state.cp, &state.origin);
            assert!(state.origin.has_channel("live"));
            state.cp.delete_package_channel("live").unwrap();
            assert!(state.cp.packaging_version() > before);
            sync(&state.cp, &state.origin);
            assert!(!state.origin.has_channel("live"));
            // And its ingest is refused from then on (the view was reloaded).
            assert_eq!(
                put(&state, &path, Some(&auth)).await.status(),
                StatusCode::UNAUTHORIZED
            );
            assert!(!state.origin.has_channel("live"));
        }

        #[tokio::test]
        async fn ingest_bodies_are_bounded() {
            let state = state();
            let ep = state
                .cp
                .packaging_channel("live")
                .unwrap()
                .channel
                .hls_ingest
                .ingest_endpoints[1]
                .clone();
            let auth = format!("Basic {}", b64(&format!("{}:{}", ep.username, ep.password)));
            let send = |len: usize| {
                let req = Request::builder()
                    .method("PUT")
                    .uri(format!("/in/v2/live/{}/channel0.ts", ep.id))
                    .header("Authorization", auth.clone())
                    .body(Body::from(vec![0u8; len]))
                    .unwrap();
                router(state.clone()).oneshot(req)
            };
            // Larger than the API's 2 MiB limit, within the ingest limit.
            assert_eq!(send(20 << 20).await.unwrap().status(), StatusCode::CREATED);
            assert_eq!(
                send(MAX_INGEST_BODY + 1).await.unwrap().status(),
                StatusCode::PAYLOAD_TOO_LARGE
            );
        }

        #[test]
        fn b64_helper_round_trips() {
            for s in ["a", "ab", "abc", "user:pass"] {
                assert_eq!(base64_decode(&b64(s)).unwrap(), s.as_bytes());
            }
        }
    }
}
