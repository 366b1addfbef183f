//! The browser player on the API port. Like the origin, these are not AWS API
//! calls: they are routed before SigV4 verification.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET, HEAD | /player, /player/ | `web/player.html` (compiled in): plays `?src=<HLS URL>` with hls.js |
//! | GET, HEAD | /player/hls.min.js | hls.js, read at each request from `{web_dir}/node_modules/hls.js/dist/hls.min.js` |
//!
//! hls.js comes from the npm registry through `web/package-lock.json` (`npm ci` in
//! `web/`, which `make demo` runs); it is not vendored. When it is missing the
//! script answers 404 with a message saying how to install it.

use std::path::Path;

use axum::body::Body;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// The player page, compiled into the binary.
pub const PLAYER_HTML: &str = include_str!("../../../web/player.html");

/// hls.js inside the web directory.
pub const HLS_JS: &str = "node_modules/hls.js/dist/hls.min.js";

/// What a player path asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asset {
    Page,
    HlsJs,
}

/// Recognises `/player`, `/player/` and `/player/hls.min.js`.
pub fn route(path: &str) -> Option<Asset> {
    match path {
        "/player" | "/player/" => Some(Asset::Page),
        "/player/hls.min.js" => Some(Asset::HlsJs),
        _ => None,
    }
}

fn text(status: StatusCode, msg: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg,
    )
        .into_response()
}

/// Serves one player asset; `web_dir` is where `web/` is (with its `node_modules`).
pub async fn handle(web_dir: &Path, asset: Asset, method: &Method) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "the player is served to GET and HEAD only\n".into(),
        );
    }
    let (content_type, body) = match asset {
        Asset::Page => ("text/html; charset=utf-8", Body::from(PLAYER_HTML)),
        Asset::HlsJs => {
            let path = web_dir.join(HLS_JS);
            match tokio::fs::read(&path).await {
                Ok(bytes) => ("text/javascript; charset=utf-8", Body::from(bytes)),
                Err(e) => {
                    return text(
                        StatusCode::NOT_FOUND,
                        format!(
                            "hls.js is not installed ({}: {e}): run `npm ci` in web/ (make demo does), \
                             or point --web-dir / ONAIR_WEB_DIR at the repository's web directory\n",
                            path.display()
                        ),
                    )
                }
            }
        }
    };
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        body
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/player"), Some(Asset::Page));
        assert_eq!(route("/player/"), Some(Asset::Page));
        assert_eq!(route("/player/hls.min.js"), Some(Asset::HlsJs));
        assert_eq!(route("/player/../etc/passwd"), None);
        assert_eq!(route("/players"), None);
        assert_eq!(route("/v1/flows"), None);
    }

    #[test]
    fn page_loads_hls_js_from_the_player_route() {
        assert!(PLAYER_HTML.contains("/player/hls.min.js"));
        assert!(PLAYER_HTML.contains("window.onairPlayer"));
    }

    #[tokio::test]
    async fn missing_hls_js_says_how_to_install_it() {
        let dir = std::env::temp_dir().join(format!("onair-no-web-{}", std::process::id()));
        let resp = handle(&dir, Asset::HlsJs, &Method::GET).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("run `npm ci` in web/ (make demo does)"));
    }

    #[tokio::test]
    async fn serves_the_page_and_refuses_put() {
        let dir = Path::new("web");
        let resp = handle(dir, Asset::Page, &Method::GET).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let resp = handle(dir, Asset::Page, &Method::PUT).await;
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
