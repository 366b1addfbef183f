//! From one `videoDescription` / `audioDescription` (wire names, as validated) to
//! the rendition settings the engine encodes with. A setting the encoder cannot
//! honour is an error naming its element path.

use live_config::settings::{
    aac_bitrate_range, AdaptiveQuantization, FramerateControl, LookAhead, Par, AAC_SAMPLE_RATES,
};
use live_config::LanguageSelection;
use live_config::{AudioSettings, Profile, RateControl, VideoSettings};
use serde_json::{Map, Value};

use super::ValidationError;

pub(crate) fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

pub(crate) fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

pub(crate) fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(crate) fn uint(v: &Value, key: &str) -> Option<u32> {
    num(v, key).map(|n| n.max(0.0).round() as u32)
}

/// One `videoDescription` with `h264Settings`. Every member of `H264Settings` that
/// `shape.rs` lets through is either mapped to a [`VideoSettings`] field or refused here
/// with the reason (docs/LIVE.md has the table).
pub fn video_settings(d: &Value, path: &str) -> Result<VideoSettings, String> {
    let width = uint(d, "width").ok_or_else(|| format!("{path}.width: onair needs a width"))?;
    let height = uint(d, "height").ok_or_else(|| format!("{path}.height: onair needs a height"))?;
    if width < 2 || height < 2 || width % 2 == 1 || height % 2 == 1 {
        return Err(format!(
            "{path}: width and height must be even, got {width}x{height}"
        ));
    }
    let h = get(d, &["codecSettings", "h264Settings"])
        .ok_or_else(|| format!("{path}.codecSettings: onair encodes h264Settings only"))?;
    let path = format!("{path}.codecSettings.h264Settings");
    let refuse = |member: &str, why: &str| Err(format!("{path}.{member}: {why}"));
    let given = (
        uint(h, "framerateNumerator"),
        uint(h, "framerateDenominator"),
    );
    let framerate = match given {
        (Some(n), Some(d)) if n > 0 && d > 0 => Some((n, d)),
        (None, None) => None,
        _ => {
            return Err(format!(
                "{path}.framerateNumerator/Denominator: both must be positive"
            ))
        }
    };
    // AWS: with no framerateControl, a given frame rate is SPECIFIED, else from source.
    let framerate_control = match text(h, "framerateControl") {
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
    let rate_control = match text(h, "rateControlMode").unwrap_or("CBR") {
        "CBR" => RateControl::Cbr,
        "VBR" => RateControl::Vbr,
        "QVBR" => {
            if uint(h, "maxBitrate").is_none() {
                return refuse(
                    "maxBitrate",
                    "QVBR needs maxBitrate, the cap of its quality",
                );
            }
            if h.get("bitrate").is_some() {
                return refuse("bitrate", "QVBR does not use bitrate; maxBitrate caps it");
            }
            match uint(h, "qvbrQualityLevel") {
                Some(quality) => RateControl::Qvbr {
                    quality: quality.clamp(1, 10) as u8,
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
    if h.get("qvbrQualityLevel").is_some() && !matches!(rate_control, RateControl::Qvbr { .. }) {
        return refuse("qvbrQualityLevel", "applies only with rateControlMode QVBR");
    }
    let max_bitrate = uint(h, "maxBitrate");
    let auto_qvbr = text(h, "rateControlMode") == Some("QVBR") && rate_control == RateControl::Vbr;
    let bitrate = match max_bitrate {
        Some(max) if auto_qvbr => max,
        _ => uint(h, "bitrate").unwrap_or(2_000_000),
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
    let gop = num(h, "gopSize").unwrap_or(90.0);
    let (gop_size, gop_ms) = match text(h, "gopSizeUnits").unwrap_or("FRAMES") {
        "FRAMES" if gop.fract() != 0.0 || gop < 1.0 => {
            return refuse("gopSize", "in FRAMES must be a whole number of at least 1")
        }
        "FRAMES" => (gop, None),
        "SECONDS" if gop <= 0.0 => return refuse("gopSize", "must be positive"),
        "SECONDS" => ((gop * fps).round(), Some((gop * 1000.0).round() as u32)),
        other => return refuse("gopSizeUnits", &format!("{other} is not known")),
    };
    let gop_size = gop_size.max(1.0) as u32;
    match uint(h, "gopClosedCadence") {
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
    if uint(h, "minIInterval").is_some_and(|n| n > 0) {
        return refuse(
            "minIInterval",
            "only 0 is implemented: stretching or shrinking GOPs to scene cuts would move \
             IDRs off the gopSize cadence that keeps a ladder's segments aligned",
        );
    }
    let profile = match text(h, "profile").unwrap_or("MAIN") {
        "BASELINE" => Profile::Baseline,
        "MAIN" => Profile::Main,
        "HIGH" => Profile::High,
        other => return refuse("profile", &format!("{other} is not implemented")),
    };
    let level = match text(h, "level").unwrap_or("H264_LEVEL_AUTO") {
        "H264_LEVEL_AUTO" => None,
        l => {
            let digits = l
                .strip_prefix("H264_LEVEL_")
                .ok_or_else(|| format!("{path}.level: {l} is not known"))?;
            Some(match digits.split_once('_') {
                Some((major, minor)) => format!("{major}.{minor}"),
                None => format!("{digits}.0"),
            })
        }
    };
    let cabac = match text(h, "entropyEncoding") {
        None => profile != Profile::Baseline,
        Some("CABAC") if profile == Profile::Baseline => {
            return refuse("entropyEncoding", "CABAC needs profile MAIN or HIGH")
        }
        Some("CABAC") => true,
        Some("CAVLC") => false,
        Some(other) => return refuse("entropyEncoding", &format!("{other} is not known")),
    };
    let enabled = |member: &str, default: bool| -> Result<bool, String> {
        match text(h, member) {
            None => Ok(default),
            Some("ENABLED") => Ok(true),
            Some("DISABLED") => Ok(false),
            Some(other) => Err(format!("{path}.{member}: {other} is not known")),
        }
    };
    let adaptive_quantization = match text(h, "adaptiveQuantization").unwrap_or("AUTO") {
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
    let spatial_aq = enabled("spatialAq", aq_on)?;
    let temporal_aq = enabled("temporalAq", aq_on)?;
    for (member, on) in [("spatialAq", spatial_aq), ("temporalAq", temporal_aq)] {
        if on && !aq_on {
            return refuse(member, "ENABLED needs adaptiveQuantization other than OFF");
        }
    }
    if enabled("flickerAq", false)? {
        return refuse(
            "flickerAq",
            "ENABLED is not implemented: x264 has no flicker AQ (onair encodes without it)",
        );
    }
    let look_ahead = match text(h, "lookAheadRateControl").unwrap_or("MEDIUM") {
        "LOW" => LookAhead::Low,
        "MEDIUM" => LookAhead::Medium,
        "HIGH" => LookAhead::High,
        other => return refuse("lookAheadRateControl", &format!("{other} is not known")),
    };
    let b_adaptive = match text(h, "subgopLength").unwrap_or("FIXED") {
        "FIXED" => false,
        "DYNAMIC" => true,
        other => return refuse("subgopLength", &format!("{other} is not known")),
    };
    let slices = uint(h, "slices");
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
    let par_given = (uint(h, "parNumerator"), uint(h, "parDenominator"));
    let par = match (text(h, "parControl"), par_given) {
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
    match text(h, "scanType") {
        None | Some("PROGRESSIVE") => {}
        Some(other) => {
            return refuse(
                "scanType",
                &format!("{other} is not implemented (PROGRESSIVE only)"),
            )
        }
    }
    match text(h, "syntax") {
        None | Some("DEFAULT") => {}
        Some(other) => {
            return refuse(
                "syntax",
                &format!("{other} is not implemented (DEFAULT only)"),
            )
        }
    }
    let b_frames = uint(h, "gopNumBFrames").unwrap_or(2);
    Ok(VideoSettings {
        width,
        height,
        framerate,
        framerate_control,
        bitrate,
        max_bitrate,
        buf_size: uint(h, "bufSize"),
        buf_fill_pct: uint(h, "bufFillPct"),
        rate_control,
        gop_size,
        gop_ms,
        b_frames: if profile == Profile::Baseline {
            0
        } else {
            b_frames
        },
        b_reference: enabled("gopBReference", false)?,
        b_adaptive,
        ref_frames: uint(h, "numRefFrames"),
        profile,
        level,
        scene_change_detect: enabled("sceneChangeDetect", true)?,
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
pub fn audio_settings(d: &Value, path: &str) -> Result<AudioSettings, String> {
    let a = get(d, &["codecSettings", "aacSettings"])
        .ok_or_else(|| format!("{path}.codecSettings: onair encodes aacSettings only"))?;
    let path = format!("{path}.codecSettings.aacSettings");
    let refuse = |member: &str, why: String| Err(format!("{path}.{member}: {why}"));
    let channels: u16 = match text(a, "codingMode").unwrap_or("CODING_MODE_2_0") {
        "CODING_MODE_1_0" => 1,
        "CODING_MODE_2_0" => 2,
        other => return refuse("codingMode", format!("{other} is not implemented")),
    };
    if let Some(p) = text(a, "profile").filter(|p| *p != "LC") {
        return refuse("profile", format!("{p} is not implemented (LC only)"));
    }
    match text(a, "rateControlMode") {
        None | Some("CBR") => {
            if a.get("vbrQuality").is_some() {
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
    if let Some(s) = text(a, "spec").filter(|s| *s != "MPEG4") {
        return refuse(
            "spec",
            format!("{s} is not implemented: onair writes MPEG-4 ADTS headers (MPEG4)"),
        );
    }
    if let Some(f) = text(a, "rawFormat").filter(|f| *f != "NONE") {
        return refuse(
            "rawFormat",
            format!("{f} is not implemented: onair carries AAC in ADTS (NONE)"),
        );
    }
    match text(a, "inputType") {
        // BROADCASTER_MIXED_AD: the input is already mixed, so the encode is the same as
        // NORMAL. The output does not signal audio_type 3 yet (docs/LIVE.md); it stays
        // accepted because the recipe's channel (examples/recipe) sets it.
        None | Some("NORMAL" | "BROADCASTER_MIXED_AD") => {}
        Some(other) => return refuse("inputType", format!("{other} is not known")),
    }
    let sample_rate = match num(a, "sampleRate") {
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
    let bitrate = uint(a, "bitrate").unwrap_or(192_000);
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
pub fn audio_selection(selector: &Value, path: &str) -> Result<Option<LanguageSelection>, String> {
    let Some(s) = selector.get("selectorSettings") else {
        return Ok(None);
    };
    let path = format!("{path}.selectorSettings");
    for member in ["audioTrackSelection", "audioHlsRenditionSelection"] {
        if s.get(member).is_some_and(|v| !v.is_null()) {
            return Err(format!(
                "{path}.{member}: is not implemented: onair inputs are MPEG-TS, select audio by \
                 audioPidSelection or audioLanguageSelection"
            ));
        }
    }
    let Some(lang) = s.get("audioLanguageSelection").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    if s.get("audioPidSelection").is_some_and(|v| !v.is_null()) {
        return Err(format!(
            "{path}: give audioPidSelection or audioLanguageSelection, not both"
        ));
    }
    let path = format!("{path}.audioLanguageSelection");
    let code = text(lang, "languageCode").unwrap_or_default();
    let code: [u8; 3] = match code.as_bytes() {
        &[a, b, c] if code.bytes().all(|b| b.is_ascii_alphabetic()) => [a, b, c],
        _ => {
            return Err(format!(
                "{path}.languageCode: '{code}' is not a three-letter ISO 639-2 code"
            ))
        }
    };
    let strict = match text(lang, "languageSelectionPolicy").unwrap_or("LOOSE") {
        "LOOSE" => false,
        "STRICT" => true,
        other => {
            return Err(format!(
                "{path}.languageSelectionPolicy: {other} is not known"
            ))
        }
    };
    Ok(Some(LanguageSelection { code, strict }))
}

/// Runs [`video_settings`] / [`audio_settings`] on every description of a channel's
/// `encoderSettings` and [`audio_selection`] on every audio selector of its input
/// attachments, so CreateChannel and UpdateChannel refuse what StartChannel could not
/// run. One error per description or selector, its element path the member at fault.
pub fn check(settings: &Map<String, Value>) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let list = |v: Option<&Value>| -> Vec<Value> {
        v.and_then(Value::as_array).cloned().unwrap_or_default()
    };
    let mut push = |e: String| errors.push(ValidationError::from_message(&e));
    for (i, a) in list(settings.get("inputAttachments")).iter().enumerate() {
        let selectors = list(get(a, &["inputSettings", "audioSelectors"]));
        for (j, s) in selectors.iter().enumerate() {
            let path = format!("inputAttachments[{i}].inputSettings.audioSelectors[{j}]");
            if let Err(e) = audio_selection(s, &path) {
                push(e);
            }
        }
    }
    let enc = settings.get("encoderSettings");
    for (i, d) in list(enc.and_then(|e| e.get("videoDescriptions")))
        .iter()
        .enumerate()
    {
        if let Err(e) = video_settings(d, &format!("encoderSettings.videoDescriptions[{i}]")) {
            push(e);
        }
    }
    for (i, d) in list(enc.and_then(|e| e.get("audioDescriptions")))
        .iter()
        .enumerate()
    {
        if let Err(e) = audio_settings(d, &format!("encoderSettings.audioDescriptions[{i}]")) {
            push(e);
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn video(h264: Value) -> Result<VideoSettings, String> {
        video_settings(
            &json!({"width": 640, "height": 360, "codecSettings": {"h264Settings": h264}}),
            "v",
        )
    }

    fn audio(aac: Value) -> Result<AudioSettings, String> {
        audio_settings(&json!({"codecSettings": {"aacSettings": aac}}), "a")
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
            let want = format!("v.codecSettings.h264Settings.{member}: ");
            assert!(e.starts_with(&want), "{h264}: {e}");
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
            let want = format!("a.codecSettings.aacSettings.{member}: ");
            assert!(e.starts_with(&want), "{aac}: {e}");
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
        let e = check(settings.as_object().unwrap());
        let paths: Vec<&str> = e.iter().map(|e| e.element_path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "inputAttachments[0].inputSettings.audioSelectors[1].selectorSettings.audioTrackSelection",
                "encoderSettings.videoDescriptions[1].codecSettings.h264Settings.scanType",
                "encoderSettings.audioDescriptions[0].codecSettings.aacSettings.spec"
            ]
        );
        assert!(e[1].error_message.contains("PROGRESSIVE"));
    }

    #[test]
    fn audio_selection_by_language() {
        let sel = |s: Value| audio_selection(&json!({"name": "x", "selectorSettings": s}), "s");
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
                "s.selectorSettings.audioLanguageSelection.languageCode: ",
            ),
            (
                json!({"audioLanguageSelection": {"languageCode": "en1"}}),
                "s.selectorSettings.audioLanguageSelection.languageCode: ",
            ),
            (
                json!({"audioLanguageSelection": {"languageCode": "eng"},
                    "audioPidSelection": {"pid": 256}}),
                "s.selectorSettings: ",
            ),
            (
                json!({"audioHlsRenditionSelection": {"groupId": "g", "name": "n"}}),
                "s.selectorSettings.audioHlsRenditionSelection: ",
            ),
        ] {
            let e = sel(s.clone()).unwrap_err();
            assert!(e.starts_with(at), "{s}: {e}");
        }
    }
}
