use super::*;

proptest::proptest! {
    #[test]
    fn any_bytes_are_decided_without_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        fuzz_head(&data);
    }

    #[test]
    fn origin_heads_with_any_headers_are_decided_without_panic(
        method in "(GET|HEAD|PUT|get)",
        file in "[a-z_0-9.]{0,20}",
        headers in proptest::collection::vec(("[A-Za-z-]{1,16}", "[ -~]{0,40}"), 0..8),
        version in "1\\.[01]",
    ) {
        let mut head = format!("{method} /out/v1/live/ep/{file} HTTP/{version}\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        fuzz_head(head.as_bytes());
    }
}

#[test]
fn dates_are_http_dates() {
    let mut out = Vec::new();
    http_date(&mut out);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.len(), 29, "{text}");
    assert!(text.ends_with(" GMT"), "{text}");
    assert_eq!(text.as_bytes()[3], b',', "{text}");
}

// ---------------------------------------------------------------- limits on the wire

mod wire {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    use crate::forwarded::{parse_net, TrustedProxies};
    use crate::front::{serve, Front, Limits};
    use crate::{sigv4, AppState};

    const MS: Duration = Duration::from_millis(1);

    /// A server on a loopback port with a packaging channel `live` and an origin
    /// endpoint `ep` whose whitelist is 203.0.113.0/24.
    async fn start(limits: Limits, proxies: &[&str]) -> (std::net::SocketAddr, AppState) {
        let store = control::store::Store::in_memory().unwrap();
        let cp = control::ControlPlane::with_store(store, control::Settings::default());
        cp.create_package_channel("us-west-2", &serde_json::json!({"id": "live"}))
            .unwrap();
        cp.create_origin_endpoint(
            "us-west-2",
            &serde_json::json!({"id": "ep", "channelId": "live", "hlsPackage": {},
                                "whitelist": ["203.0.113.0/24"]}),
        )
        .unwrap();
        let mut state = AppState::standalone(cp, 1000);
        let proxies = proxies.iter().map(|p| parse_net(p).unwrap()).collect();
        state.front = Arc::new(Front::new(limits, TrustedProxies::new(proxies)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, state.clone()));
        (addr, state)
    }

    fn limits(header_ms: u32, body_ms: u32, idle_ms: u32) -> Limits {
        Limits {
            header_timeout: header_ms * MS,
            body_timeout: body_ms * MS,
            idle_timeout: idle_ms * MS,
            max_connections: 64,
        }
    }

