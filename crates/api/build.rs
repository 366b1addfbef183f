//! The browser pages' third-party scripts come from the npm registry through
//! `web/package-lock.json` and are compiled into the binary (`src/assets.rs`),
//! so a missing `npm ci` is told here, in words, rather than as a failed
//! `include_bytes!`.

use std::path::Path;

/// The files `src/assets.rs` takes from `web/node_modules`.
const FROM_NPM: &[&str] = &[
    "hls.js/dist/hls.min.js",
    "uplot/dist/uPlot.iife.min.js",
    "uplot/dist/uPlot.min.css",
];

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let web = Path::new(&manifest).join("../../web");
    println!(
        "cargo:rerun-if-changed={}",
        web.join("package-lock.json").display()
    );
    let missing: Vec<&str> = FROM_NPM
        .iter()
        .copied()
        .filter(|f| !web.join("node_modules").join(f).is_file())
        .collect();
    for f in FROM_NPM {
        println!(
            "cargo:rerun-if-changed={}",
            web.join("node_modules").join(f).display()
        );
    }
    if !missing.is_empty() {
        eprintln!(
            "error: the web pages' npm packages are not installed (missing in web/node_modules: {}).\n\
             Run `npm ci --prefix web` from the repository root (scripts/setup.sh, which \
             `make demo` and `make test` run, does), then build again.",
            missing.join(", ")
        );
        std::process::exit(1);
    }
}
