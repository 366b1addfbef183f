//! Packaging channels and origin endpoints as stored and as they go over the
//! wire.
//!
//! The structs carry the wire names of the `mediapackage-2017-10-12` model
//! (`camelCase` location names), so a stored document is the shape a client
//! reads back. URLs are not stored: they are rendered from the server's base
//! URL on every answer (`Settings::base_url`), so a server that moves
//! keeps answering with URLs that reach it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One HLS ingest endpoint of a channel: where an encoder PUTs HLS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestEndpoint {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub username: String,
    pub password: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HlsIngest {
    pub ingest_endpoints: Vec<IngestEndpoint>,
}

/// A packaging channel (`Channel` in the model).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub arn: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_at: String,
    pub hls_ingest: HlsIngest,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlaylistType {
    None,
    Event,
    Vod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamOrder {
    Original,
    VideoBitrateAscending,
    VideoBitrateDescending,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Origination {
    Allow,
    Deny,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamSelection {
    pub min_video_bits_per_second: i64,
    pub max_video_bits_per_second: i64,
    pub stream_order: StreamOrder,
}

impl Default for StreamSelection {
    fn default() -> Self {
        StreamSelection {
            min_video_bits_per_second: 0,
            max_video_bits_per_second: i64::from(i32::MAX),
            stream_order: StreamOrder::Original,
        }
    }
}

/// The HLS packaging of an endpoint. Only what onair implements is here; the
/// request reader refuses the rest by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HlsPackage {
    /// Always `NONE`: onair does not insert ad markers yet.
    pub ad_markers: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ads_on_delivery_restrictions: Option<String>,
    pub include_iframe_only_stream: bool,
    pub playlist_type: PlaylistType,
    pub playlist_window_seconds: i64,
    pub program_date_time_interval_seconds: i64,
    pub segment_duration_seconds: i64,
    pub stream_selection: StreamSelection,
    pub use_audio_rendition_group: bool,
    pub include_dvb_subtitles: bool,
}

impl Default for HlsPackage {
    fn default() -> Self {
        HlsPackage {
            ad_markers: "NONE".into(),
            ads_on_delivery_restrictions: None,
            include_iframe_only_stream: false,
            playlist_type: PlaylistType::None,
            playlist_window_seconds: 60,
            program_date_time_interval_seconds: 0,
            segment_duration_seconds: 6,
            stream_selection: StreamSelection::default(),
            use_audio_rendition_group: false,
            include_dvb_subtitles: false,
        }
    }
}

/// An origin endpoint (`OriginEndpoint` in the model).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginEndpoint {
    pub arn: String,
    pub id: String,
    pub channel_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub manifest_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub created_at: String,
    pub startover_window_seconds: i64,
    pub time_delay_seconds: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub whitelist: Vec<String>,
    pub origination: Origination,
    pub hls_package: HlsPackage,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A stored channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRecord {
    pub channel: Channel,
    pub created_ms: i64,
}

/// A stored origin endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub endpoint: OriginEndpoint,
    pub created_ms: i64,
}
