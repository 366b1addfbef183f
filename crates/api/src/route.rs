//! Which service answers a signed API request, and where its route starts.
//!
//! rest-json services are told apart by the first segment of their routes,
//! their *root*: MediaConnect `v1` and `tags`, MediaLive `prod`, MediaPackage
//! `channels`, `origin_endpoints` and `tags`. onair's own routes live under
//! [`ONAIR_ROOT`] and are signed for `mediaconnect`. The awsJson services
//! (CloudWatch, CloudWatch Logs, Secrets Manager) are named by
//! `X-Amz-Target` and the awsQuery ones (SNS, IAM, STS) by the credential
//! scope; those post to whatever path the client's endpoint URL has.
//!
//! **Path prefix.** A client may be given an endpoint with a path
//! (`--endpoint-url http://host:8080/onair`): botocore puts it in front of
//! every route and signs the whole path. The route starts at the first raw
//! segment that is a root *of the service the request is signed for*; the
//! segments before it are the prefix and are skipped. So a prefix may hold
//! any segment except a root of that service, and no label (an ARN, an id)
//! can move the start, since labels always come after their root.
//!
//! **Credential scope.** The scope's service must be the one that serves the
//! request: the service of `X-Amz-Target`, or the one whose root the path
//! holds. Anything else is refused as AWS refuses it — 403 `Credential
//! should be scoped to correct service: '…'`, naming the service to sign for
//! when the path tells it — in the error shape of the service called
//! ([`error_shape`], [`auth_error`]). The region is checked with the
//! signature ([`crate::sigv4::valid_region`]).

use axum::http::{header, HeaderMap, Method, StatusCode};
use percent_encoding::utf8_percent_encode;

use crate::sigv4::{self, SigError};
use crate::{cloudwatch, iam, logs, secretsmanager, sns, sts, ApiError, ErrorShape};

/// The root of onair's own routes (`GET /_onair/flows/{flowArn}/stats`),
/// signed for `mediaconnect`. The leading `_` keeps it apart from AWS's roots
/// and from a prefix an operator would choose (`/onair`).
pub const ONAIR_ROOT: &str = "_onair";

/// CloudWatch's awsQuery error namespace, for a CloudWatch client that
/// speaks awsQuery (botocore before 1.42.7).
const CLOUDWATCH_QUERY: ErrorShape = ErrorShape::Query {
    namespace: "http://monitoring.amazonaws.com/doc/2010-08-01/",
};

/// A service onair serves, by its SigV4 signing name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    MediaConnect,
    MediaLive,
    MediaPackage,
    CloudWatch,
    Logs,
    Sns,
    Iam,
    Sts,
    SecretsManager,
}

impl Service {
    pub const ALL: [Service; 9] = [
        Service::MediaConnect,
        Service::MediaLive,
        Service::MediaPackage,
        Service::CloudWatch,
        Service::Logs,
        Service::Sns,
        Service::Iam,
        Service::Sts,
        Service::SecretsManager,
    ];

    /// The service's name in a credential scope.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::MediaConnect => "mediaconnect",
            Service::MediaLive => "medialive",
            Service::MediaPackage => "mediapackage",
            Service::CloudWatch => "monitoring",
            Service::Logs => "logs",
            Service::Sns => "sns",
            Service::Iam => "iam",
            Service::Sts => "sts",
            Service::SecretsManager => "secretsmanager",
        }
    }

    pub fn from_signing_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.signing_name() == name)
    }

    /// The first segments of the service's rest-json routes (none for the
    /// awsJson and awsQuery services).
    pub fn roots(self) -> &'static [&'static str] {
        match self {
            Service::MediaConnect => &["v1", "tags", ONAIR_ROOT],
            Service::MediaLive => &["prod"],
            Service::MediaPackage => &["channels", "origin_endpoints", "tags"],
            Service::CloudWatch
            | Service::Logs
            | Service::Sns
            | Service::Iam
            | Service::Sts
            | Service::SecretsManager => &[],
        }
    }
}

