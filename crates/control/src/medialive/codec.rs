//! From one `videoDescription` / `audioDescription` (typed, [`super::doc`]) to
//! the rendition settings the engine encodes with. A setting the encoder cannot
//! honour is an error naming its element path.

use super::doc::{uint, AudioDescription, AudioSelector, ChannelDoc, VideoDescription};
use super::Problem;
use live_config::settings::{
    aac_bitrate_range, AdaptiveQuantization, FramerateControl, LookAhead, Par, AAC_SAMPLE_RATES,
};
use live_config::LanguageSelection;
use live_config::{AudioSettings, Profile, RateControl, VideoSettings};

fn problem<T>(path: &str, member: &str, why: impl Into<String>) -> Result<T, Problem> {
    Err(Problem::new(format!("{path}.{member}"), why))
}

/// One `videoDescription` with `h264Settings`. Every member of `H264Settings` that
/// `shape.rs` lets through is either mapped to a [`VideoSettings`] field or refused here
/// with the reason (docs/LIVE.md has the table). A number outside the model's range
/// (or not whole where the encoder needs an integer) is refused, never clamped.
pub fn video_settings(d: &VideoDescription, path: &str) -> Result<VideoSettings, Problem> {
    let width = uint(d.width, path, "VideoDescription", "width")?;
    let width = width.map_or_else(|| problem(path, "width", "onair needs a width"), Ok)?;
    let height = uint(d.height, path, "VideoDescription", "height")?;
    let height = height.map_or_else(|| problem(path, "height", "onair needs a height"), Ok)?;
    if width < 2 || height < 2 || width % 2 == 1 || height % 2 == 1 {
        return Err(Problem::new(
            path,
            format!("width and height must be even, got {width}x{height}"),
        ));
    }
    let Some(h) = d
        .codec_settings
        .as_ref()
        .and_then(|c| c.h264_settings.as_ref())
    else {
        return problem(path, "codecSettings", "onair encodes h264Settings only");
    };
    let path = format!("{path}.codecSettings.h264Settings");
    let path = path.as_str();
    let refuse = |member: &str, why: &str| problem(path, member, why);
    let int = |v: Option<f64>, member: &str| uint(v, path, "H264Settings", member);
    let given = (
        int(h.framerate_numerator, "framerateNumerator")?,
        int(h.framerate_denominator, "framerateDenominator")?,
    );
    let framerate = match given {
        (Some(n), Some(d)) if n > 0 && d > 0 => Some((n, d)),
        (None, None) => None,
        _ => return refuse("framerateNumerator/Denominator", "both must be positive"),
    };
    // AWS: with no framerateControl, a given frame rate is SPECIFIED, else from source.
    let framerate_control = match h.framerate_control.as_deref() {
        Some("SPECIFIED") if framerate.is_none() => {
            return refuse(
                "framerateControl",
                "SPECIFIED needs framerateNumerator and framerateDenominator",
            )
        }
        Some("SPECIFIED") => FramerateControl::Specified,
        Some("INITIALIZE_FROM_SOURCE") => FramerateControl::FromSource,
        Some(other) => return refuse("framerateControl", &format!("{other} is not known")),
        None if framerate.is_some() => FramerateControl::Specified,
        None => FramerateControl::FromSource,
    };
    let framerate = framerate.unwrap_or((30, 1));
    let max_bitrate = int(h.max_bitrate, "maxBitrate")?;
    let given_bitrate = int(h.bitrate, "bitrate")?;
    let quality = int(h.qvbr_quality_level, "qvbrQualityLevel")?;
    let mode = h.rate_control_mode.as_deref().unwrap_or("CBR");
    let rate_control = match mode {
        "CBR" => RateControl::Cbr,
        "VBR" => RateControl::Vbr,
        "QVBR" => {
            if max_bitrate.is_none() {
                return refuse(
                    "maxBitrate",
                    "QVBR needs maxBitrate, the cap of its quality",
                );
            }
            if h.bitrate.is_some() {
                return refuse("bitrate", "QVBR does not use bitrate; maxBitrate caps it");
            }
            match quality {
                // In the model's range 1-10 (checked by `int`), so it fits.
                Some(quality) => RateControl::Qvbr {
                    quality: u8::try_from(quality).unwrap_or(u8::MAX),
                },
                // MediaLive's automatic quality: "uses the maximum bitrate, and the
                // quality follows from that" — VBR at maxBitrate, capped by it.
                None => RateControl::Vbr,
            }
        }
        other => {
            return refuse(
                "rateControlMode",
                &format!("{other} is not implemented (CBR, VBR or QVBR)"),
            )
        }
    };
    if quality.is_some() && !matches!(rate_control, RateControl::Qvbr { .. }) {
        return refuse("qvbrQualityLevel", "applies only with rateControlMode QVBR");
    }
    let auto_qvbr = mode == "QVBR" && rate_control == RateControl::Vbr;
    let bitrate = match max_bitrate {
        Some(max) if auto_qvbr => max,
        _ => given_bitrate.unwrap_or(2_000_000),
    };
    match (rate_control, max_bitrate) {
        (RateControl::Cbr, Some(max)) if max != bitrate => {
            return refuse(
                "maxBitrate",
                "with CBR the peak is bitrate; maxBitrate must be absent or equal to it",
            )
        }
        (RateControl::Vbr, Some(max)) if max < bitrate => {
            return refuse("maxBitrate", "must be at least bitrate")
        }
        _ => {}
    }
    let fps = f64::from(framerate.0) / f64::from(framerate.1);
    let gop = h.gop_size.unwrap_or(90.0);
    let (gop_size, gop_ms) = match h.gop_size_units.as_deref().unwrap_or("FRAMES") {
        "FRAMES" if gop.fract() != 0.0 || gop < 1.0 || gop > f64::from(u32::MAX) => {
            return refuse("gopSize", "in FRAMES must be a whole number of at least 1")
        }
        "FRAMES" => (gop as u32, None),
        "SECONDS" if gop <= 0.0 => return refuse("gopSize", "must be positive"),
        // Seconds are converted to the nearest whole number of frames; a GOP
        // shorter than one frame is refused rather than stretched to one.
        "SECONDS" => {
            let frames = (gop * fps).round();
            if frames < 1.0 || frames > f64::from(u32::MAX) {
                return refuse(
                    "gopSize",
                    &format!("{gop} s is not a whole number of frames of at least 1 at {fps} fps"),
                );
            }
            (frames as u32, Some((gop * 1000.0).round() as u32))
        }
        other => return refuse("gopSizeUnits", &format!("{other} is not known")),
    };
    match int(h.gop_closed_cadence, "gopClosedCadence")? {
        None | Some(1) => {}
        Some(0) => {
            return refuse(
                "gopClosedCadence",
                "0 (open GOPs) is not implemented: onair cuts segments at IDRs, so every \
                 GOP is closed (1)",
            )
        }
        Some(_) => {
            return refuse(
                "gopClosedCadence",
                "only 1 is implemented: onair cuts a segment at every GOP, which must start \
                 with an IDR",
            )
        }
    }
    if int(h.min_i_interval, "minIInterval")?.is_some_and(|n| n > 0) {
        return refuse(
            "minIInterval",
            "only 0 is implemented: stretching or shrinking GOPs to scene cuts would move \
             IDRs off the gopSize cadence that keeps a ladder's segments aligned",
        );
    }
    let profile = match h.profile.as_deref().unwrap_or("MAIN") {
        "BASELINE" => Profile::Baseline,
        "MAIN" => Profile::Main,
        "HIGH" => Profile::High,
        other => return refuse("profile", &format!("{other} is not implemented")),
    };
    let level = match h.level.as_deref().unwrap_or("H264_LEVEL_AUTO") {
        "H264_LEVEL_AUTO" => None,
        l => {
            let Some(digits) = l.strip_prefix("H264_LEVEL_") else {
                return refuse("level", &format!("{l} is not known"));
            };
            Some(match digits.split_once('_') {
                Some((major, minor)) => format!("{major}.{minor}"),
                None => format!("{digits}.0"),
            })
        }
    };
    let cabac = match h.entropy_encoding.as_deref() {
        None => profile != Profile::Baseline,
        Some("CABAC") if profile == Profile::Baseline => {
            return refuse("entropyEncoding", "CABAC needs profile MAIN or HIGH")
        }
        Some("CABAC") => true,
        Some("CAVLC") => false,
        Some(other) => return refuse("entropyEncoding", &format!("{other} is not known")),
    };
    let enabled = |value: &Option<String>, member: &str, default: bool| match value.as_deref() {
        None => Ok(default),
        Some("ENABLED") => Ok(true),
        Some("DISABLED") => Ok(false),
        Some(other) => problem(path, member, format!("{other} is not known")),
    };
    let adaptive_quantization = match h.adaptive_quantization.as_deref().unwrap_or("AUTO") {
        "OFF" => AdaptiveQuantization::Off,
        "AUTO" => AdaptiveQuantization::Auto,
        "LOW" => AdaptiveQuantization::Low,
        "MEDIUM" => AdaptiveQuantization::Medium,
        "HIGH" => AdaptiveQuantization::High,
        "HIGHER" => AdaptiveQuantization::Higher,
        "MAX" => AdaptiveQuantization::Max,
        other => return refuse("adaptiveQuantization", &format!("{other} is not known")),
    };
    let aq_on = adaptive_quantization != AdaptiveQuantization::Off;
    let spatial_aq = enabled(&h.spatial_aq, "spatialAq", aq_on)?;
    let temporal_aq = enabled(&h.temporal_aq, "temporalAq", aq_on)?;
    for (member, on) in [("spatialAq", spatial_aq), ("temporalAq", temporal_aq)] {
        if on && !aq_on {
            return refuse(member, "ENABLED needs adaptiveQuantization other than OFF");
        }
    }
    if enabled(&h.flicker_aq, "flickerAq", false)? {
        return refuse(
            "flickerAq",
            "ENABLED is not implemented: x264 has no flicker AQ (onair encodes without it)",
        );
    }
    let look_ahead = match h.look_ahead_rate_control.as_deref().unwrap_or("MEDIUM") {
        "LOW" => LookAhead::Low,
        "MEDIUM" => LookAhead::Medium,
        "HIGH" => LookAhead::High,
        other => return refuse("lookAheadRateControl", &format!("{other} is not known")),
    };
    let b_adaptive = match h.subgop_length.as_deref().unwrap_or("FIXED") {
        "FIXED" => false,
        "DYNAMIC" => true,
        other => return refuse("subgopLength", &format!("{other} is not known")),
    };
    let slices = int(h.slices, "slices")?;
    if let Some(n) = slices {
        let rows = height.div_ceil(16);
        if n == 0 || n > rows {
            return refuse(
                "slices",
                &format!(
                    "must be between 1 and the {rows} macroblock rows of a {height}-line picture"
                ),
            );
        }
    }
    let par_given = (
        int(h.par_numerator, "parNumerator")?,
        int(h.par_denominator, "parDenominator")?,
    );
    let par = match (h.par_control.as_deref(), par_given) {
        (Some("SPECIFIED") | None, (Some(n), Some(d))) if n > 0 && d > 0 => Par::Specified(n, d),
        (Some("SPECIFIED"), _) | (None, (Some(_), _) | (_, Some(_))) => {
            return refuse(
                "parNumerator/parDenominator",
                "parControl SPECIFIED needs both, positive",
            )
        }
        (Some("INITIALIZE_FROM_SOURCE") | None, (None, None)) => Par::FromSource,
        (Some("INITIALIZE_FROM_SOURCE"), _) => {
            return refuse(
                "parNumerator/parDenominator",
                "apply only with parControl SPECIFIED",
            )
        }
        (Some(other), _) => return refuse("parControl", &format!("{other} is not known")),
    };
    match h.scan_type.as_deref() {
        None | Some("PROGRESSIVE") => {}
        Some(other) => {
            return refuse(
                "scanType",
                &format!("{other} is not implemented (PROGRESSIVE only)"),
            )
        }
    }
    match h.syntax.as_deref() {
        None | Some("DEFAULT") => {}
        Some(other) => {
            return refuse(
                "syntax",
                &format!("{other} is not implemented (DEFAULT only)"),
            )
        }
    }
    let b_frames = int(h.gop_num_b_frames, "gopNumBFrames")?.unwrap_or(2);
    Ok(VideoSettings {
        width,
        height,
        framerate,
        framerate_control,
        bitrate,
        max_bitrate,
        buf_size: int(h.buf_size, "bufSize")?,
        buf_fill_pct: int(h.buf_fill_pct, "bufFillPct")?,
        rate_control,
        gop_size,
        gop_ms,
        b_frames: if profile == Profile::Baseline {
            0
        } else {
            b_frames
        },
        b_reference: enabled(&h.gop_b_reference, "gopBReference", false)?,
        b_adaptive,
        ref_frames: int(h.num_ref_frames, "numRefFrames")?,
        profile,
        level,
        scene_change_detect: enabled(&h.scene_change_detect, "sceneChangeDetect", true)?,
        adaptive_quantization,
        spatial_aq,
        temporal_aq,
        look_ahead,
        cabac,
        slices,
        par,
        preset: "veryfast".into(),
    })
}

