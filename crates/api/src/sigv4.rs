//! AWS Signature Version 4, as a server verifies it and as onair's own CLI
//! signs.
//!
//! The canonical request follows the AWS SigV4 specification
//! ("Create a canonical request"): the canonical URI is the *raw* request path
//! URI-encoded once more (so `%3A` in an ARN label becomes `%253A`: the real
//! clients sign that), the query is decoded, re-encoded (RFC 3986 unreserved
//! set) and sorted, header values are trimmed with inner runs of spaces
//! folded, and the payload hash is computed here from the body received (the
//! clients send no `X-Amz-Content-SHA256`).

use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

/// Characters left alone by URI encoding: RFC 3986 unreserved.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
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

fn canonical_query(raw: &str) -> String {
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

fn fold_spaces(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical request string for `req` over `signed_headers`.
pub fn canonical_request(req: &SignedRequest, signed_headers: &[String]) -> String {
    let path = if req.raw_path.is_empty() {
        "/"
    } else {
        req.raw_path
    };
    let uri = utf8_percent_encode(path, PATH).to_string();
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
    if (when - now_unix).abs() > MAX_SKEW_SECS {
        return Err(SigError::Skew(amz_date.into(), format_amz_date(now_unix)));
    }
    if !amz_date.starts_with(&auth.date) {
        return Err(SigError::Malformed(
            "Credential date does not match X-Amz-Date".into(),
        ));
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

    proptest::proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = Authorization::parse(&s);
            let _ = canonical_query(&s);
        }
    }
}