/// Where a verified request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A rest-json service; its route is the raw path's segments from `start`.
    Rest { service: Service, start: usize },
    /// A CloudWatch operation (awsJson 1.0).
    CloudWatch { operation: String },
    /// A CloudWatch Logs operation (awsJson 1.1).
    Logs { operation: String },
    /// An SNS action (awsQuery form POST).
    Sns,
    /// An IAM action (awsQuery form POST).
    Iam,
    /// An STS action (awsQuery form POST).
    Sts,
    /// A Secrets Manager operation (awsJson 1.1).
    SecretsManager { operation: String },
}

/// The raw path's segments, still percent-encoded, after the leading `/`.
/// Empty segments are kept: `/v1/flows/` is DescribeFlow of an empty ARN
/// (what botocore sends for `--flow-arn ""`), answered NotFound, not
/// ListFlows; `/v1/flows//outputs/x` keeps its empty flow ARN too. (The
/// signature covers the path with them collapsed, [`sigv4::normalize_path`].)
pub fn segments(raw_path: &str) -> Vec<&str> {
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    if path.is_empty() {
        return Vec::new();
    }
    path.split('/').collect()
}

/// Routes a request whose signature is verified: `segments` are the raw
/// path's [`segments`], `scope` the credential scope's service,
/// `target` the `X-Amz-Target` header. See the [module docs](self).
pub fn resolve(
    segments: &[&str],
    scope: &str,
    target: Option<&str>,
    method: &Method,
) -> Result<Route, ApiError> {
    if let Some(target) = target {
        let (prefix, operation) = target.split_once('.').unwrap_or((target, ""));
        let operation = operation.to_string();
        let (service, route, shape) = match prefix {
            cloudwatch::TARGET_PREFIX => (
                Service::CloudWatch,
                Route::CloudWatch { operation },
                cloudwatch::SHAPE,
            ),
            logs::TARGET_PREFIX => (
                Service::Logs,
                Route::Logs { operation },
                ErrorShape::AwsJson,
            ),
            secretsmanager::TARGET_PREFIX => (
                Service::SecretsManager,
                Route::SecretsManager { operation },
                ErrorShape::AwsJson,
            ),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "X-Amz-Target: onair does not implement the service of '{target}'"
                ))
                .with_shape(ErrorShape::AwsJson))
            }
        };
        if scope != service.signing_name() {
            return Err(wrong_service(Some(service), scope, shape));
        }
        return Ok(route);
    }
    match Service::from_signing_name(scope) {
        Some(Service::Sns) if method == Method::POST => Ok(Route::Sns),
        Some(Service::Iam) if method == Method::POST => Ok(Route::Iam),
        Some(Service::Sts) if method == Method::POST => Ok(Route::Sts),
        Some(service @ (Service::Sns | Service::Iam | Service::Sts)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            format!(
                "onair answers {} actions sent as a form POST, not {method}",
                service.signing_name().to_uppercase()
            ),
        )
        .with_shape(query_shape(service))),
        Some(Service::SecretsManager) => Err(ApiError::bad_request(
            "X-Amz-Target: is required for Secrets Manager (secretsmanager.<Operation>)",
        )
        .with_shape(ErrorShape::AwsJson)),
        Some(Service::CloudWatch) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            "onair serves CloudWatch over JSON 1.0 (X-Amz-Target, as botocore 1.42.7 and later \
             send it); this request has no X-Amz-Target",
        )
        .with_shape(CLOUDWATCH_QUERY)),
        Some(Service::Logs) => Err(ApiError::bad_request(
            "X-Amz-Target: is required for CloudWatch Logs (Logs_20140328.<Operation>)",
        )
        .with_shape(ErrorShape::AwsJson)),
        Some(service) => match root_of(segments, service) {
            Some(start) => Ok(Route::Rest { service, start }),
            None => match owner(segments) {
                Some(other) => Err(wrong_service(Some(other), scope, ErrorShape::RestJson)),
                None => Err(unknown_route(method, segments, scope)),
            },
        },
        None => Err(wrong_service(owner(segments), scope, ErrorShape::RestJson)),
    }
}

