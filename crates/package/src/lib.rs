//! Packaging: cuts MPEG-TS into HLS segments on IDR frames and writes the
//! playlists an origin serves (RFC 8216). No network I/O; stored segments live in
//! sealed memory files ([`body`]) so the HTTP front can `sendfile` them.
//!
//! The model: a driver feeds each rendition's transport stream to a
//! [`segmenter::Segmenter`] (sans-IO: bytes in, [`segmenter::Segment`]s out, wall-clock
//! time only when the caller hands it over), pushes every finished segment into a
//! [`hls::Rendition`] (a bounded ring: sliding window plus start-over) and serves
//! [`hls::Rendition::render`] as the media playlist, the stored segment bytes by
//! sequence number, and a [`hls::MultivariantPlaylist`] naming the renditions.
//! Renditions of one endpoint cut on one shared [`grid::CutGrid`], so segment N of
//! every variant covers the same PTS range; [`origin::Origin`] runs all of it per
//! packaging channel and origin endpoint.
//!
//! ```
//! use std::time::Duration;
//! use package::hls::{PlaylistType, Rendition, RenditionConfig};
//! use package::segmenter::{Segmenter, SegmenterConfig};
//!
//! let mut segmenter = Segmenter::new(SegmenterConfig::new(Duration::from_secs(2))).unwrap();
//! let mut rendition = Rendition::new(RenditionConfig::new(PlaylistType::Live, Duration::from_secs(2)));
//! segmenter.push(&[]); // one datagram of TS packets
//! while let Some(segment) = segmenter.poll_segment() {
//!     rendition.push(segment);
//! }
//! assert!(rendition.render().starts_with("#EXTM3U\n"));
//! ```
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented,
    clippy::indexing_slicing
)]

pub mod body;
pub mod grid;
pub mod hls;
pub mod origin;
pub mod segmenter;
pub mod sps;
pub mod timeline;

/// Why a packaging component refused its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
}
