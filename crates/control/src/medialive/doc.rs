//! The typed view of a channel's request members: what the engine reads, as
//! Rust types (wire names through `rename_all = "camelCase"`). Built from the
//! stored settings after [`super::shape`] has accepted them, so the rule code
//! ([`super::codec`], [`super::groups`], [`super::failover`],
//! [`super::members`], [`super::plan`]) reads fields, not JSON paths.
//!
//! The stored document stays the wire JSON; this is a view of it. Numbers are
//! `f64` as the wire gives them: [`int`] turns one into the integer the engine
//! needs, or a [`Problem`] naming the member and the model's range — never a
//! clamped or rounded value. Structures whose members onair honours only in part
//! keep the rest in `other`, which the rules refuse by name
//! (`groups::refused`).

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::{shape, Problem};

/// A list member: absent and `null` read as empty.
fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// The members of a `CreateChannel` / `UpdateChannel` request the engine reads.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelDoc {
    pub channel_class: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub input_attachments: Vec<InputAttachment>,
    #[serde(default, deserialize_with = "list")]
    pub destinations: Vec<OutputDestination>,
    pub encoder_settings: Option<EncoderSettings>,
}

impl ChannelDoc {
    /// The typed view of stored (or requested) channel settings.
    pub fn from_settings(settings: &Map<String, Value>) -> Result<ChannelDoc, Problem> {
        ChannelDoc::deserialize(&Value::Object(settings.clone()))
            .map_err(|e| Problem::new("", format!("the channel settings do not read: {e}")))
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputAttachment {
    pub input_attachment_name: Option<String>,
    pub input_id: Option<String>,
    pub automatic_input_failover_settings: Option<AutomaticInputFailoverSettings>,
    pub input_settings: Option<InputSettings>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl InputAttachment {
    /// Its audio selectors (none without `inputSettings`).
    pub fn audio_selectors(&self) -> &[AudioSelector] {
        self.input_settings
            .as_ref()
            .map_or(&[], |s| s.audio_selectors.as_slice())
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutomaticInputFailoverSettings {
    pub secondary_input_id: Option<String>,
    pub input_preference: Option<String>,
    pub error_clear_time_msec: Option<f64>,
    #[serde(default, deserialize_with = "list")]
    pub failover_conditions: Vec<FailoverCondition>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailoverCondition {
    pub failover_condition_settings: Option<FailoverConditionSettings>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailoverConditionSettings {
    pub input_loss_settings: Option<InputLossFailoverSettings>,
    pub video_black_settings: Option<VideoBlackFailoverSettings>,
    pub audio_silence_settings: Option<AudioSilenceFailoverSettings>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputLossFailoverSettings {
    pub input_loss_threshold_msec: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoBlackFailoverSettings {
    pub black_detect_threshold: Option<f64>,
    pub video_black_threshold_msec: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioSilenceFailoverSettings {
    pub audio_selector_name: Option<String>,
    pub audio_silence_threshold_msec: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputSettings {
    #[serde(default, deserialize_with = "list")]
    pub audio_selectors: Vec<AudioSelector>,
    pub video_selector: Option<VideoSelector>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioSelector {
    pub name: Option<String>,
    pub selector_settings: Option<AudioSelectorSettings>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioSelectorSettings {
    pub audio_pid_selection: Option<AudioPidSelection>,
    pub audio_language_selection: Option<AudioLanguageSelection>,
    /// Refused (MP4 / HLS inputs); kept to name it.
    pub audio_track_selection: Option<Value>,
    /// Refused (HLS inputs); kept to name it.
    pub audio_hls_rendition_selection: Option<Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioPidSelection {
    pub pid: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioLanguageSelection {
    pub language_code: Option<String>,
    pub language_selection_policy: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoSelector {
    pub selector_settings: Option<VideoSelectorSettings>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoSelectorSettings {
    pub video_selector_program_id: Option<VideoSelectorProgramId>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoSelectorProgramId {
    pub program_id: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EncoderSettings {
    #[serde(default, deserialize_with = "list")]
    pub video_descriptions: Vec<VideoDescription>,
    #[serde(default, deserialize_with = "list")]
    pub audio_descriptions: Vec<AudioDescription>,
    #[serde(default, deserialize_with = "list")]
    pub output_groups: Vec<OutputGroup>,
    pub global_configuration: Option<GlobalConfiguration>,
    pub timecode_config: Option<TimecodeConfig>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimecodeConfig {
    pub source: Option<String>,
    pub sync_threshold: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GlobalConfiguration {
    pub input_end_action: Option<String>,
    pub output_locking_mode: Option<String>,
    pub support_low_framerate_inputs: Option<String>,
    pub input_loss_behavior: Option<InputLossBehavior>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputLossBehavior {
    pub black_frame_msec: Option<f64>,
    pub repeat_frame_msec: Option<f64>,
    pub input_loss_image_type: Option<String>,
    pub input_loss_image_color: Option<String>,
    pub input_loss_image_slate: Option<InputLocation>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputLocation {
    pub uri: Option<String>,
    pub username: Option<String>,
    pub password_param: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoDescription {
    pub name: Option<String>,
    pub width: Option<f64>,
    pub height: Option<f64>,
    pub sharpness: Option<f64>,
    pub codec_settings: Option<VideoCodecSettings>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoCodecSettings {
    pub h264_settings: Option<H264Settings>,
}

/// The `H264Settings` members `shape.rs` lets through (its `ONLY` list).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct H264Settings {
    pub adaptive_quantization: Option<String>,
    pub bitrate: Option<f64>,
    pub buf_fill_pct: Option<f64>,
    pub buf_size: Option<f64>,
    pub entropy_encoding: Option<String>,
    pub flicker_aq: Option<String>,
    pub framerate_control: Option<String>,
    pub framerate_denominator: Option<f64>,
    pub framerate_numerator: Option<f64>,
    pub gop_b_reference: Option<String>,
    pub gop_closed_cadence: Option<f64>,
    pub gop_num_b_frames: Option<f64>,
    pub gop_size: Option<f64>,
    pub gop_size_units: Option<String>,
    pub level: Option<String>,
    pub look_ahead_rate_control: Option<String>,
    pub max_bitrate: Option<f64>,
    pub min_i_interval: Option<f64>,
    pub num_ref_frames: Option<f64>,
    pub par_control: Option<String>,
    pub par_denominator: Option<f64>,
    pub par_numerator: Option<f64>,
    pub profile: Option<String>,
    pub qvbr_quality_level: Option<f64>,
    pub rate_control_mode: Option<String>,
    pub scan_type: Option<String>,
    pub scene_change_detect: Option<String>,
    pub slices: Option<f64>,
    pub spatial_aq: Option<String>,
    pub subgop_length: Option<String>,
    pub syntax: Option<String>,
    pub temporal_aq: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioDescription {
    pub name: Option<String>,
    pub audio_selector_name: Option<String>,
    pub language_code: Option<String>,
    pub language_code_control: Option<String>,
    pub audio_type: Option<String>,
    pub audio_type_control: Option<String>,
    pub codec_settings: Option<AudioCodecSettings>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioCodecSettings {
    pub aac_settings: Option<AacSettings>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AacSettings {
    pub bitrate: Option<f64>,
    pub sample_rate: Option<f64>,
    pub coding_mode: Option<String>,
    pub profile: Option<String>,
    pub rate_control_mode: Option<String>,
    pub spec: Option<String>,
    pub raw_format: Option<String>,
    pub input_type: Option<String>,
    pub vbr_quality: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputGroup {
    pub output_group_settings: Option<OutputGroupSettings>,
    #[serde(default, deserialize_with = "list")]
    pub outputs: Vec<Output>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputGroupSettings {
    pub media_package_group_settings: Option<MediaPackageGroupSettings>,
    pub hls_group_settings: Option<HlsGroupSettings>,
    pub udp_group_settings: Option<UdpGroupSettings>,
}

/// A `destination` member: `{"destinationRefId": ...}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputLocationRef {
    pub destination_ref_id: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaPackageGroupSettings {
    pub destination: Option<OutputLocationRef>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HlsGroupSettings {
    pub destination: Option<OutputLocationRef>,
    pub segment_length: Option<f64>,
    pub index_n_segments: Option<f64>,
    pub program_date_time: Option<String>,
    pub program_date_time_period: Option<f64>,
    pub manifest_duration_format: Option<String>,
    pub stream_inf_resolution: Option<String>,
    pub hls_cdn_settings: Option<HlsCdnSettings>,
    #[serde(default, deserialize_with = "list")]
    pub ad_markers: Vec<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HlsCdnSettings {
    pub hls_basic_put_settings: Option<HlsPutSettings>,
    pub hls_webdav_settings: Option<HlsPutSettings>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `hlsBasicPutSettings` or `hlsWebdavSettings`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HlsPutSettings {
    pub connection_retry_interval: Option<f64>,
    pub num_retries: Option<f64>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UdpGroupSettings {
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub output_name: Option<String>,
    pub video_description_name: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub audio_description_names: Vec<String>,
    #[serde(default, deserialize_with = "list")]
    pub caption_description_names: Vec<String>,
    pub output_settings: Option<OutputSettings>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputSettings {
    pub media_package_output_settings: Option<Map<String, Value>>,
    pub hls_output_settings: Option<HlsOutputSettings>,
    pub udp_output_settings: Option<UdpOutputSettings>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HlsOutputSettings {
    pub name_modifier: Option<String>,
    pub hls_settings: Option<HlsSettings>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HlsSettings {
    pub standard_hls_settings: Option<StandardHlsSettings>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StandardHlsSettings {
    pub m3u8_settings: Option<TsSettings>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `m3u8Settings` or `m2tsSettings`: the PIDs and program number onair writes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TsSettings {
    pub video_pid: Option<String>,
    pub audio_pids: Option<String>,
    pub pmt_pid: Option<String>,
    pub program_num: Option<f64>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UdpOutputSettings {
    pub destination: Option<OutputLocationRef>,
    pub container_settings: Option<UdpContainerSettings>,
    pub fec_output_settings: Option<FecOutputSettings>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UdpContainerSettings {
    pub m2ts_settings: Option<TsSettings>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FecOutputSettings {
    pub column_depth: Option<f64>,
    pub row_length: Option<f64>,
    pub include_fec: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputDestination {
    pub id: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub settings: Vec<OutputDestinationSettings>,
    #[serde(default, deserialize_with = "list")]
    pub media_package_settings: Vec<MediaPackageOutputDestinationSettings>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputDestinationSettings {
    pub url: Option<String>,
    pub username: Option<String>,
    pub password_param: Option<String>,
    pub stream_name: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaPackageOutputDestinationSettings {
    pub channel_id: Option<String>,
}

/// Integer member `member` of model structure `structure` at `path`: the
/// integer the engine needs, refused (never clamped or rounded) when it is not
/// a whole number inside both the model's range (from the member's shape name,
/// as [`shape::range_of`] reads it) and `engine` (the engine's type).
pub fn int(
    value: Option<f64>,
    path: &str,
    structure: &str,
    member: &str,
    engine: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, Problem> {
    let Some(n) = value else { return Ok(None) };
    let (model_min, model_max) = shape::member_range(structure, member);
    // Model bounds are whole numbers for integer shapes; a fractional
    // bound (a `__double` member the engine needs whole) rounds inwards.
    let min = model_min.map_or(*engine.start(), |m| (m.ceil() as i64).max(*engine.start()));
    let max = model_max.map_or(*engine.end(), |m| (m.floor() as i64).min(*engine.end()));
    if n.fract() == 0.0 && n >= min as f64 && n <= max as f64 {
        return Ok(Some(n as i64));
    }
    let what = if n.fract() != 0.0 {
        format!("{n} is not a whole number")
    } else {
        format!("{n} is out of range")
    };
    Err(Problem::new(
        format!("{path}.{member}"),
        format!("{what}: {structure}.{member} takes an integer from {min} to {max}"),
    ))
}

/// [`int`] for a `u32` the engine needs.
pub fn uint(
    value: Option<f64>,
    path: &str,
    structure: &str,
    member: &str,
) -> Result<Option<u32>, Problem> {
    int(value, path, structure, member, 0..=i64::from(u32::MAX))
        .map(|n| n.map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_channel_and_keeps_other_members() {
        let v = json!({
            "channelClass": "SINGLE_PIPELINE",
            "inputAttachments": [{"inputId": "1", "logicalInterfaceNames": ["x"],
                "automaticInputFailoverSettings": null,
                "inputSettings": {"audioSelectors": null, "denoiseFilter": "ENABLED"}}],
            "encoderSettings": {"videoDescriptions": [{"name": "v", "width": 640,
                "codecSettings": {"h264Settings": {"bitrate": 1000000}}}],
                "outputGroups": []}
        });
        let doc = ChannelDoc::from_settings(v.as_object().unwrap()).unwrap();
        let a = &doc.input_attachments[0];
        assert_eq!(a.input_id.as_deref(), Some("1"));
        assert!(a.automatic_input_failover_settings.is_none());
        assert!(a.other.contains_key("logicalInterfaceNames"));
        assert!(a.audio_selectors().is_empty());
        let enc = doc.encoder_settings.unwrap();
        let h = enc.video_descriptions[0]
            .codec_settings
            .as_ref()
            .and_then(|c| c.h264_settings.as_ref())
            .unwrap();
        assert_eq!(h.bitrate, Some(1_000_000.0));
        assert!(enc.audio_descriptions.is_empty());
    }

    #[test]
    fn integers_are_refused_outside_the_model_range_never_clamped() {
        let at = |v: f64| uint(Some(v), "h", "H264Settings", "qvbrQualityLevel");
        assert_eq!(at(7.0), Ok(Some(7)));
        assert_eq!(uint(None, "h", "H264Settings", "bitrate"), Ok(None));
        for bad in [0.0, 11.0, 7.5, -1.0] {
            let e = at(bad).unwrap_err();
            assert_eq!(e.path, "h.qvbrQualityLevel");
            assert!(e.why.contains("from 1 to 10"), "{bad}: {}", e.why);
        }
        assert!(at(7.5).unwrap_err().why.contains("not a whole number"));
        // No model maximum: the engine's type bounds it.
        let e = uint(Some(5e12), "h", "H264Settings", "bitrate").unwrap_err();
        assert!(e.why.contains("from 1000 to 4294967295"), "{}", e.why);
        // The engine's range narrows the model's.
        let e = int(
            Some(65536.0),
            "p",
            "VideoSelectorProgramId",
            "programId",
            0..=65535,
        )
        .unwrap_err();
        assert!(e.why.contains("from 0 to 65535"), "{}", e.why);
    }
}
