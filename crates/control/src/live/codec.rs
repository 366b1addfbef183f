//! From one `videoDescription` / `audioDescription` (wire names, as validated) to
//! the rendition settings the engine encodes with. A setting the encoder cannot
//! honour is an error naming its element path.

use live::{AudioSettings, Profile, RateControl, VideoSettings};
use serde_json::Value;

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

/// One `videoDescription` with `h264Settings`.
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
    let framerate = match (
        uint(h, "framerateNumerator"),
        uint(h, "framerateDenominator"),
    ) {
        (Some(n), Some(d)) if n > 0 && d > 0 => (n, d),
        (None, None) => (30, 1),
        _ => {
            return Err(format!(
                "{path}.framerateNumerator/Denominator: both must be positive"
            ))
        }
    };
    let rate_control = match text(h, "rateControlMode").unwrap_or("CBR") {
        "CBR" => RateControl::Cbr,
        "VBR" => RateControl::Vbr,
        other => {
            return Err(format!(
                "{path}.rateControlMode: {other} is not implemented"
            ))
        }
    };
    let bitrate = uint(h, "bitrate").unwrap_or(match rate_control {
        RateControl::Cbr | RateControl::Vbr => 2_000_000,
    });
    let fps = f64::from(framerate.0) / f64::from(framerate.1);
    let gop = num(h, "gopSize").unwrap_or(90.0);
    let gop_size = match text(h, "gopSizeUnits").unwrap_or("FRAMES") {
        "FRAMES" => gop.round(),
        "SECONDS" => (gop * fps).round(),
        other => return Err(format!("{path}.gopSizeUnits: {other} is not known")),
    }
    .max(1.0) as u32;
    let profile = match text(h, "profile").unwrap_or("MAIN") {
        "BASELINE" => Profile::Baseline,
        "MAIN" => Profile::Main,
        "HIGH" => Profile::High,
        other => return Err(format!("{path}.profile: {other} is not implemented")),
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
    let b_frames = uint(h, "gopNumBFrames").unwrap_or(2);
    Ok(VideoSettings {
        width,
        height,
        framerate,
        bitrate,
        max_bitrate: uint(h, "maxBitrate"),
        buf_size: uint(h, "bufSize"),
        rate_control,
        gop_size,
        b_frames: if profile == Profile::Baseline {
            0
        } else {
            b_frames
        },
        ref_frames: uint(h, "numRefFrames"),
        profile,
        level,
        scene_change_detect: text(h, "sceneChangeDetect") == Some("ENABLED"),
        preset: "veryfast".into(),
    })
}

/// One `audioDescription` with `aacSettings`.
pub fn audio_settings(d: &Value, path: &str) -> Result<AudioSettings, String> {
    let a = get(d, &["codecSettings", "aacSettings"])
        .ok_or_else(|| format!("{path}.codecSettings: onair encodes aacSettings only"))?;
    let path = format!("{path}.codecSettings.aacSettings");
    let channels = match text(a, "codingMode").unwrap_or("CODING_MODE_2_0") {
        "CODING_MODE_1_0" => 1,
        "CODING_MODE_2_0" => 2,
        other => return Err(format!("{path}.codingMode: {other} is not implemented")),
    };
    if let Some(p) = text(a, "profile").filter(|p| *p != "LC") {
        return Err(format!("{path}.profile: {p} is not implemented (LC only)"));
    }
    Ok(AudioSettings {
        bitrate: uint(a, "bitrate").unwrap_or(192_000),
        sample_rate: uint(a, "sampleRate").unwrap_or(48_000),
        channels,
    })
}
