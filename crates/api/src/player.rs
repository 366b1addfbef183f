//! The browser player on the API port. Like the origin, these are not AWS API
//! calls: they are routed before SigV4 verification.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET, HEAD | /player, /player/ | `web/player.html`: plays `?src=<HLS URL>` with hls.js |
//! | GET, HEAD | /player/player.js | `web/player.js`, the player shared with the dashboard |
//! | GET, HEAD | /player/hls.min.js | hls.js |
//!
//! Every file is compiled into the binary ([`crate::assets`]): hls.js comes
//! from the npm registry through `web/package-lock.json` at build time, so the
//! player works whatever directory onair runs in.

use axum::http::{HeaderMap, Method};
use axum::response::Response;

use crate::assets::{self, Asset};

/// The player file a path asks for: `/player`, `/player/`, `/player/player.js`
/// and `/player/hls.min.js`.
pub fn route(path: &str) -> Option<&'static Asset> {
    let name = match path {
        "/player" | "/player/" => "player.html",
        "/player/player.js" => "player.js",
        "/player/hls.min.js" => "hls.min.js",
        _ => return None,
    };
    assets::find(name)
}

/// Serves one player file (GET and HEAD; 304 on a matching `If-None-Match`).
pub fn handle(asset: &'static Asset, method: &Method, headers: &HeaderMap) -> Response {
    asset.serve(method, headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header, StatusCode};

    #[test]
    fn routes() {
        assert_eq!(route("/player").map(|a| a.name), Some("player.html"));
        assert_eq!(route("/player/").map(|a| a.name), Some("player.html"));
        assert_eq!(
            route("/player/hls.min.js").map(|a| a.name),
            Some("hls.min.js")
        );
        assert_eq!(
            route("/player/player.js").map(|a| a.name),
            Some("player.js")
        );
        assert!(route("/player/../etc/passwd").is_none());
        assert!(route("/player/main.js").is_none());
        assert!(route("/players").is_none());
        assert!(route("/v1/flows").is_none());
    }

    #[test]
    fn page_loads_its_scripts_from_the_player_routes() {
        let page = std::str::from_utf8(route("/player").unwrap().body).unwrap();
        assert!(page.contains("/player/hls.min.js"));
        assert!(page.contains("/player/player.js"));
        assert!(page.contains("window.onairPlayer"));
    }

    #[test]
    fn hls_js_is_compiled_in() {
        let resp = handle(
            route("/player/hls.min.js").unwrap(),
            &Method::GET,
            &HeaderMap::new(),
        );
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert!(route("/player/hls.min.js").unwrap().body.len() > 100_000);
    }

    #[test]
    fn serves_the_page_and_refuses_put() {
        let page = route("/player").unwrap();
        let resp = handle(page, &Method::GET, &HeaderMap::new());
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let resp = handle(page, &Method::PUT, &HeaderMap::new());
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
