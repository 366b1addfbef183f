//! HLS playlists (RFC 8216).
//!
//! [`MediaPlaylist`] and [`MultivariantPlaylist`] are plain values rendered to text;
//! [`Rendition`] keeps one rendition's recent segments (bounded) and builds its media
//! playlist for the configured [`PlaylistType`].

mod media;
mod multivariant;
mod rendition;

pub use media::{
    format_date_time, target_duration_for, MediaPlaylist, PlaylistSegment, PlaylistType,
};
pub use multivariant::{IFrameVariant, MultivariantPlaylist, Variant};
pub use rendition::{etag, Rendition, RenditionConfig, StoredSegment};