/// The index of the first segment that is one of `service`'s roots.
fn root_of(segments: &[&str], service: Service) -> Option<usize> {
    segments.iter().position(|s| service.roots().contains(s))
}

/// The rest-json service whose root comes first in the path (`tags` is
/// MediaConnect's and MediaPackage's: the first of them is named).
fn owner(segments: &[&str]) -> Option<Service> {
    segments.iter().find_map(|s| {
        Service::ALL
            .into_iter()
            .find(|service| service.roots().contains(s))
    })
}

fn wrong_service(right: Option<Service>, scope: &str, shape: ErrorShape) -> ApiError {
    let what = match right {
        Some(right) => format!(
            "correct service: '{}' (the request is signed for '{scope}')",
            right.signing_name()
        ),
        None => format!(
            "correct service: one onair serves ({}), not '{scope}'",
            Service::ALL.map(Service::signing_name).join(", ")
        ),
    };
    auth_error(&SigError::Scope(what), shape)
}

fn unknown_route(method: &Method, segments: &[&str], scope: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        format!(
            "onair does not implement {method} /{} (signed for service '{scope}')",
            segments.join("/")
        ),
    )
}

/// The error shape of an awsQuery service: its `ErrorResponse` in its XML
/// namespace.
fn query_shape(service: Service) -> ErrorShape {
    match service {
        Service::Iam => iam::SHAPE,
        Service::Sts => sts::SHAPE,
        _ => sns::SHAPE,
    }
}

/// The error shape in which a request is refused before it is routed: that
/// of the service it calls, by `X-Amz-Target` (CloudWatch, CloudWatch Logs,
/// Secrets Manager) or as an awsQuery call (SNS, IAM, STS by the signed
/// service; an unsigned form POST as SNS); rest-json otherwise.
pub fn error_shape(headers: &HeaderMap) -> ErrorShape {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split_once('.'))
        .map(|(prefix, _)| prefix);
    match target {
        Some(cloudwatch::TARGET_PREFIX) => cloudwatch::SHAPE,
        Some(logs::TARGET_PREFIX | secretsmanager::TARGET_PREFIX) => ErrorShape::AwsJson,
        _ => query_call(headers).map_or(ErrorShape::RestJson, query_shape),
    }
}

/// The awsQuery service a request calls, whose clients can read only an XML
/// error: the one it is signed for (SNS, IAM, STS), or SNS for a form POST
/// with no signature and no `X-Amz-Target`.
fn query_call(headers: &HeaderMap) -> Option<Service> {
    match headers.get(header::AUTHORIZATION) {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| sigv4::Authorization::parse(v).ok())
            .and_then(|a| Service::from_signing_name(&a.service))
            .filter(|s| matches!(s, Service::Sns | Service::Iam | Service::Sts)),
        None => (!headers.contains_key("x-amz-target")
            && headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded")))
        .then_some(Service::Sns),
    }
}

