//! Packaging: cuts MPEG-TS into HLS segments on IDR frames and writes the
//! playlists an origin serves (RFC 8216). No I/O.
