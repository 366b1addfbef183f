//! AWS Signature Version 4, as a server verifies it and as onair's own CLI
//! signs.
//!
//! The canonical request follows the AWS SigV4 specification
//! ("Create a canonical request"): the canonical URI is the *raw* request path,
//! normalised as RFC 3986 §5.2.4 removes dot segments and with empty segments
//! dropped (`//` is one `/`; a trailing `/` stays), then URI-encoded once more (so
//! `%3A` in an ARN label becomes `%253A`) — exactly what botocore's `SigV4Auth`
//! signs for every service but S3 ([`normalize_path`]). The query is decoded,
//! re-encoded (RFC 3986 unreserved set) and sorted, header values are trimmed
//! with inner runs of spaces folded, and the payload hash is computed here from
//! the body received (the clients send no `X-Amz-Content-SHA256`).
//!
//! The credential scope is checked too: its date must be the day of
//! `X-Amz-Date`, and its region must look like an AWS region
//! ([`valid_region`]). Whether its service is one onair serves on the path
//! asked for is the router's question (`crate::route`).

use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// Characters left alone by URI encoding: RFC 3986 unreserved.
pub(crate) const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// The path keeps its slashes.
const PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Allowed difference between the request's `X-Amz-Date` and our clock.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Why a request's signature was refused; the message goes to the client.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigError {
    #[error("Missing Authentication Token: the request is not signed (no Authorization header)")]
    Missing,
    #[error("Authorization header is malformed: {0}")]
    Malformed(String),
    #[error("The security token included in the request is invalid: unknown access key id '{0}'")]
    UnknownKey(String),
    #[error("Signature expired: X-Amz-Date {0} is more than 15 minutes from the server time {1}")]
    Skew(String, String),
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")]
    Mismatch,
    /// The credential scope names a region or service that is not served
    /// here; the message says which and what would be.
    #[error("Credential should be scoped to {0}")]
    Scope(String),
}

/// The parsed `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub struct Authorization {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    /// Parses `AWS4-HMAC-SHA256 Credential=AK/20261124/us-east-1/mediaconnect/aws4_request, SignedHeaders=…, Signature=…`.
    pub fn parse(header: &str) -> Result<Authorization, SigError> {
        let rest = header
            .strip_prefix("AWS4-HMAC-SHA256")
            .ok_or_else(|| SigError::Malformed("algorithm must be AWS4-HMAC-SHA256".into()))?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("Credential=") {
                credential = Some(v);
            } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
                signed = Some(v);
            } else if let Some(v) = part.strip_prefix("Signature=") {
                signature = Some(v);
            }
        }
        let credential = credential.ok_or_else(|| SigError::Malformed("no Credential".into()))?;
        let signed = signed.ok_or_else(|| SigError::Malformed("no SignedHeaders".into()))?;
        let signature = signature.ok_or_else(|| SigError::Malformed("no Signature".into()))?;
        let scope: Vec<&str> = credential.split('/').collect();
        let [access_key, date, region, service, terminator] = scope[..] else {
            return Err(SigError::Malformed(format!(
                "Credential '{credential}' is not AK/date/region/service/aws4_request"
            )));
        };
        if terminator != "aws4_request" || date.len() != 8 || region.is_empty() {
            return Err(SigError::Malformed(format!(
                "Credential scope '{credential}' is invalid"
            )));
        }
        Ok(Authorization {
            access_key: access_key.into(),
            date: date.into(),
            region: region.into(),
            service: service.into(),
            signed_headers: signed.split(';').map(|h| h.to_ascii_lowercase()).collect(),
            signature: signature.to_ascii_lowercase(),
        })
    }
}

/// The parts of a request that are signed.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path exactly as sent (still percent-encoded).
    pub raw_path: &'a str,
    /// The query string exactly as sent, without `?`.
    pub raw_query: &'a str,
    /// Header (name, value) pairs; names in any case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The canonical query string: each `&`-separated pair percent-decoded
