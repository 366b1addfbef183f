//! Multivariant playlists (RFC 8216 §4.3.4.2, §4.3.4.3).

use std::fmt::Write as _;

/// One EXT-X-STREAM-INF entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// URI of the media playlist, relative to the multivariant playlist.
    pub uri: String,
    /// BANDWIDTH: peak segment bitrate in bits/s.
    pub bandwidth: u64,
    /// AVERAGE-BANDWIDTH in bits/s.
    pub average_bandwidth: Option<u64>,
    /// RESOLUTION as width × height.
    pub resolution: Option<(u32, u32)>,
    /// CODECS: RFC 6381 strings, e.g. `avc1.64001F` and `mp4a.40.2`.
    pub codecs: Vec<String>,
    /// FRAME-RATE, written with three decimals.
    pub frame_rate: Option<f64>,
}

/// One EXT-X-I-FRAME-STREAM-INF entry (§4.3.4.3).
#[derive(Clone, Debug, PartialEq)]
pub struct IFrameVariant {
    /// URI of the I-frame playlist.
    pub uri: String,
    /// BANDWIDTH: peak I-frame bitrate in bits/s.
    pub bandwidth: u64,
    /// RESOLUTION as width × height.
    pub resolution: Option<(u32, u32)>,
    /// CODECS of the video.
    pub codecs: Vec<String>,
}

/// A multivariant playlist naming each rendition's media playlist.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MultivariantPlaylist {
    /// Variants in the order written.
    pub variants: Vec<Variant>,
    /// I-frame playlists, written after the variants.
    pub iframe_variants: Vec<IFrameVariant>,
}

impl MultivariantPlaylist {
    /// The playlist as text.
    pub fn render(&self) -> String {
        let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
        if !self.iframe_variants.is_empty() {
            out = String::from("#EXTM3U\n#EXT-X-VERSION:4\n");
        }
        for v in &self.variants {
            let _ = write!(out, "#EXT-X-STREAM-INF:BANDWIDTH={}", v.bandwidth);
            if let Some(avg) = v.average_bandwidth {
                let _ = write!(out, ",AVERAGE-BANDWIDTH={avg}");
            }
            if let Some((w, h)) = v.resolution {
                let _ = write!(out, ",RESOLUTION={w}x{h}");
            }
            if !v.codecs.is_empty() {
                let _ = write!(out, ",CODECS=\"{}\"", v.codecs.join(","));
            }
            if let Some(rate) = v.frame_rate.filter(|r| r.is_finite() && *r > 0.0) {
                let _ = write!(out, ",FRAME-RATE={rate:.3}");
            }
            out.push('\n');
            out.push_str(&v.uri);
            out.push('\n');
        }
        for v in &self.iframe_variants {
            let _ = write!(out, "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={}", v.bandwidth);
            if let Some((w, h)) = v.resolution {
                let _ = write!(out, ",RESOLUTION={w}x{h}");
            }
            if !v.codecs.is_empty() {
                let _ = write!(out, ",CODECS=\"{}\"", v.codecs.join(","));
            }
            let _ = writeln!(out, ",URI=\"{}\"", v.uri);
        }
        out
    }
}