/// One `audioDescription` with `aacSettings`. Every `AacSettings` member is mapped or
/// refused here with the reason.
pub fn audio_settings(d: &AudioDescription, path: &str) -> Result<AudioSettings, Problem> {
    let Some(a) = d
        .codec_settings
        .as_ref()
        .and_then(|c| c.aac_settings.as_ref())
    else {
        return problem(path, "codecSettings", "onair encodes aacSettings only");
    };
    let path = format!("{path}.codecSettings.aacSettings");
    let path = path.as_str();
    let refuse = |member: &str, why: String| problem(path, member, why);
    let channels: u16 = match a.coding_mode.as_deref().unwrap_or("CODING_MODE_2_0") {
        "CODING_MODE_1_0" => 1,
        "CODING_MODE_2_0" => 2,
        other => return refuse("codingMode", format!("{other} is not implemented")),
    };
    if let Some(p) = a.profile.as_deref().filter(|p| *p != "LC") {
        return refuse("profile", format!("{p} is not implemented (LC only)"));
    }
    match a.rate_control_mode.as_deref() {
        None | Some("CBR") => {
            if a.vbr_quality.is_some() {
                return refuse("vbrQuality", "applies only with rateControlMode VBR".into());
            }
        }
        Some(other) => {
            return refuse(
                "rateControlMode",
                format!(
                    "{other} is not implemented: FFmpeg's native AAC encoder has only an \
                     experimental VBR mode, so onair encodes CBR"
                ),
            )
        }
    }
    if let Some(s) = a.spec.as_deref().filter(|s| *s != "MPEG4") {
        return refuse(
            "spec",
            format!("{s} is not implemented: onair writes MPEG-4 ADTS headers (MPEG4)"),
        );
    }
    if let Some(f) = a.raw_format.as_deref().filter(|f| *f != "NONE") {
        return refuse(
            "rawFormat",
            format!("{f} is not implemented: onair carries AAC in ADTS (NONE)"),
        );
    }
    match a.input_type.as_deref() {
        // BROADCASTER_MIXED_AD: the input is already mixed, so the encode is the same as
        // NORMAL. The output does not signal audio_type 3 yet (docs/LIVE.md); it stays
        // accepted because the recipe's channel (examples/recipe) sets it.
        None | Some("NORMAL" | "BROADCASTER_MIXED_AD") => {}
        Some(other) => return refuse("inputType", format!("{other} is not known")),
    }
    let sample_rate = match a.sample_rate {
        None => 48_000,
        Some(r) if r.fract() == 0.0 && AAC_SAMPLE_RATES.contains(&(r as u32)) => r as u32,
        Some(r) => {
            return refuse(
                "sampleRate",
                format!(
                    "{r} Hz is not one FFmpeg's AAC encoder takes ({})",
                    AAC_SAMPLE_RATES.map(|r| r.to_string()).join(", ")
                ),
            )
        }
    };
    // A `__double` in the model; the encoder takes whole bits per second.
    let bitrate = uint(a.bitrate, path, "AacSettings", "bitrate")?.unwrap_or(192_000);
    let (min, max) = aac_bitrate_range(sample_rate, channels);
    if !(min..=max).contains(&bitrate) {
        return refuse(
            "bitrate",
            format!(
                "{bitrate} b/s is outside {min}-{max} b/s for {channels} channel(s) at \
                 {sample_rate} Hz"
            ),
        );
    }
    Ok(AudioSettings {
        bitrate,
        sample_rate,
        channels,
    })
}

