//! A minimal HTTP/1.1 PUT client for HLS output groups: one request per
//! connection (`Connection: close`), Basic credentials, a deadline on the whole
//! exchange, and only the status line of the answer read. That is all an HLS
//! ingest (an onair MediaPackage channel, nginx WebDAV, most CDNs' PUT ingest)
//! needs, without another HTTP stack in the engine.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use control::medialive::groups::HttpTarget;

/// The largest response head read before the status is judged.
const MAX_HEAD: usize = 8 << 10;

/// Why a PUT failed: the answer's status, when there was one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutError {
    pub status: Option<u16>,
    pub message: String,
}

impl std::fmt::Display for PutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for PutError {
    fn from(message: String) -> Self {
        Self {
            status: None,
            message,
        }
    }
}

/// PUTs `body` to `path` on `target`; `Ok` on a 2xx answer.
pub async fn put(
    target: &HttpTarget,
    path: &str,
    body: &[u8],
    content_type: &str,
    deadline: Duration,
) -> Result<(), PutError> {
    tokio::time::timeout(deadline, exchange(target, path, body, content_type))
        .await
        .map_err(|_| PutError::from(format!("PUT {path}: no answer within {deadline:?}")))?
}

async fn exchange(
    target: &HttpTarget,
    path: &str,
    body: &[u8],
    content_type: &str,
) -> Result<(), PutError> {
    let mut stream = TcpStream::connect(&target.authority)
        .await
        .map_err(|e| format!("PUT {path}: cannot connect to {}: {e}", target.authority))?;
    let mut head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\nUser-Agent: onair\r\n",
        target.authority,
        body.len()
    );
    if let Some((user, password)) = &target.credentials {
        head.push_str("Authorization: Basic ");
        head.push_str(&base64(format!("{user}:{password}").as_bytes()));
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| format!("PUT {path}: {e}"))?;
    stream
        .write_all(body)
        .await
        .map_err(|e| format!("PUT {path}: {e}"))?;
    let mut answer = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !answer.windows(2).any(|w| w == b"\r\n") && answer.len() < MAX_HEAD {
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("PUT {path}: {e}"))?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    match status(&answer) {
        Some(code) if (200..300).contains(&code) => Ok(()),
        Some(code) => Err(PutError {
            status: Some(code),
            message: format!("PUT {path}: the server answered {code}"),
        }),
        None => Err(format!("PUT {path}: no HTTP status line in the answer").into()),
    }
}

/// The status code of an HTTP/1.x status line at the start of `answer`.
pub fn status(answer: &[u8]) -> Option<u16> {
    let line_end = answer.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(answer.get(..line_end)?).ok()?;
    let mut parts = line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok().filter(|c| (100..600).contains(c))
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn status_lines() {
        assert_eq!(status(b"HTTP/1.1 201 Created\r\n"), Some(201));
        assert_eq!(
            status(b"HTTP/1.0 401 Unauthorized\r\nX: y\r\n\r\n"),
            Some(401)
        );
        assert_eq!(status(b"HTTP/1.1 20 OK\r\n"), None);
        assert_eq!(status(b"SIP/2.0 200 OK\r\n"), None);
        assert_eq!(status(b"HTTP/1.1 200 OK"), None);
    }

    proptest! {
        #[test]
        fn status_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = status(&bytes);
        }
    }

    #[tokio::test]
    async fn puts_with_credentials_to_a_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = HttpTarget {
            authority: listener.local_addr().unwrap().to_string(),
            base_path: "/live/main".into(),
            credentials: Some(("user".into(), "pw".into())),
        };
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            while !got.ends_with(b"body") {
                let n = s.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8(got).unwrap()
        });
        put(
            &target,
            "/live/main.m3u8",
            b"body",
            "text/plain",
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        let request = server.await.unwrap();
        assert!(request.starts_with("PUT /live/main.m3u8 HTTP/1.1\r\n"));
        assert!(request.contains("Authorization: Basic dXNlcjpwdw==\r\n"));
        assert!(request.contains("Content-Length: 4\r\n"));
    }
}