    /// Everything the server sends until it closes (a reset counts as a close),
    /// and how long that took; fails after `within`.
    async fn until_closed(s: &mut TcpStream, within: Duration) -> (Vec<u8>, Duration) {
        let started = Instant::now();
        let mut out = Vec::new();
        let read = tokio::time::timeout(within, async {
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        assert!(
            read.is_ok(),
            "still open after {within:?}: {:?}",
            String::from_utf8_lossy(&out)
        );
        (out, started.elapsed())
    }

    /// One response: its status, its head (lowercase) and its body.
    async fn response(s: &mut TcpStream) -> (u16, String, Vec<u8>) {
        let mut buf = Vec::new();
        loop {
            let parsed = {
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut resp = httparse::Response::new(&mut headers);
                match resp.parse(&buf).unwrap() {
                    httparse::Status::Complete(n) => {
                        let length = resp
                            .headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                            .map_or(0, |h| {
                                std::str::from_utf8(h.value).unwrap().parse().unwrap()
                            });
                        Some((resp.code.unwrap(), n, length))
                    }
                    httparse::Status::Partial => None,
                }
            };
            if let Some((code, n, length)) = parsed {
                while buf.len() < n + length {
                    read_more(s, &mut buf).await;
                }
                let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                return (code, head, buf[n..n + length].to_vec());
            }
            read_more(s, &mut buf).await;
        }
    }

    async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .expect("no response within 5 s")
            .unwrap();
        assert!(
            n > 0,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }

    fn status(bytes: &[u8]) -> Option<u16> {
        let text = std::str::from_utf8(bytes).ok()?;
        text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
    }

    async fn connect(addr: std::net::SocketAddr) -> TcpStream {
        TcpStream::connect(addr).await.unwrap()
    }

    /// An unsigned API call: hyper answers it (403).
    const UNSIGNED: &[u8] = b"GET /v1/flows HTTP/1.1\r\nhost: onair\r\n\r\n";

    #[tokio::test]
    async fn idle_connections_are_closed() {
        let (addr, state) = start(limits(5000, 5000, 300), &[]).await;
        let mut s = connect(addr).await;
        let (bytes, took) = until_closed(&mut s, Duration::from_secs(3)).await;
        assert!(bytes.is_empty(), "{bytes:?}");
        assert!(took >= 280 * MS, "{took:?}");
        let counters = &state.front.counters;
        assert_eq!(counters.idle_timeouts.load(Ordering::Relaxed), 1);
        assert_eq!(counters.header_timeouts.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_slow_head_gets_408_on_the_short_path() {
        let (addr, state) = start(limits(300, 5000, 5000), &[]).await;
        let mut s = connect(addr).await;
        s.write_all(b"GET /out/v1/live/ep/index.m3u8 HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        let (bytes, took) = until_closed(&mut s, Duration::from_secs(3)).await;
        assert_eq!(
            status(&bytes),
            Some(408),
            "{:?}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(String::from_utf8_lossy(&bytes).contains("RequestTimeoutException"));
        assert!(took >= 280 * MS, "{took:?}");
        assert_eq!(
            state.front.counters.header_timeouts.load(Ordering::Relaxed),
            1
        );
    }

    #[tokio::test]
    async fn a_head_is_timed_from_its_first_byte() {
        // Idle for longer than the header timeout, then a whole head at once.
        let (addr, _) = start(limits(200, 5000, 3000), &[]).await;
        let mut s = connect(addr).await;
        tokio::time::sleep(500 * MS).await;
        s.write_all(UNSIGNED).await.unwrap();
        assert_eq!(response(&mut s).await.0, 403);
    }

    #[tokio::test]
    async fn keep_alive_requests_within_the_limits_are_served() {
        // Five requests 150 ms apart on one connection, idle timeout 300 ms: each
        // request starts the idle wait again.
        let (addr, state) = start(limits(300, 300, 300), &[]).await;
        let mut s = connect(addr).await;
        for _ in 0..5 {
            s.write_all(UNSIGNED).await.unwrap();
            let (code, head, _) = response(&mut s).await;
            assert_eq!(code, 403);
            assert!(!head.contains("connection: close"), "{head}");
            tokio::time::sleep(150 * MS).await;
        }
        let counters = &state.front.counters;
        assert_eq!(counters.idle_timeouts.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn hyper_keeps_the_idle_and_header_timeouts_apart() {
        let (addr, state) = start(limits(300, 5000, 800), &[]).await;
        // A request hyper answers, a pause shorter than the idle timeout but longer
        // than the header timeout, then half a head: 408 a header timeout later.
        let mut s = connect(addr).await;
        s.write_all(UNSIGNED).await.unwrap();
        assert_eq!(response(&mut s).await.0, 403);
        tokio::time::sleep(500 * MS).await;
        s.write_all(b"GET /v1/flows HTTP/1.1\r\n").await.unwrap();
        let (bytes, took) = until_closed(&mut s, Duration::from_secs(3)).await;
        assert_eq!(
            status(&bytes),
            Some(408),
            "{:?}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(took >= 280 * MS && took < 780 * MS, "{took:?}");
        assert_eq!(
            state.front.counters.header_timeouts.load(Ordering::Relaxed),
            1
        );
        // After a response, nothing: closed an idle timeout later.
        let mut s = connect(addr).await;
        s.write_all(UNSIGNED).await.unwrap();
        assert_eq!(response(&mut s).await.0, 403);
        let (bytes, took) = until_closed(&mut s, Duration::from_secs(3)).await;
        assert!(bytes.is_empty());
        assert!(took >= 780 * MS, "{took:?}");
        assert_eq!(
            state.front.counters.idle_timeouts.load(Ordering::Relaxed),
            1
        );
    }

    /// The head of a POST to the MediaLive API, signed with the standalone
    /// credentials over `body`, declaring `length` bytes.
    fn signed_post(addr: std::net::SocketAddr, body: &[u8], length: usize) -> Vec<u8> {
        let headers = vec![("host".to_string(), addr.to_string())];
        let req = sigv4::SignedRequest {
            method: "POST",
            raw_path: "/prod/channels",
            raw_query: "",
            headers: &headers,
            body,
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut head = format!("POST /prod/channels HTTP/1.1\r\nhost: {addr}\r\n");
        for (name, value) in sigv4::sign(&req, "AKIDFUZZ", "fuzz", "us-west-2", "medialive", now) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("content-length: {length}\r\n\r\n"));
        head.into_bytes()
    }

    #[tokio::test]
    async fn a_stalled_body_gets_408() {
        let (addr, state) = start(limits(5000, 300, 5000), &[]).await;
        let body = vec![b' '; 100];
        let mut s = connect(addr).await;
        s.write_all(&signed_post(addr, &body, body.len()))
            .await
            .unwrap();
        s.write_all(&body[..10]).await.unwrap();
        let (bytes, took) = until_closed(&mut s, Duration::from_secs(3)).await;
        let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        assert_eq!(status(&bytes), Some(408), "{text}");
        assert!(text.contains("requesttimeoutexception") && text.contains("connection: close"));
        assert!(took >= 280 * MS, "{took:?}");
        assert_eq!(
            state.front.counters.body_timeouts.load(Ordering::Relaxed),
            1
        );
        // The whole body in time: the call goes through to MediaLive (which finds
        // the JSON wanting).
        let mut s = connect(addr).await;
        s.write_all(&signed_post(addr, &body, body.len()))
            .await
            .unwrap();
        s.write_all(&body).await.unwrap();
        let (code, head, _) = response(&mut s).await;
        assert!(![403, 408, 413].contains(&code), "{code} {head}");
    }

    #[tokio::test]
    async fn bodies_are_refused_before_they_are_read() {
        // Only heads are sent: every answer must come without the body.
        let (addr, _) = start(limits(5000, 10_000, 5000), &[]).await;
        let checks: [(Vec<u8>, u16, &str); 3] = [
            // Signed, but larger than an API call may be.
            (
                signed_post(addr, b"", 3 << 20),
                413,
                "payloadtoolargeexception",
            ),
            // Not signed at all.
            (
                b"POST /prod/channels HTTP/1.1\r\nhost: x\r\ncontent-length: 10000000\r\n\r\n"
                    .to_vec(),
                403,
                "missingauthenticationtokenexception",
            ),
            // Signed with a key onair does not know.
            (
                String::from_utf8(signed_post(addr, b"", 1000))
                    .unwrap()
                    .replace("AKIDFUZZ", "AKIDOTHER")
                    .into_bytes(),
                403,
                "unrecognizedclientexception",
            ),
        ];
        for (head, code, error) in checks {
            let mut s = connect(addr).await;
            s.write_all(&head).await.unwrap();
            let (bytes, took) = until_closed(&mut s, Duration::from_secs(3)).await;
            let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
            assert_eq!(status(&bytes), Some(code), "{text}");
            assert!(
                text.contains(error) && text.contains("connection: close"),
                "{text}"
            );
            assert!(took < Duration::from_secs(2), "{took:?}");
        }
    }

    #[tokio::test]
    async fn connections_past_the_cap_get_503() {
        let mut limits = limits(5000, 5000, 5000);
        limits.max_connections = 2;
        let (addr, state) = start(limits, &[]).await;
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut s = connect(addr).await;
            s.write_all(UNSIGNED).await.unwrap();
            assert_eq!(response(&mut s).await.0, 403);
            held.push(s);
        }
        assert_eq!(state.front.open_connections(), 2);
        let mut s = connect(addr).await;
        let (bytes, _) = until_closed(&mut s, Duration::from_secs(3)).await;
        let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        assert_eq!(status(&bytes), Some(503), "{text}");
        assert!(text.contains("serviceunavailableexception") && text.contains("connection: close"));
        assert_eq!(state.front.counters.refused.load(Ordering::Relaxed), 1);
        // A connection closes: its place is free again.
        drop(held.pop());
        let served = tokio::time::timeout(Duration::from_secs(3), async {
            loop {
                let mut s = connect(addr).await;
                s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                    .await
                    .unwrap();
                let mut buf = Vec::new();
                let _ = s.read_to_end(&mut buf).await;
                if status(&buf) == Some(200) {
                    return String::from_utf8_lossy(&buf).into_owned();
                }
                tokio::time::sleep(20 * MS).await;
            }
        })
        .await
        .expect("a connection is served once one closed");
        for line in [
            "onair_http_connections_refused 1\n",
            "onair_http_connections_open 2\n",
            "onair_http_timeouts{phase=\"idle\"} 0\n",
        ] {
            assert!(served.contains(line), "{line} in {served}");
        }
    }

    async fn whitelisted(addr: std::net::SocketAddr, forwarded: &[&str]) -> u16 {
        let mut head = String::from("GET /out/v1/live/ep/index.m3u8 HTTP/1.1\r\nhost: x\r\n");
        for line in forwarded {
            head.push_str(&format!("x-forwarded-for: {line}\r\n"));
        }
        head.push_str("\r\n");
        let mut s = connect(addr).await;
        s.write_all(head.as_bytes()).await.unwrap();
        response(&mut s).await.0
    }

    #[tokio::test]
    async fn forwarded_for_counts_only_from_trusted_proxies() {
        // 403: refused by the whitelist; 404: allowed (nothing was ingested).
        let (open, _) = start(limits(5000, 5000, 5000), &[]).await;
        assert_eq!(whitelisted(open, &[]).await, 403);
        assert_eq!(whitelisted(open, &["203.0.113.9"]).await, 403);
        let (proxied, _) = start(limits(5000, 5000, 5000), &["127.0.0.1"]).await;
        for (lines, code) in [
            (&[][..], 403),
            (&["203.0.113.9"][..], 404),
            // nginx appended the address it saw after the client's claim.
            (&["203.0.113.9, 198.51.100.1"][..], 403),
            (&["198.51.100.1, 203.0.113.9"][..], 404),
            (&["198.51.100.1", "203.0.113.9"][..], 404),
            (&["unknown"][..], 403),
        ] {
            assert_eq!(whitelisted(proxied, lines).await, code, "{lines:?}");
        }
    }
}
