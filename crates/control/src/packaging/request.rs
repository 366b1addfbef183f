//! Reading CreateOriginEndpoint / UpdateOriginEndpoint bodies into the model,
//! member by member, so every 422 names the member at fault.

use ipnet::IpNet;
use serde_json::{Map, Value};

use super::model::{HlsPackage, OriginEndpoint, Origination, PlaylistType, StreamOrder};
use crate::error::{ControlError, Result};
use crate::fields::Fields;

/// Channel and endpoint ids: 1–128 letters, digits, `-` or `_` (they appear
/// in URL paths, so nothing that needs escaping).
pub fn id(path: &str, raw: &str) -> Result<()> {
    let ok = !raw.is_empty()
        && raw.len() <= 128
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ControlError::bad(format!(
            "{path}: '{raw}' must be 1 to 128 letters, digits, '-' or '_'"
        )))
    }
}

/// Boolean members read off an object, by name (`None`: absent).
type Flags = Vec<(&'static str, Option<bool>)>;

/// Splits the boolean members `keys` off an object (Fields reads no
/// booleans); the rest goes through [`Fields`].
fn take_bools(value: &Value, path: &str, keys: &[&'static str]) -> Result<(Value, Flags)> {
    let Value::Object(map) = value else {
        return Err(ControlError::bad(format!("{path}: expected an object")));
    };
    let mut rest: Map<String, Value> = map.clone();
    let mut out = Vec::new();
    for key in keys {
        let v = match rest.remove(*key) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => {
                return Err(ControlError::bad(format!(
                    "{path}.{key}: expected true or false"
                )))
            }
        };
        out.push((*key, v));
    }
    Ok((Value::Object(rest), out))
}

fn flag(bools: &Flags, key: &str) -> Option<bool> {
    bools.iter().find(|(k, _)| *k == key).and_then(|(_, v)| *v)
}

fn ranged(f: &mut Fields, key: &'static str, min: i64, max: i64) -> Result<Option<i64>> {
    match f.int(key)? {
        Some(n) if n < min || n > max => Err(ControlError::bad(format!(
            "{}: {n} must be from {min} to {max}",
            f.at(key)
        ))),
        other => Ok(other),
    }
}

fn not_implemented(path: String, what: &str) -> ControlError {
    ControlError::bad(format!("{path}: onair does not implement {what} yet"))
}

/// Reads an `hlsPackage`; members left out take AWS's defaults.
pub fn hls_package(value: &Value, path: &str) -> Result<HlsPackage> {
    let (rest, bools) = take_bools(
        value,
        path,
        &[
            "includeIframeOnlyStream",
            "useAudioRenditionGroup",
            "includeDvbSubtitles",
        ],
    )?;
    let mut f = Fields::new(path, &rest)?;
    let mut p = HlsPackage::default();
    if let Some(m) = f.enumeration(
        "adMarkers",
        &["NONE", "SCTE35_ENHANCED", "PASSTHROUGH", "DATERANGE"],
        |s| {
            matches!(s, "NONE" | "SCTE35_ENHANCED" | "PASSTHROUGH" | "DATERANGE")
                .then(|| s.to_string())
        },
    )? {
        if m != "NONE" {
            return Err(ControlError::bad(format!(
                "{}: onair does not implement ad markers ({m}) yet; use NONE",
                f.at("adMarkers")
            )));
        }
    }
    if f.list("adTriggers")?.is_some_and(|l| !l.is_empty()) {
        return Err(not_implemented(f.at("adTriggers"), "SCTE-35 ad triggers"));
    }
    p.ads_on_delivery_restrictions = f.enumeration(
        "adsOnDeliveryRestrictions",
        &["NONE", "RESTRICTED", "UNRESTRICTED", "BOTH"],
        |s| matches!(s, "NONE" | "RESTRICTED" | "UNRESTRICTED" | "BOTH").then(|| s.to_string()),
    )?;
    if f.object("encryption")?.is_some() {
        return Err(not_implemented(f.at("encryption"), "HLS encryption"));
    }
    if let Some(t) = f.enumeration("playlistType", &["NONE", "EVENT", "VOD"], |s| match s {
        "NONE" => Some(PlaylistType::None),
        "EVENT" => Some(PlaylistType::Event),
        "VOD" => Some(PlaylistType::Vod),
        _ => None,
    })? {
        p.playlist_type = t;
    }
    if let Some(n) = ranged(&mut f, "segmentDurationSeconds", 1, 30)? {
        p.segment_duration_seconds = n;
    }
    if let Some(n) = ranged(&mut f, "playlistWindowSeconds", 1, 86_400)? {
        p.playlist_window_seconds = n;
    }
    if let Some(n) = ranged(&mut f, "programDateTimeIntervalSeconds", 0, 3_600)? {
        p.program_date_time_interval_seconds = n;
    }
    if p.playlist_window_seconds < p.segment_duration_seconds {
        return Err(ControlError::bad(format!(
            "{}: {} s must be at least segmentDurationSeconds ({} s)",
            f.at("playlistWindowSeconds"),
            p.playlist_window_seconds,
            p.segment_duration_seconds
        )));
    }
    if let Some(mut s) = f.object("streamSelection")? {
        let sel = &mut p.stream_selection;
        let max = i64::from(i32::MAX);
        if let Some(n) = ranged(&mut s, "minVideoBitsPerSecond", 0, max)? {
            sel.min_video_bits_per_second = n;
        }
        if let Some(n) = ranged(&mut s, "maxVideoBitsPerSecond", 0, max)? {
            sel.max_video_bits_per_second = n;
        }
        if let Some(o) = s.enumeration(
            "streamOrder",
            &[
                "ORIGINAL",
                "VIDEO_BITRATE_ASCENDING",
                "VIDEO_BITRATE_DESCENDING",
            ],
            |v| match v {
                "ORIGINAL" => Some(StreamOrder::Original),
                "VIDEO_BITRATE_ASCENDING" => Some(StreamOrder::VideoBitrateAscending),
                "VIDEO_BITRATE_DESCENDING" => Some(StreamOrder::VideoBitrateDescending),
                _ => None,
            },
        )? {
            sel.stream_order = o;
        }
        if sel.min_video_bits_per_second > sel.max_video_bits_per_second {
            return Err(ControlError::bad(format!(
                "{}: minVideoBitsPerSecond ({}) is above maxVideoBitsPerSecond ({})",
                f.at("streamSelection"),
                sel.min_video_bits_per_second,
                sel.max_video_bits_per_second
            )));
        }
        s.finish()?;
    }
    p.include_iframe_only_stream = flag(&bools, "includeIframeOnlyStream").unwrap_or(false);
    if flag(&bools, "useAudioRenditionGroup") == Some(true) {
        return Err(not_implemented(
            format!("{path}.useAudioRenditionGroup"),
            "audio rendition groups",
        ));
    }
    if flag(&bools, "includeDvbSubtitles") == Some(true) {
        return Err(not_implemented(
            format!("{path}.includeDvbSubtitles"),
            "DVB subtitles",
        ));
    }
    f.finish()?;
    Ok(p)
}

/// Reads the endpoint members CreateOriginEndpoint and UpdateOriginEndpoint
/// share into `ep`; members left out keep their value in `ep`. The caller
/// has already read `id` / `channelId` / `tags` (Create only) from `f`.
pub fn endpoint_settings(f: &mut Fields, body: &Value, ep: &mut OriginEndpoint) -> Result<()> {
    for (key, what) in [
        ("dashPackage", "DASH packaging"),
        ("cmafPackage", "CMAF packaging"),
        ("mssPackage", "Microsoft Smooth Streaming packaging"),
        ("authorization", "CDN authorization"),
    ] {
        if f.object(key)?.is_some() {
            return Err(not_implemented(f.at(key), what));
        }
    }
    if let Some(name) = f.string("manifestName")? {
        id("manifestName", &name)?;
        ep.manifest_name = name;
    }
    if let Some(d) = f.string("description")? {
        ep.description = Some(d);
    }
    if let Some(n) = ranged(f, "startoverWindowSeconds", 0, 1_209_600)? {
        ep.startover_window_seconds = n;
    }
    if let Some(n) = ranged(f, "timeDelaySeconds", 0, 86_400)? {
        ep.time_delay_seconds = n;
    }
    if let Some(list) = f.string_list("whitelist")? {
        for (i, raw) in list.iter().enumerate() {
            raw.parse::<IpNet>().map_err(|_| {
                ControlError::bad(format!(
                    "whitelist[{i}]: '{raw}' is not a valid CIDR block (e.g. 203.0.113.0/24)"
                ))
            })?;
        }
        ep.whitelist = list;
    }
    if let Some(o) = f.enumeration("origination", &["ALLOW", "DENY"], |s| match s {
        "ALLOW" => Some(Origination::Allow),
        "DENY" => Some(Origination::Deny),
        _ => None,
    })? {
        ep.origination = o;
    }
    if f.object("hlsPackage")?.is_some() {
        ep.hls_package = hls_package(body.get("hlsPackage").unwrap_or(&Value::Null), "hlsPackage")?;
    }
    Ok(())
}
