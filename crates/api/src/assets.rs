//! The browser pages' files, compiled into the binary: onair serves the
//! dashboard and the player from any working directory and after
//! `cargo install`, with nothing read from disk at run time.
//!
//! Our own files are in `web/` (hand-written ES modules, no bundler); hls.js
//! and uPlot come from the npm registry through `web/package-lock.json`
//! (`npm ci --prefix web`, which `build.rs` insists on). Each answer carries
//! its content type, a strong `ETag` (SHA-256 of the bytes) and
//! `Cache-Control: no-cache`, so a browser revalidates with a cheap 304 and
//! never keeps a stale page after an upgrade.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// The last segment of its URL.
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! web {
    ($path:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/", $path))
    };
}

/// Every embedded file, by name.
pub static ASSETS: &[Asset] = &[
    Asset {
        name: "index.html",
        content_type: HTML,
        body: web!("dashboard/index.html"),
    },
    Asset {
        name: "dashboard.css",
        content_type: CSS,
        body: web!("dashboard/dashboard.css"),
    },
    Asset {
        name: "main.js",
        content_type: JS,
        body: web!("dashboard/main.js"),
    },
    Asset {
        name: "dom.js",
        content_type: JS,
        body: web!("dashboard/dom.js"),
    },
    Asset {
        name: "flows.js",
        content_type: JS,
        body: web!("dashboard/flows.js"),
    },
    Asset {
        name: "channels.js",
        content_type: JS,
        body: web!("dashboard/channels.js"),
    },
    Asset {
        name: "alarms.js",
        content_type: JS,
        body: web!("dashboard/alarms.js"),
    },
    Asset {
        name: "chart.js",
        content_type: JS,
        body: web!("dashboard/chart.js"),
    },
    Asset {
        name: "watch.js",
        content_type: JS,
        body: web!("dashboard/watch.js"),
    },
    Asset {
        name: "demo.js",
        content_type: JS,
        body: web!("dashboard/demo.js"),
    },
    Asset {
        name: "player.html",
        content_type: HTML,
        body: web!("player.html"),
    },
    Asset {
        name: "player.js",
        content_type: JS,
        body: web!("player.js"),
    },
    Asset {
        name: "hls.min.js",
        content_type: JS,
        body: web!("node_modules/hls.js/dist/hls.min.js"),
    },
    Asset {
        name: "uPlot.iife.min.js",
        content_type: JS,
        body: web!("node_modules/uplot/dist/uPlot.iife.min.js"),
    },
    Asset {
        name: "uPlot.min.css",
        content_type: CSS,
        body: web!("node_modules/uplot/dist/uPlot.min.css"),
    },
];

/// The embedded file called `name`.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

impl Asset {
    /// `"<first 16 bytes of SHA-256, hex>"`, computed once per file.
    pub fn etag(&self) -> &'static str {
        static TAGS: OnceLock<Vec<String>> = OnceLock::new();
        let tags = TAGS.get_or_init(|| {
            ASSETS
                .iter()
                .map(|a| {
                    let digest = Sha256::digest(a.body);
                    format!("\"{}\"", hex::encode(digest.get(..16).unwrap_or(&[])))
                })
                .collect()
        });
        ASSETS
            .iter()
            .position(|a| std::ptr::eq(a, self))
            .and_then(|i| tags.get(i))
            .map_or("\"\"", String::as_str)
    }

    /// The answer to a GET or HEAD: 200 with the file (no body for HEAD),
    /// or 304 when `If-None-Match` names its ETag.
    pub fn serve(&'static self, method: &Method, request: &HeaderMap) -> Response {
        if method != Method::GET && method != Method::HEAD {
            return (
                StatusCode::METHOD_NOT_ALLOWED,
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                    (header::ALLOW, "GET, HEAD"),
                ],
                "this page is served to GET and HEAD only\n",
            )
                .into_response();
        }
        let etag = self.etag();
        let fresh = request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*");
        let (status, body) = if fresh {
            (StatusCode::NOT_MODIFIED, Body::empty())
        } else if method == Method::HEAD {
            (StatusCode::OK, Body::empty())
        } else {
            (StatusCode::OK, Body::from(self.body))
        };
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if let Ok(v) = HeaderValue::from_str(etag) {
            headers.insert(header::ETAG, v);
        }
        if status == StatusCode::OK {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        }
        resp
    }
}

/// 404 for a name no file has.
pub fn not_found(path: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("no such file: {path}\n"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(resp: Response) -> Vec<u8> {
        axum::body::to_bytes(resp.into_body(), 4 << 20)
            .await
            .unwrap()
            .to_vec()
    }

    #[test]
    fn names_are_unique_and_typed_by_extension() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(
                ASSETS.iter().skip(i + 1).all(|b| b.name != a.name),
                "{}",
                a.name
            );
            let expected = match a.name.rsplit('.').next() {
                Some("html") => HTML,
                Some("js") => JS,
                Some("css") => CSS,
                other => panic!("{}: no content type for {other:?}", a.name),
            };
            assert_eq!(a.content_type, expected, "{}", a.name);
            assert!(!a.body.is_empty(), "{}", a.name);
        }
    }

    #[test]
    fn etags_are_quoted_and_differ_per_file() {
        let tags: std::collections::HashSet<&str> = ASSETS.iter().map(Asset::etag).collect();
        assert_eq!(tags.len(), ASSETS.len());
        let tag = find("main.js").unwrap().etag();
        assert!(
            tag.starts_with('"') && tag.ends_with('"') && tag.len() == 34,
            "{tag}"
        );
    }

    #[tokio::test]
    async fn get_head_and_revalidation() {
        let hls = find("hls.min.js").unwrap();
        let resp = hls.serve(&Method::GET, &HeaderMap::new());
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], JS);
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(resp.headers()[header::ETAG], hls.etag());
        let len = hls.body.len().to_string();
        assert_eq!(resp.headers()[header::CONTENT_LENGTH], len.as_str());
        assert_eq!(body(resp).await.len(), hls.body.len());

        let resp = hls.serve(&Method::HEAD, &HeaderMap::new());
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()[header::CONTENT_LENGTH], len.as_str());
        assert!(body(resp).await.is_empty());

        let mut ask = HeaderMap::new();
        let listed = format!("\"other\", W/{}", hls.etag());
        ask.insert(header::IF_NONE_MATCH, listed.parse().unwrap());
        let resp = hls.serve(&Method::GET, &ask);
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
        assert!(body(resp).await.is_empty());

        let resp = hls.serve(&Method::POST, &HeaderMap::new());
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(resp.headers()[header::ALLOW], "GET, HEAD");
    }
}