/// A refused signature or scope (403), with the code its clients expect:
/// awsQuery's (`SignatureDoesNotMatch`, …) for the query and query-compatible
/// shapes, the JSON protocols' (`InvalidSignatureException`, …) otherwise.
pub fn auth_error(e: &SigError, shape: ErrorShape) -> ApiError {
    let query = matches!(
        shape,
        ErrorShape::Query { .. } | ErrorShape::QueryCompatible { .. }
    );
    let code = match (e, query) {
        (SigError::Missing, false) => "MissingAuthenticationTokenException",
        (SigError::Missing, true) => "MissingAuthenticationToken",
        (SigError::UnknownKey(_), false) => "UnrecognizedClientException",
        (SigError::UnknownKey(_), true) => "InvalidClientTokenId",
        (SigError::Malformed(_), false) => "IncompleteSignatureException",
        (SigError::Malformed(_), true) => "IncompleteSignature",
        (SigError::Skew(..) | SigError::Mismatch | SigError::Scope(_), false) => {
            "InvalidSignatureException"
        }
        (SigError::Skew(..) | SigError::Mismatch | SigError::Scope(_), true) => {
            "SignatureDoesNotMatch"
        }
    };
    ApiError::forbidden(code, e.to_string()).with_shape(shape)
}

/// The body of the `api_route` fuzz target (and of a property test). The
/// first byte picks the credential scope's service (bits 0-2: one served, or
/// another), the method (bit 3) and the `X-Amz-Target` (bits 4-7); the rest,
/// cut at the first NUL, is a raw path and a raw query string. Checks that
/// the query pairs the services read encode to exactly the canonical query
/// the signature covered, that the canonical path of an origin-form path is
/// a fixed point, and that a rest-json route starts at the first root of the
/// signed service.
#[doc(hidden)]
pub fn fuzz_route(data: &[u8]) {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (path, query) = text.split_once('\0').unwrap_or((&*text, ""));

    // The pairs the services read, encoded and sorted as SigV4 does, are
    // the canonical query the signature covered.
    let enc = |s: &str| utf8_percent_encode(s, sigv4::UNRESERVED).to_string();
    let mut encoded: Vec<(String, String)> = crate::parse_query(query)
        .iter()
        .map(|(k, v)| (enc(k), enc(v)))
        .collect();
    encoded.sort();
    let encoded: Vec<String> = encoded.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(
        encoded.join("&"),
        sigv4::canonical_query(query),
        "{query:?}"
    );
    // A path as HTTP carries it (origin form, from `/`) normalises to a fixed
    // point; botocore's own normalisation is not one for a relative path
    // (`..` → `` → `/`), which no request line holds.
    let normal = sigv4::normalize_path(path);
    if path.starts_with('/') {
        assert_eq!(sigv4::normalize_path(&normal), normal);
    }

    // Bits 0-2 pick one of the first seven services, or one onair does not serve.
    let scope = match choice & 0x07 {
        7 => "s3",
        i => Service::ALL
            .get(usize::from(i))
            .map_or("s3", |s| s.signing_name()),
    };
    let method = if choice & 0x08 == 0 {
        Method::GET
    } else {
        Method::POST
    };
    let target = match choice >> 4 {
        0 => Some(format!("{}.PutMetricData", cloudwatch::TARGET_PREFIX)),
        1 => Some(format!("{}.DescribeLogGroups", logs::TARGET_PREFIX)),
        2 => Some(path.to_string()),
        3 => Some(format!(
            "{}.GetRandomPassword",
            secretsmanager::TARGET_PREFIX
        )),
        _ => None,
    };
    let segments = segments(path);
    match resolve(&segments, scope, target.as_deref(), &method) {
        Ok(Route::Rest { service, start }) => {
            assert_eq!(service.signing_name(), scope);
            assert_eq!(root_of(&segments, service), Some(start));
        }
        Ok(_) => assert!(target.is_some() || matches!(scope, "sns" | "iam" | "sts")),
        Err(e) => assert!(e.status.is_client_error(), "{e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest(path: &str, scope: &str) -> Result<Route, ApiError> {
        resolve(&segments(path), scope, None, &Method::GET)
    }

    #[test]
    fn empty_labels_stay() {
        assert_eq!(segments("/"), Vec::<&str>::new());
        assert_eq!(segments(""), Vec::<&str>::new());
        assert_eq!(segments("/v1/flows"), ["v1", "flows"]);
        assert_eq!(segments("/v1/flows/"), ["v1", "flows", ""]);
        assert_eq!(
            segments("/v1/flows//outputs/"),
            ["v1", "flows", "", "outputs", ""]
        );
        assert_eq!(segments("//v1/flows"), ["", "v1", "flows"]);
    }

    fn start(service: Service, start: usize) -> Result<Route, ApiError> {
        Ok(Route::Rest { service, start })
    }

    #[test]
    fn a_prefix_is_skipped_up_to_a_root_of_the_signed_service() {
        use Service::*;
        let cases = [
            ("/v1/flows", "mediaconnect", start(MediaConnect, 0)),
            ("/onair/v1/flows", "mediaconnect", start(MediaConnect, 1)),
            ("/a/b/v1/flows/x", "mediaconnect", start(MediaConnect, 2)),
            (
                "/onair/_onair/flows/x/stats",
                "mediaconnect",
                start(MediaConnect, 1),
            ),
            // Another service's root in a prefix is only a prefix.
            ("/prod/v1/flows", "mediaconnect", start(MediaConnect, 1)),
            ("/onair/prod/channels/1", "medialive", start(MediaLive, 1)),
            ("/onair/channels/v1", "mediapackage", start(MediaPackage, 1)),
            (
                "/onair/origin_endpoints",
                "mediapackage",
                start(MediaPackage, 1),
            ),
            ("//v1/flows", "mediaconnect", start(MediaConnect, 1)),
            ("/tags/arn", "mediaconnect", start(MediaConnect, 0)),
            ("/onair/tags/arn", "mediapackage", start(MediaPackage, 1)),
        ];
        for (path, scope, want) in cases {
            let got = rest(path, scope);
            assert_eq!(
                got.as_ref().ok(),
                want.as_ref().ok(),
                "{path} {scope}: {got:?}"
            );
        }
    }

    fn refused(r: Result<Route, ApiError>) -> ApiError {
        match r {
            Ok(route) => panic!("routed to {route:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn the_wrong_service_is_named() {
        let e = refused(rest("/onair/v1/flows", "medialive"));
        assert_eq!(
            (e.status, e.code),
            (StatusCode::FORBIDDEN, "InvalidSignatureException")
        );
        assert_eq!(
            e.message,
            "Credential should be scoped to correct service: 'mediaconnect' (the request is signed for 'medialive')"
        );
        let e = refused(rest("/prod/channels", "s3"));
        assert!(e.message.contains("'medialive'"), "{}", e.message);
        let e = refused(rest("/", "s3"));
        assert!(
            e.message.ends_with(
                "one onair serves (mediaconnect, medialive, mediapackage, monitoring, logs, sns, iam, sts, secretsmanager), not 's3'"
            ),
            "{}",
            e.message
        );
        // No root of any service: an unknown route, 404.
        let e = refused(rest("/onair/nothing", "mediaconnect"));
        assert_eq!(
            (e.status, e.code),
            (StatusCode::NOT_FOUND, "UnknownOperationException")
        );
    }

    #[test]
    fn targets_need_their_own_service() {
        let cw = format!("{}.ListMetrics", cloudwatch::TARGET_PREFIX);
        let got = resolve(&["onair"], "monitoring", Some(&cw), &Method::POST);
        assert_eq!(
            got.ok(),
            Some(Route::CloudWatch {
                operation: "ListMetrics".into()
            })
        );
        let e = refused(resolve(&[], "mediaconnect", Some(&cw), &Method::POST));
        assert_eq!(
            (e.code, e.shape),
            ("SignatureDoesNotMatch", cloudwatch::SHAPE)
        );
        assert!(e.message.contains("'monitoring'"), "{}", e.message);
        let logs = format!("{}.DescribeLogGroups", logs::TARGET_PREFIX);
        let e = refused(resolve(&[], "monitoring", Some(&logs), &Method::POST));
        assert_eq!(
            (e.code, e.shape),
            ("InvalidSignatureException", ErrorShape::AwsJson)
        );
        let e = refused(resolve(
            &[],
            "logs",
            Some("DynamoDB_20120810.GetItem"),
            &Method::POST,
        ));
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        // CloudWatch over awsQuery, Logs without a target, SNS by GET.
        let e = refused(resolve(&[], "monitoring", None, &Method::POST));
        assert_eq!((e.code, e.shape), ("InvalidAction", CLOUDWATCH_QUERY));
        let e = refused(resolve(&[], "logs", None, &Method::POST));
        assert_eq!(e.shape, ErrorShape::AwsJson);
        assert_eq!(
            resolve(&["onair"], "sns", None, &Method::POST).ok(),
            Some(Route::Sns)
        );
        let e = refused(resolve(&[], "sns", None, &Method::GET));
        assert_eq!(e.shape, sns::SHAPE);
    }

    #[test]
    fn iam_sts_and_secrets_manager() {
        let sm = format!("{}.GetRandomPassword", secretsmanager::TARGET_PREFIX);
        assert_eq!(
            resolve(&[], "secretsmanager", Some(&sm), &Method::POST).ok(),
            Some(Route::SecretsManager {
                operation: "GetRandomPassword".into()
            })
        );
        let e = refused(resolve(&[], "sts", Some(&sm), &Method::POST));
        assert_eq!(
            (e.code, e.shape),
            ("InvalidSignatureException", ErrorShape::AwsJson)
        );
        let e = refused(resolve(&[], "secretsmanager", None, &Method::POST));
        assert_eq!(e.shape, ErrorShape::AwsJson);
        // A path prefix is whatever the endpoint URL has.
        assert_eq!(
            resolve(&["onair"], "iam", None, &Method::POST).ok(),
            Some(Route::Iam)
        );
        assert_eq!(
            resolve(&[], "sts", None, &Method::POST).ok(),
            Some(Route::Sts)
        );
        let e = refused(resolve(&[], "iam", None, &Method::GET));
        assert_eq!((e.code, e.shape), ("InvalidAction", iam::SHAPE));
        let e = refused(resolve(&[], "sts", None, &Method::GET));
        assert_eq!(e.shape, sts::SHAPE);
        // Refused before routing, in the shape of the service called.
        let signed = |service: &str| {
            let mut h = HeaderMap::new();
            let auth = format!(
                "AWS4-HMAC-SHA256 Credential=AKID/20261129/us-east-1/{service}/aws4_request, \
                 SignedHeaders=host;x-amz-date, Signature={}",
                "0".repeat(64)
            );
            h.insert(
                header::AUTHORIZATION,
                axum::http::HeaderValue::from_str(&auth).unwrap(),
            );
            h
        };
        assert_eq!(error_shape(&signed("iam")), iam::SHAPE);
        assert_eq!(error_shape(&signed("sts")), sts::SHAPE);
        assert_eq!(error_shape(&signed("sns")), sns::SHAPE);
        assert_eq!(error_shape(&signed("medialive")), ErrorShape::RestJson);
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-target",
            axum::http::HeaderValue::from_str(&sm).unwrap(),
        );
        assert_eq!(error_shape(&h), ErrorShape::AwsJson);
        assert_eq!(
            auth_error(&SigError::Mismatch, iam::SHAPE).code,
            "SignatureDoesNotMatch"
        );
    }

    #[test]
    fn refusals_take_the_shape_of_the_service_called() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (n, v) in pairs {
                h.insert(*n, axum::http::HeaderValue::from_static(v));
            }
            h
        };
        let cw = headers(&[("x-amz-target", "GraniteServiceVersion20100801.ListMetrics")]);
        assert_eq!(error_shape(&cw), cloudwatch::SHAPE);
        let logs = headers(&[("x-amz-target", "Logs_20140328.PutLogEvents")]);
        assert_eq!(error_shape(&logs), ErrorShape::AwsJson);
        let form = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        assert_eq!(error_shape(&form), sns::SHAPE);
        assert_eq!(error_shape(&headers(&[])), ErrorShape::RestJson);
        let e = auth_error(&SigError::Mismatch, cloudwatch::SHAPE);
        assert_eq!(e.code, "SignatureDoesNotMatch");
        let e = auth_error(&SigError::Missing, ErrorShape::AwsJson);
        assert_eq!(e.code, "MissingAuthenticationTokenException");
    }

    /// Through the whole router, signed as onair's client and botocore sign
    /// (the path with empty segments collapsed): prefixes, empty labels, a
    /// region that is not one, the wrong service.
    #[tokio::test]
    async fn signed_requests_through_the_router() {
        use tower::ServiceExt;
        let store = control::Store::in_memory().unwrap();
        let cp = control::ControlPlane::with_store(store, control::Settings::default());
        let app = crate::router(crate::AppState::standalone(cp, 16));
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let cases = [
            ("/v1/flows", "us-west-2", "mediaconnect", 200, None),
            ("/onair/v1/flows", "us-west-2", "mediaconnect", 200, None),
            (
                "/onair/prod/channels",
                "eu-central-2",
                "medialive",
                200,
                None,
            ),
            ("/onair/channels", "us-west-2", "mediapackage", 200, None),
            (
                "/v1/flows/",
                "us-west-2",
                "mediaconnect",
                404,
                Some("NotFoundException"),
            ),
            (
                "/prod/channels/",
                "us-west-2",
                "medialive",
                404,
                Some("NotFoundException"),
            ),
            (
                "/v1/flows//source-metadata",
                "us-west-2",
                "mediaconnect",
                400,
                Some("BadRequestException"),
            ),
            (
                "/onair/_onair/flows/arn%3Ax/stats",
                "us-west-2",
                "mediaconnect",
                404,
                Some("NotFoundException"),
            ),
            (
                "/onair/flows/arn%3Ax/stats",
                "us-west-2",
                "mediaconnect",
                404,
                Some("UnknownOperationException"),
            ),
            (
                "/v1/flows",
                "moon",
                "mediaconnect",
                403,
                Some("InvalidSignatureException"),
            ),
            (
                "/v1/flows",
                "us-west-2",
                "medialive",
                403,
                Some("InvalidSignatureException"),
            ),
        ];
        for (path, region, service, status, code) in cases {
            let mut headers = vec![("host".to_string(), "onair:8080".to_string())];
            let req = sigv4::SignedRequest {
                method: "GET",
                raw_path: path,
                raw_query: "",
                headers: &headers,
                body: b"",
            };
            let added = sigv4::sign(&req, "AKIDFUZZ", "fuzz", region, service, now);
            headers.extend(added);
            let mut request = axum::http::Request::builder().uri(path);
            for (n, v) in &headers {
                request = request.header(n.as_str(), v.as_str());
            }
            let request = request.body(axum::body::Body::empty()).unwrap();
            let resp = app.clone().oneshot(request).await.unwrap();
            let got = resp
                .headers()
                .get("x-amzn-ErrorType")
                .map(|v| v.to_str().unwrap().to_string());
            assert_eq!(
                (resp.status().as_u16(), got.as_deref()),
                (status, code),
                "{path} {region} {service}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn routing_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120)) {
            fuzz_route(&data);
        }

        #[test]
        fn shaped_paths_route(
            choice in proptest::prelude::any::<u8>(),
            path in "(/(v1|tags|prod|channels|origin_endpoints|_onair|onair|flows|%2F|\\.\\.|\\.|)){0,6}",
            query in "([a-z+%0-9]{0,4}=?[a-z+%2F ]{0,4}&?){0,4}",
        ) {
            let mut data = vec![choice];
            data.extend_from_slice(format!("{path}\0{query}").as_bytes());
            fuzz_route(&data);
        }
    }
}