/// (`+` read as a space), re-encoded in the RFC 3986 unreserved set, the
/// pairs sorted by key then value.
pub fn canonical_query(raw: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (
                utf8_percent_encode(&dec(k), UNRESERVED).to_string(),
                utf8_percent_encode(&dec(v), UNRESERVED).to_string(),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The path as botocore signs it (`botocore.utils.normalize_url_path`): dot
/// segments removed as RFC 3986 §5.2.4 says (`..` drops the segment before
/// it, never climbing above the root), empty segments dropped, the leading
/// `/` kept, a trailing `/` kept unless nothing is left; an empty path is
/// `/`. Works on the raw path, so `%2F` inside a label is not a separator
/// and `%2E%2E` is not a dot segment.
pub fn normalize_path(raw: &str) -> String {
    if raw.is_empty() {
        return "/".into();
    }
    let mut kept: Vec<&str> = Vec::new();
    for segment in raw.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            s => kept.push(s),
        }
    }
    let first = if raw.starts_with('/') { "/" } else { "" };
    let last = if raw.ends_with('/') && !kept.is_empty() {
        "/"
    } else {
        ""
    };
    format!("{first}{}{last}", kept.join("/"))
}

/// Whether a credential scope's region looks like an AWS region:
/// lowercase words joined by `-`, the first of two letters or more, ending
/// with a number (`us-east-1`, `eu-central-2`, `us-gov-west-1`,
/// `cn-northwest-1`). onair answers in every such region; its resources
/// carry the region they were made in.
pub fn valid_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., number] = parts.as_slice() else {
        return false;
    };
    let word = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    region.len() <= 32
        && word(first)
        && first.len() >= 2
        && !middle.is_empty()
        && middle.iter().all(word)
        && (1..=2).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit())
}

fn fold_spaces(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical request string for `req` over `signed_headers`.
pub fn canonical_request(req: &SignedRequest, signed_headers: &[String]) -> String {
    let uri = utf8_percent_encode(&normalize_path(req.raw_path), PATH).to_string();
    let mut headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| fold_spaces(v))
            .collect();
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    format!(
        "{}\n{uri}\n{}\n{headers}\n{}\n{}",
        req.method,
        canonical_query(req.raw_query),
        signed_headers.join(";"),
        sha256_hex(req.body)
    )
}

/// The signature of a canonical request with the given scope and secret.
pub fn signature(
    secret: &str,
    amz_date: &str,
    auth_date: &str,
    region: &str,
    service: &str,
    canonical: &str,
) -> String {
    let scope = format!("{auth_date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), auth_date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex::encode(hmac(&k_signing, to_sign.as_bytes()))
}

fn header<'a>(req: &'a SignedRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Parses `yyyymmddTHHMMSSZ` to Unix seconds.
fn parse_amz_date(s: &str) -> Option<i64> {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, fmt)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// Formats Unix seconds as `yyyymmddTHHMMSSZ`.
pub fn format_amz_date(unix: i64) -> String {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(fmt).ok())
        .unwrap_or_default()
}

/// Verifies a request. `secret_for` maps an access key id to its secret.
/// Returns the parsed authorization (region and service come from it).
pub fn verify(
    req: &SignedRequest,
    now_unix: i64,
    secret_for: impl Fn(&str) -> Option<String>,
) -> Result<Authorization, SigError> {
    let auth = header(req, "authorization").ok_or(SigError::Missing)?;
    let auth = Authorization::parse(auth)?;
    let secret = secret_for(&auth.access_key)
        .ok_or_else(|| SigError::UnknownKey(auth.access_key.clone()))?;
    let amz_date = header(req, "x-amz-date")
        .ok_or_else(|| SigError::Malformed("no X-Amz-Date header".into()))?;
    let when = parse_amz_date(amz_date).ok_or_else(|| {
        SigError::Malformed(format!("X-Amz-Date '{amz_date}' is not yyyymmddTHHMMSSZ"))
    })?;
    if when.abs_diff(now_unix) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(SigError::Skew(amz_date.into(), format_amz_date(now_unix)));
    }
    if !amz_date.starts_with(&auth.date) {
        return Err(SigError::Malformed(
            "Credential date does not match X-Amz-Date".into(),
        ));
    }
    if !valid_region(&auth.region) {
        return Err(SigError::Scope(format!(
            "a valid region (like us-east-1), not '{}'",
            auth.region
        )));
    }
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(SigError::Malformed(
            "SignedHeaders must include host".into(),
        ));
    }
    let canonical = canonical_request(req, &auth.signed_headers);
    let expected = signature(
        &secret,
        amz_date,
        &auth.date,
        &auth.region,
        &auth.service,
        &canonical,
    );
    if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(SigError::Mismatch);
    }
    Ok(auth)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Signs a request the way the AWS clients do; returns the headers to add
