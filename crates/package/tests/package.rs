//! Integration tests of the package crate: segmenter on synthetic and ffmpeg-made TS,
//! playlist snapshots, and the TARGETDURATION property.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod package {
    pub mod alignment;
    pub mod playlists;
    pub mod segmenter;
    pub mod stream;
}