/// One `audioSelectors[]` entry: the language selection it asks for, if any. PID and
/// language selection are what onair's MPEG-TS inputs have; `audioTrackSelection` and
/// `audioHlsRenditionSelection` (MP4/HLS inputs) are refused.
pub fn audio_selection(
    selector: &AudioSelector,
    path: &str,
) -> Result<Option<LanguageSelection>, Problem> {
    let Some(s) = &selector.selector_settings else {
        return Ok(None);
    };
    let path = format!("{path}.selectorSettings");
    for (member, given) in [
        ("audioTrackSelection", s.audio_track_selection.is_some()),
        (
            "audioHlsRenditionSelection",
            s.audio_hls_rendition_selection.is_some(),
        ),
    ] {
        if given {
            return problem(
                &path,
                member,
                "is not implemented: onair inputs are MPEG-TS, select audio by \
                 audioPidSelection or audioLanguageSelection",
            );
        }
    }
    let Some(lang) = &s.audio_language_selection else {
        return Ok(None);
    };
    if s.audio_pid_selection.is_some() {
        return Err(Problem::new(
            path,
            "give audioPidSelection or audioLanguageSelection, not both",
        ));
    }
    let path = format!("{path}.audioLanguageSelection");
    let code = lang.language_code.as_deref().unwrap_or_default();
    let code: [u8; 3] = match code.as_bytes() {
        &[a, b, c] if code.bytes().all(|b| b.is_ascii_alphabetic()) => [a, b, c],
        _ => {
            return problem(
                &path,
                "languageCode",
                format!("'{code}' is not a three-letter ISO 639-2 code"),
            )
        }
    };
    let strict = match lang.language_selection_policy.as_deref().unwrap_or("LOOSE") {
        "LOOSE" => false,
        "STRICT" => true,
        other => {
            return problem(
                &path,
                "languageSelectionPolicy",
                format!("{other} is not known"),
            )
        }
    };
    Ok(Some(LanguageSelection { code, strict }))
}