/// (`x-amz-date`, `authorization`). `headers` must already hold `host`.
pub fn sign(
    req: &SignedRequest,
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    now_unix: i64,
) -> Vec<(String, String)> {
    let amz_date = format_amz_date(now_unix);
    let date = amz_date.get(..8).unwrap_or_default().to_string();
    let mut headers = req.headers.to_vec();
    headers.push(("x-amz-date".into(), amz_date.clone()));
    let mut signed: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    signed.sort();
    signed.dedup();
    let with_date = SignedRequest {
        headers: &headers,
        ..*req
    };
    let canonical = canonical_request(&with_date, &signed);
    let sig = signature(secret, &amz_date, &date, region, service, &canonical);
    vec![
        ("x-amz-date".into(), amz_date),
        (
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={access_key}/{date}/{region}/{service}/aws4_request, SignedHeaders={}, Signature={sig}",
                signed.join(";")
            ),
        ),
    ]
}

/// The body of the `sigv4_request` fuzz target (and of a property test): the
/// bytes, cut on NUL, are a method, a raw path, a raw query, header lines
/// (`name: value`) and a body. The request is verified as it came (an error
/// or not, never a panic); then it is signed as onair's client signs and
/// verified again, which must pass; the canonical query, and the canonical
/// path of an origin-form path (from `/`), are fixed points of their own
/// normalisation.
#[doc(hidden)]
pub fn fuzz_request(data: &[u8]) {
    let parts: Vec<&[u8]> = data.splitn(5, |&b| b == 0).collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    let text = |i: usize| String::from_utf8_lossy(part(i)).into_owned();
    let (method, raw_path, raw_query, header_lines) = (text(0), text(1), text(2), text(3));
    let body = part(4);
    let token = |n: &&str| {
        !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let mut headers: Vec<(String, String)> = header_lines
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| token(n))
        .map(|(n, v)| (n.to_string(), v.trim().to_string()))
        .collect();
    let now = 1_800_000_000;
    let secret = |k: &str| (k == "AKID").then(|| "secret".to_string());
    let received = SignedRequest {
        method: &method,
        raw_path: &raw_path,
        raw_query: &raw_query,
        headers: &headers,
        body,
    };
    let _ = verify(&received, now, secret);

    let query = canonical_query(&raw_query);
    assert_eq!(canonical_query(&query), query);
    let path = normalize_path(&raw_path);
    if raw_path.starts_with('/') {
        assert_eq!(normalize_path(&path), path, "{raw_path:?}");
    }

    headers.retain(|(n, _)| {
        !["authorization", "x-amz-date", "host"]
            .iter()
            .any(|h| n.eq_ignore_ascii_case(h))
    });
    headers.push(("host".into(), "127.0.0.1:8080".into()));
    let unsigned = SignedRequest {
        method: &method,
        raw_path: &raw_path,
        raw_query: &raw_query,
        headers: &headers,
        body,
    };
    let added = sign(
        &unsigned,
        "AKID",
        "secret",
        "eu-west-1",
        "mediaconnect",
        now,
    );
    headers.extend(added);
    let signed = SignedRequest {
        method: &method,
        raw_path: &raw_path,
        raw_query: &raw_query,
        headers: &headers,
        body,
    };
    let verified = verify(&signed, now, secret);
    assert!(
        verified.is_ok(),
        "a request onair signed does not verify: {verified:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    // The "get-vanilla" case of the AWS SigV4 test suite: its published
    // inputs (credentials, date, request) and expected signature.
    #[test]
    fn aws_test_suite_get_vanilla() {
        let headers = vec![
            ("Host".to_string(), "example.amazonaws.com".to_string()),
            ("X-Amz-Date".to_string(), "20150830T123600Z".to_string()),
            (
                "Authorization".to_string(),
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31".to_string(),
            ),
        ];
        let req = SignedRequest {
            method: "GET",
            raw_path: "/",
            raw_query: "",
            headers: &headers,
            body: b"",
        };
        let now = parse_amz_date("20150830T123600Z").unwrap();
        let secret = |k: &str| {
            (k == "AKIDEXAMPLE").then(|| "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_string())
        };
        let auth = verify(&req, now, secret).unwrap();
        assert_eq!(auth.region, "us-east-1");
        assert_eq!(auth.service, "service");
    }

    fn signed(path: &str, body: &[u8], now: i64) -> Vec<(String, String)> {
        let mut headers = vec![("host".to_string(), "127.0.0.1:8080".to_string())];
        let req = SignedRequest {
            method: "POST",
            raw_path: path,
            raw_query: "maxResults=5&b=a%20b",
            headers: &headers,
            body,
        };
        headers.extend(sign(&req, "AK", "SECRET", "eu-west-1", "mediaconnect", now));
        headers
    }

    #[test]
    fn sign_then_verify_with_arn_labels() {
        let now = 1_800_000_000;
        let path = "/v1/flows/arn%3Aaws%3Amediaconnect%3Aus-east-1%3A1%3Aflow%3A1-a-b%3AX";
        let headers = signed(path, b"{}", now);
        let req = SignedRequest {
            method: "POST",
            raw_path: path,
            raw_query: "b=a%20b&maxResults=5",
            headers: &headers,
            body: b"{}",
        };
        let secret = |_: &str| Some("SECRET".to_string());
        assert_eq!(verify(&req, now + 60, secret).unwrap().region, "eu-west-1");
        // A different body, key or clock fails.
        let tampered = SignedRequest {
            body: b"{\"x\":1}",
            ..req
        };
        assert_eq!(verify(&tampered, now, secret), Err(SigError::Mismatch));
        assert_eq!(
            verify(&req, now, |_| Some("OTHER".into())),
            Err(SigError::Mismatch)
        );
        assert!(matches!(
            verify(&req, now + 16 * 60, secret),
            Err(SigError::Skew(..))
        ));
        assert!(matches!(
            verify(&req, now, |_| None),
            Err(SigError::UnknownKey(_))
        ));
    }

    #[test]
    fn clock_skew_is_allowed_up_to_fifteen_minutes_on_any_clock() {
        let now = 1_800_000_000;
        let path = "/v1/flows";
        let headers = signed(path, b"", now);
        let req = SignedRequest {
            method: "POST",
            raw_path: path,
            raw_query: "maxResults=5&b=a%20b",
            headers: &headers,
            body: b"",
        };
        let secret = |_: &str| Some("SECRET".to_string());
        for at in [now - MAX_SKEW_SECS, now + MAX_SKEW_SECS] {
            assert!(verify(&req, at, secret).is_ok(), "{at}");
        }
        // Past it, and clocks whose difference from the date overflows i64.
        for at in [
            now - MAX_SKEW_SECS - 1,
            now + MAX_SKEW_SECS + 1,
            i64::MIN,
            i64::MAX,
        ] {
            assert!(
                matches!(verify(&req, at, secret), Err(SigError::Skew(..))),
                "{at}"
            );
        }
    }

    #[test]
    fn canonical_uri_is_double_encoded() {
        let headers = vec![("host".to_string(), "h".to_string())];
        let req = SignedRequest {
            method: "GET",
            raw_path: "/v1/flows/arn%3Aaws",
            raw_query: "",
            headers: &headers,
            body: b"",
        };
        let c = canonical_request(&req, &["host".to_string()]);
        assert!(c.starts_with("GET\n/v1/flows/arn%253Aaws\n"), "{c}");
    }

    #[test]
    fn malformed_headers_are_refused_not_panicked_on() {
        for h in [
            "",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00",
            "Basic abc",
        ] {
            assert!(Authorization::parse(h).is_err(), "{h}");
        }
    }

    /// botocore's `normalize_url_path` on the same paths (awscli 1.46.3).
    #[test]
    fn paths_normalise_as_botocore_does() {
        for (raw, botocore) in [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/v1/flows/", "/v1/flows/"),
            ("/v1/flows//source-metadata", "/v1/flows/source-metadata"),
            ("/a/./b/../c", "/a/c"),
            ("/../a", "/a"),
            ("/a/..", "/"),
            ("/a/../", "/"),
            ("a/b", "a/b"),
            ("/%2E%2E/x", "/%2E%2E/x"),
            ("/onair//v1/flows", "/onair/v1/flows"),
            ("/a/b/.", "/a/b"),
            ("/./", "/"),
            // Relative paths (never on a request line) as botocore has them.
            ("..", ""),
            ("a/..", ""),
        ] {
            assert_eq!(normalize_path(raw), botocore, "{raw:?}");
        }
    }

    /// What botocore sends for `describe-flow-source-metadata --flow-arn ""`
    /// (`/v1/flows//source-metadata`) is signed over the collapsed path.
    #[test]
    fn a_double_slash_verifies_against_the_collapsed_path() {
        let now = 1_800_000_000;
        let mut headers = vec![("host".to_string(), "h:1".to_string())];
        let collapsed = SignedRequest {
            method: "GET",
            raw_path: "/v1/flows/source-metadata",
            raw_query: "",
            headers: &headers,
            body: b"",
        };
        headers.extend(sign(
            &collapsed,
            "AK",
            "S",
            "us-east-1",
            "mediaconnect",
            now,
        ));
        let sent = SignedRequest {
            method: "GET",
            raw_path: "/v1/flows//source-metadata",
            raw_query: "",
            headers: &headers,
            body: b"",
        };
        assert!(verify(&sent, now, |_| Some("S".into())).is_ok());
    }

    #[test]
    fn regions_must_look_like_regions() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "cn-northwest-1",
            "ap-southeast-5",
        ] {
            assert!(valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "moon",
            "us-east",
            "US-EAST-1",
            "us--1",
            "-east-1",
            "us-east-123",
            "u-east-1",
            "us-east-1a",
        ] {
            assert!(!valid_region(bad), "{bad}");
        }
        let now = 1_800_000_000;
        let mut headers = vec![("host".to_string(), "h:1".to_string())];
        let req = SignedRequest {
            method: "GET",
            raw_path: "/v1/flows",
            raw_query: "",
            headers: &headers,
            body: b"",
        };
        headers.extend(sign(&req, "AK", "S", "moon", "mediaconnect", now));
        let req = SignedRequest {
            method: "GET",
            raw_path: "/v1/flows",
            raw_query: "",
            headers: &headers,
            body: b"",
        };
        let err = verify(&req, now, |_| Some("S".into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Credential should be scoped to a valid region (like us-east-1), not 'moon'"
        );
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = Authorization::parse(&s);
            let _ = canonical_query(&s);
        }

        #[test]
        fn any_request_signs_and_verifies(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            fuzz_request(&data);
        }

        #[test]
        fn shaped_requests_sign_and_verify(
            method in "(GET|PUT|POST|DELETE)",
            path in "(/[a-z0-9%.]{0,6}){0,5}/?",
            query in "([a-zA-Z+%0-9]{0,4}=?[a-z+%2F ]{0,4}&?){0,4}",
            headers in "(([A-Za-z-]{1,8}): ?[ -~]{0,12}\n){0,4}",
            body in ".{0,20}",
        ) {
            fuzz_request(format!("{method}\0{path}\0{query}\0{headers}\0{body}").as_bytes());
        }
    }
}