/// Runs [`video_settings`] / [`audio_settings`] on every description of a channel's
/// `encoderSettings` and [`audio_selection`] on every audio selector of its input
/// attachments, so CreateChannel and UpdateChannel refuse what StartChannel could not
/// run. One problem per description or selector, its path the member at fault.
pub fn check(doc: &ChannelDoc) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, a) in doc.input_attachments.iter().enumerate() {
        for (j, s) in a.audio_selectors().iter().enumerate() {
            let path = format!("inputAttachments[{i}].inputSettings.audioSelectors[{j}]");
            problems.extend(audio_selection(s, &path).err());
        }
    }
    let Some(enc) = &doc.encoder_settings else {
        return problems;
    };
    for (i, d) in enc.video_descriptions.iter().enumerate() {
        let path = format!("encoderSettings.videoDescriptions[{i}]");
        problems.extend(video_settings(d, &path).err());
    }
    for (i, d) in enc.audio_descriptions.iter().enumerate() {
        let path = format!("encoderSettings.audioDescriptions[{i}]");
        problems.extend(audio_settings(d, &path).err());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde_json::{json, Value};

    fn typed<T: DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    fn video(h264: Value) -> Result<VideoSettings, Problem> {
        video_settings(
            &typed(json!({"width": 640, "height": 360, "codecSettings": {"h264Settings": h264}})),
            "v",
        )
    }

    fn audio(aac: Value) -> Result<AudioSettings, Problem> {
        audio_settings(&typed(json!({"codecSettings": {"aacSettings": aac}})), "a")
    }

    #[test]
    fn aws_defaults() {
        let v = video(json!({})).unwrap();
        assert_eq!(v.framerate_control, FramerateControl::FromSource);
        assert_eq!((v.framerate, v.gop_size), ((30, 1), 90));
        assert!(v.scene_change_detect);
        assert_eq!(v.adaptive_quantization, AdaptiveQuantization::Auto);
        assert!(v.spatial_aq && v.temporal_aq && v.cabac);
        assert!(!v.b_reference && !v.b_adaptive);
        assert_eq!(v.look_ahead, LookAhead::Medium);
        assert_eq!(v.par, Par::FromSource);
        assert_eq!(v.rate_control, RateControl::Cbr);
        let a = audio(json!({})).unwrap();
        assert_eq!((a.bitrate, a.sample_rate, a.channels), (192_000, 48_000, 2));
    }

    #[test]
    fn qvbr_without_a_quality_level_is_vbr_at_max_bitrate() {
        let v = video(json!({"rateControlMode": "QVBR", "maxBitrate": 1500000})).unwrap();
        assert_eq!(v.rate_control, RateControl::Vbr);
        assert_eq!((v.bitrate, v.max_bitrate), (1_500_000, Some(1_500_000)));
    }

    #[test]
    fn maps_every_h264_member() {
        let v = video(json!({
            "rateControlMode": "QVBR", "qvbrQualityLevel": 8, "maxBitrate": 3000000,
            "bufSize": 6000000, "bufFillPct": 50, "adaptiveQuantization": "HIGHER",
            "spatialAq": "DISABLED", "temporalAq": "ENABLED", "flickerAq": "DISABLED",
            "lookAheadRateControl": "HIGH", "sceneChangeDetect": "DISABLED",
            "gopClosedCadence": 1, "gopBReference": "ENABLED", "subgopLength": "DYNAMIC",
            "minIInterval": 0, "entropyEncoding": "CAVLC", "slices": 4,
            "parControl": "SPECIFIED", "parNumerator": 4, "parDenominator": 3,
            "framerateControl": "INITIALIZE_FROM_SOURCE", "gopSize": 2.5,
            "gopSizeUnits": "SECONDS", "scanType": "PROGRESSIVE", "syntax": "DEFAULT",
            "profile": "HIGH", "level": "H264_LEVEL_4_1", "numRefFrames": 3, "gopNumBFrames": 3
        }))
        .unwrap();
        assert_eq!(v.rate_control, RateControl::Qvbr { quality: 8 });
        assert_eq!(
            (v.max_bitrate, v.buf_size),
            (Some(3_000_000), Some(6_000_000))
        );
        assert_eq!(v.buf_fill_pct, Some(50));
        assert_eq!(v.adaptive_quantization, AdaptiveQuantization::Higher);
        assert!(!v.spatial_aq && v.temporal_aq);
        assert_eq!(v.look_ahead, LookAhead::High);
        assert!(!v.scene_change_detect && v.b_reference && v.b_adaptive && !v.cabac);
        assert_eq!((v.slices, v.par), (Some(4), Par::Specified(4, 3)));
        assert_eq!(v.framerate_control, FramerateControl::FromSource);
        assert_eq!((v.gop_ms, v.gop_size), (Some(2500), 75));
        assert_eq!((v.b_frames, v.ref_frames), (3, Some(3)));
        let v = video(json!({"framerateNumerator": 25, "framerateDenominator": 1})).unwrap();
        assert_eq!(v.framerate_control, FramerateControl::Specified);
        let v = video(json!({"adaptiveQuantization": "OFF"})).unwrap();
        assert!(!v.spatial_aq && !v.temporal_aq);
        let v = video(json!({"profile": "BASELINE"})).unwrap();
        assert!(!v.cabac);
    }

    #[test]
    fn refuses_by_name_what_it_cannot_encode() {
        for (h264, member) in [
            (
                json!({"rateControlMode": "QVBR", "qvbrQualityLevel": 7}),
                "maxBitrate",
            ),
            (
                json!({"rateControlMode": "QVBR", "maxBitrate": 2000000, "qvbrQualityLevel": 7,
                    "bitrate": 1000000}),
                "bitrate",
            ),
            (json!({"rateControlMode": "MULTIPLEX"}), "rateControlMode"),
            (json!({"qvbrQualityLevel": 7}), "qvbrQualityLevel"),
            (
                json!({"bitrate": 1000000, "maxBitrate": 2000000}),
                "maxBitrate",
            ),
            (
                json!({"rateControlMode": "VBR", "bitrate": 3000000, "maxBitrate": 2000000}),
                "maxBitrate",
            ),
            (json!({"flickerAq": "ENABLED"}), "flickerAq"),
            (
                json!({"adaptiveQuantization": "OFF", "spatialAq": "ENABLED"}),
                "spatialAq",
            ),
            (
                json!({"adaptiveQuantization": "OFF", "temporalAq": "ENABLED"}),
                "temporalAq",
            ),
            (json!({"gopClosedCadence": 0}), "gopClosedCadence"),
            (json!({"gopClosedCadence": 2}), "gopClosedCadence"),
            (json!({"minIInterval": 5}), "minIInterval"),
            (json!({"scanType": "INTERLACED"}), "scanType"),
            (json!({"syntax": "RP2027"}), "syntax"),
            (json!({"profile": "HIGH_10BIT"}), "profile"),
            (
                json!({"profile": "BASELINE", "entropyEncoding": "CABAC"}),
                "entropyEncoding",
            ),
            (json!({"slices": 24}), "slices"),
            (
                json!({"parControl": "SPECIFIED"}),
                "parNumerator/parDenominator",
            ),
            (json!({"parNumerator": 4}), "parNumerator/parDenominator"),
            (
                json!({"parControl": "INITIALIZE_FROM_SOURCE", "parNumerator": 4, "parDenominator": 3}),
                "parNumerator/parDenominator",
            ),
            (json!({"framerateControl": "SPECIFIED"}), "framerateControl"),
            (json!({"gopSize": 2.5}), "gopSize"),
        ] {
            let e = video(h264.clone()).unwrap_err();
            let want = format!("v.codecSettings.h264Settings.{member}");
            assert_eq!(e.path, want, "{h264}: {e}");
        }
    }

    #[test]
    fn aac_members_are_mapped_or_refused() {
        let a = audio(
            json!({"bitrate": 64000, "sampleRate": 44100, "codingMode": "CODING_MODE_1_0",
            "rateControlMode": "CBR", "spec": "MPEG4", "rawFormat": "NONE", "inputType": "NORMAL",
            "profile": "LC"}),
        )
        .unwrap();
        assert_eq!((a.bitrate, a.sample_rate, a.channels), (64_000, 44_100, 1));
        for (aac, member) in [
            (json!({"rateControlMode": "VBR"}), "rateControlMode"),
            (json!({"vbrQuality": "HIGH"}), "vbrQuality"),
            (json!({"spec": "MPEG2"}), "spec"),
            (json!({"rawFormat": "LATM_LOAS"}), "rawFormat"),
            (json!({"sampleRate": 22000}), "sampleRate"),
            (json!({"bitrate": 1000}), "bitrate"),
            (json!({"bitrate": 900000}), "bitrate"),
            (json!({"profile": "HEV1"}), "profile"),
            (json!({"codingMode": "CODING_MODE_5_1"}), "codingMode"),
        ] {
            let e = audio(aac.clone()).unwrap_err();
            let want = format!("a.codecSettings.aacSettings.{member}");
            assert_eq!(e.path, want, "{aac}: {e}");
        }
    }

    #[test]
    fn check_names_the_element_of_every_description() {
        let enc = json!({
            "videoDescriptions": [
                {"name": "ok", "width": 640, "height": 360, "codecSettings": {"h264Settings": {}}},
                {"name": "bad", "width": 640, "height": 360,
                 "codecSettings": {"h264Settings": {"scanType": "INTERLACED"}}}
            ],
            "audioDescriptions": [{"name": "a", "codecSettings": {"aacSettings": {"spec": "MPEG2"}}}]
        });
        let settings = json!({"encoderSettings": enc, "inputAttachments": [
            {"inputSettings": {"audioSelectors": [
                {"name": "pid", "selectorSettings": {"audioPidSelection": {"pid": 257}}},
                {"name": "track", "selectorSettings": {"audioTrackSelection": {"tracks": [{"track": 1}]}}}
            ]}}
        ]});
        let e = check(&typed(settings));
        let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "inputAttachments[0].inputSettings.audioSelectors[1].selectorSettings.audioTrackSelection",
                "encoderSettings.videoDescriptions[1].codecSettings.h264Settings.scanType",
                "encoderSettings.audioDescriptions[0].codecSettings.aacSettings.spec"
            ]
        );
        assert!(e[1].why.contains("PROGRESSIVE"));
    }

    #[test]
    fn audio_selection_by_language() {
        let sel =
            |s: Value| audio_selection(&typed(json!({"name": "x", "selectorSettings": s})), "s");
        assert_eq!(
            sel(json!({"audioLanguageSelection": {"languageCode": "spa"}})),
            Ok(Some(LanguageSelection {
                code: *b"spa",
                strict: false
            }))
        );
        assert_eq!(
            sel(json!({"audioLanguageSelection": {"languageCode": "ENG",
                "languageSelectionPolicy": "STRICT"}})),
            Ok(Some(LanguageSelection {
                code: *b"ENG",
                strict: true
            }))
        );
        assert_eq!(sel(json!({"audioPidSelection": {"pid": 256}})), Ok(None));
        for (s, at) in [
            (
                json!({"audioLanguageSelection": {"languageCode": "english"}}),
                "s.selectorSettings.audioLanguageSelection.languageCode",
            ),
            (
                json!({"audioLanguageSelection": {"languageCode": "en1"}}),
                "s.selectorSettings.audioLanguageSelection.languageCode",
            ),
            (
                json!({"audioLanguageSelection": {"languageCode": "eng"},
                    "audioPidSelection": {"pid": 256}}),
                "s.selectorSettings",
            ),
            (
                json!({"audioHlsRenditionSelection": {"groupId": "g", "name": "n"}}),
                "s.selectorSettings.audioHlsRenditionSelection",
            ),
        ] {
            let e = sel(s.clone()).unwrap_err();
            assert_eq!(e.path, at, "{s}: {e}");
        }
    }

    #[test]
    fn h264_numbers_out_of_range_are_refused_never_clamped() {
        for (h264, member, range) in [
            (
                json!({"bitrate": 999}),
                "bitrate",
                "from 1000 to 4294967295",
            ),
            (json!({"bitrate": 1500000.5}), "bitrate", "from 1000 to"),
            (
                json!({"maxBitrate": 500, "rateControlMode": "VBR"}),
                "maxBitrate",
                "from 1000 to",
            ),
            (
                json!({"rateControlMode": "QVBR", "maxBitrate": 2000000, "qvbrQualityLevel": 11}),
                "qvbrQualityLevel",
                "from 1 to 10",
            ),
            (
                json!({"rateControlMode": "QVBR", "maxBitrate": 2000000, "qvbrQualityLevel": 0}),
                "qvbrQualityLevel",
                "from 1 to 10",
            ),
            (
                json!({"rateControlMode": "QVBR", "maxBitrate": 2000000, "qvbrQualityLevel": 7.5}),
                "qvbrQualityLevel",
                "from 1 to 10",
            ),
            (json!({"gopNumBFrames": 8}), "gopNumBFrames", "from 0 to 7"),
            (json!({"gopNumBFrames": -1}), "gopNumBFrames", "from 0 to 7"),
            (json!({"slices": 33}), "slices", "from 1 to 32"),
            (json!({"minIInterval": 31}), "minIInterval", "from 0 to 30"),
            (json!({"bufFillPct": 101}), "bufFillPct", "from 0 to 100"),
            (json!({"bufSize": -5}), "bufSize", "from 0 to"),
            (json!({"numRefFrames": 7}), "numRefFrames", "from 1 to 6"),
            (json!({"numRefFrames": 0}), "numRefFrames", "from 1 to 6"),
            (
                json!({"gopClosedCadence": -1}),
                "gopClosedCadence",
                "from 0 to",
            ),
            (
                json!({"framerateNumerator": 0, "framerateDenominator": 1}),
                "framerateNumerator",
                "from 1 to",
            ),
            (
                json!({"framerateNumerator": 30000, "framerateDenominator": 1001.5}),
                "framerateDenominator",
                "from 1 to",
            ),
            (
                json!({"parControl": "SPECIFIED", "parNumerator": 0, "parDenominator": 1}),
                "parNumerator",
                "from 1 to",
            ),
        ] {
            let e = video(h264.clone()).unwrap_err();
            assert_eq!(
                e.path,
                format!("v.codecSettings.h264Settings.{member}"),
                "{h264}: {e}"
            );
            assert!(e.why.contains(range), "{h264}: {e}");
            assert!(
                e.why.contains(&format!("H264Settings.{member}")),
                "{h264}: {e}"
            );
        }
        // A GOP of seconds shorter than one frame is refused, not stretched to one.
        let e = video(json!({"gopSize": 0.01, "gopSizeUnits": "SECONDS",
            "framerateNumerator": 30, "framerateDenominator": 1}))
        .unwrap_err();
        assert_eq!(e.path, "v.codecSettings.h264Settings.gopSize");
    }

    #[test]
    fn picture_size_and_aac_bitrate_must_be_whole() {
        let d = |w: Value| {
            video_settings(
                &typed(json!({"width": w, "height": 360,
                    "codecSettings": {"h264Settings": {}}})),
                "v",
            )
        };
        assert_eq!(d(json!(640)).unwrap().width, 640);
        for w in [json!(640.5), json!(-640), json!(5e10)] {
            let e = d(w.clone()).unwrap_err();
            assert_eq!(e.path, "v.width", "{w}");
            assert!(e.why.contains("from 0 to 4294967295"), "{w}: {e}");
        }
        let e = audio(json!({"bitrate": 128000.5})).unwrap_err();
        assert_eq!(e.path, "a.codecSettings.aacSettings.bitrate");
        assert!(e.why.contains("not a whole number"), "{e}");
        assert_eq!(
            audio(json!({"bitrate": 128000.0})).unwrap().bitrate,
            128_000
        );
    }
}
