//! From a channel's `encoderSettings.outputGroups` and `destinations` (wire names,
//! as validated) to what the engine delivers: which renditions each output muxes and
//! where the group sends them. Pure: no I/O, tested inline.
//!
//! Three kinds of output group run:
//! - `mediaPackageGroupSettings`: every output is one variant of the packaging
//!   channel named by the destination, handed over in process;
//! - `hlsGroupSettings`: HLS pushed with HTTP PUT (`hlsBasicPutSettings` or
//!   `hlsWebdavSettings`) to the destination URL — another origin, or an onair
//!   MediaPackage ingest endpoint;
//! - `udpGroupSettings`: each output's transport stream to its own `udp://` or
//!   `rtp://` destination, with optional SMPTE 2022-1 FEC on RTP.
//!
//! A video or audio description used by several outputs is encoded once. Every
//! member of the group and output settings is either honoured or refused by name
//! (see [`only`]); nothing is silently ignored. MediaLive's standard channels send
//! each destination to two URLs, one per pipeline; onair runs one pipeline and uses
//! the first.

use std::collections::HashMap;
use std::time::Duration;

use live_config::{AudioSettings, VideoSettings};
use media::ts::Pid;
use serde_json::Value;

use super::codec::{audio_settings, get, num, text, video_settings};

/// What a channel's output groups need from the engine.
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    pub groups: Vec<GroupPlan>,
    /// Distinct video descriptions, in first-use order; `OutputPlan::video` indexes it.
    pub video: Vec<VideoSettings>,
    /// Distinct audio descriptions, in first-use order.
    pub audio: Vec<AudioSettings>,
    /// The audio selector every audio description reads (onair decodes one).
    pub audio_selector: Option<String>,
    /// Per entry of `audio`: the ISO 639 language and audio_type its PMT entry
    /// carries, from `languageCode` / `audioType` or `inputType`
    /// BROADCASTER_MIXED_AD.
    pub audio_language: Vec<Option<([u8; 3], u8)>>,
}

/// One output group.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupPlan {
    /// `encoderSettings.outputGroups[i]`, for messages.
    pub path: String,
    pub delivery: Delivery,
    pub outputs: Vec<OutputPlan>,
}

/// Where a group's outputs go.
#[derive(Clone, Debug, PartialEq)]
pub enum Delivery {
    /// The MediaPackage channel with this id, in process.
    MediaPackage { channel: String },
    /// HLS over HTTP PUT.
    Hls(HlsPush),
    /// Each output to its [`OutputPlan::udp`] target.
    Udp,
}

/// An `hlsGroupSettings` group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HlsPush {
    pub target: HttpTarget,
    /// `segmentLength`: segments are cut at the first IDR this long after their start.
    pub segment_length: Duration,
    /// `indexNSegments`: segments a media playlist lists.
    pub index_n: usize,
    /// `programDateTime` INCLUDE, with `programDateTimePeriod`.
    pub program_date_time: Option<Duration>,
    /// `connectionRetryInterval` and `numRetries` of the CDN settings.
    pub retry_interval: Duration,
    pub retries: u32,
    /// `streamInfResolution` INCLUDE (the default).
    pub resolution: bool,
    /// `manifestDurationFormat` INTEGER (EXTINF as whole seconds).
    pub integer_durations: bool,
}

/// An `http://` destination: where to connect, the path prefix files are named
/// from, and Basic credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTarget {
    /// `host:port` to connect to.
    pub authority: String,
    /// The destination path without extension, e.g. `/in/v2/abc/def/channel`.
    pub base_path: String,
    pub credentials: Option<(String, String)>,
}

/// One output: the renditions it muxes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputPlan {
    pub name: String,
    pub video: usize,
    pub audio: Vec<usize>,
    /// The HLS name modifier (`_720p`): playlists `{base}{modifier}.m3u8`.
    pub name_modifier: String,
    /// Transport stream layout.
    pub ts: TsLayout,
    /// The destination of a UDP group's output.
    pub udp: Option<UdpTarget>,
}

/// PIDs and program number of an output's transport stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsLayout {
    pub program_number: u16,
    pub pmt_pid: Pid,
    pub video_pid: Pid,
    /// The first audio stream's PID; more audio streams take the PIDs after it.
    pub audio_pid: Pid,
}

impl Default for TsLayout {
    /// MediaLive's defaults: program 1, PMT 480, video 481, audio 482….
    fn default() -> Self {
        Self {
            program_number: 1,
            pmt_pid: Pid(480),
            video_pid: Pid(481),
            audio_pid: Pid(482),
        }
    }
}

/// A UDP output destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpTarget {
    /// `host:port`, resolved when the channel starts.
    pub address: String,
    /// `rtp://`: RTP-wrapped datagrams (RFC 2250), else bare TS.
    pub rtp: bool,
    /// SMPTE 2022-1 FEC: (row length L, column depth D, with row FEC).
    pub fec: Option<(u8, u8, bool)>,
}

/// Members of `v` outside `allowed` are refused by name; an allowed member with a
/// value list accepts only those values. `v` not an object passes.
pub(crate) fn only(v: &Value, path: &str, allowed: &[(&str, &[&str])]) -> Result<(), String> {
    match refused(v, path, allowed).into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Every member [`only`] refuses, as `"path.member: why"`.
pub(crate) fn refused(v: &Value, path: &str, allowed: &[(&str, &[&str])]) -> Vec<String> {
    let Some(map) = v.as_object() else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    for (key, value) in map {
        if value.is_null() {
            continue;
        }
        match allowed.iter().find(|(k, _)| k == key) {
            None => errors.push(format!("{path}.{key}: onair does not implement {key} yet")),
            Some((_, values)) if !values.is_empty() => {
                if let Some(s) = value.as_str().filter(|s| !values.contains(s)) {
                    errors.push(format!(
                        "{path}.{key}: onair implements {} only, not {s}",
                        values.join(" / ")
                    ));
                }
            }
            Some(_) => {}
        }
    }
    errors
}

/// The plan of every output group; see the [module docs](self).
pub fn outputs(root: &Value) -> Result<Outputs, String> {
    let enc = root
        .get("encoderSettings")
        .ok_or("encoderSettings is missing")?;
    let groups = enc
        .get("outputGroups")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if groups.is_empty() {
        return Err("encoderSettings.outputGroups: the channel has no output group".into());
    }
    let mut plan = Outputs {
        groups: Vec::new(),
        video: Vec::new(),
        audio: Vec::new(),
        audio_selector: None,
        audio_language: Vec::new(),
    };
    let mut video_index: HashMap<String, usize> = HashMap::new();
    let mut audio_index: HashMap<String, usize> = HashMap::new();
    for (gi, group) in groups.iter().enumerate() {
        let path = format!("encoderSettings.outputGroups[{gi}]");
        let settings = group.get("outputGroupSettings").unwrap_or(&Value::Null);
        let delivery = delivery(root, settings, &format!("{path}.outputGroupSettings"))?;
        let mut outputs = Vec::new();
        let list = group
            .get("outputs")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        if list.is_empty() {
            return Err(format!("{path}.outputs: the group has no output"));
        }
        for (oi, out) in list.iter().enumerate() {
            let opath = format!("{path}.outputs[{oi}]");
            let vname = text(out, "videoDescriptionName").ok_or_else(|| {
                format!(
                    "{opath}.videoDescriptionName: onair needs a video description in every \
                     output (audio-only outputs are not implemented yet)"
                )
            })?;
            let video = match video_index.get(vname) {
                Some(&i) => i,
                None => {
                    let (i, d) = described(enc, "videoDescriptions", vname, &opath)?;
                    plan.video.push(video_settings(
                        d,
                        &format!("encoderSettings.videoDescriptions[{i}]"),
                    )?);
                    video_index.insert(vname.to_owned(), plan.video.len() - 1);
                    plan.video.len() - 1
                }
            };
            let mut audio = Vec::new();
            let names = out
                .get("audioDescriptionNames")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            for name in names.iter().filter_map(Value::as_str) {
                let index = match audio_index.get(name) {
                    Some(&i) => i,
                    None => {
                        let (i, d) = described(enc, "audioDescriptions", name, &opath)?;
                        let dpath = format!("encoderSettings.audioDescriptions[{i}]");
                        plan.audio.push(audio_settings(d, &dpath)?);
                        plan.audio_language.push(audio_language(d, &dpath)?);
                        let selector = text(d, "audioSelectorName").map(str::to_owned);
                        match (&plan.audio_selector, selector) {
                            (None, s) => plan.audio_selector = s,
                            (Some(a), Some(b)) if *a != b => {
                                return Err(format!(
                                    "{dpath}.audioSelectorName: onair decodes one audio selector \
                                     per channel; '{a}' is already used, not '{b}'"
                                ))
                            }
                            _ => {}
                        }
                        audio_index.insert(name.to_owned(), plan.audio.len() - 1);
                        plan.audio.len() - 1
                    }
                };
                audio.push(index);
            }
            if !get(out, &["captionDescriptionNames"])
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            {
                return Err(format!(
                    "{opath}.captionDescriptionNames: onair does not implement captions yet"
                ));
            }
            let name =
                text(out, "outputName").map_or_else(|| format!("output_{}", oi + 1), str::to_owned);
            let out_settings = get(out, &["outputSettings"]).unwrap_or(&Value::Null);
            let spath = format!("{opath}.outputSettings");
            let mut output = OutputPlan {
                name,
                video,
                audio,
                name_modifier: format!("_{}", oi + 1),
                ts: TsLayout::default(),
                udp: None,
            };
            match &delivery {
                Delivery::MediaPackage { .. } => {
                    only(out_settings, &spath, &[("mediaPackageOutputSettings", &[])])?;
                    if let Some(m) = out_settings.get("mediaPackageOutputSettings") {
                        only(m, &format!("{spath}.mediaPackageOutputSettings"), &[])?;
                    }
                }
                Delivery::Hls(_) => hls_output(out_settings, &spath, &mut output)?,
                Delivery::Udp => udp_output(root, out_settings, &spath, &mut output)?,
            }
            outputs.push(output);
        }
        if matches!(delivery, Delivery::Hls(_)) {
            let mut seen = std::collections::HashSet::new();
            for (oi, o) in outputs.iter().enumerate() {
                if !seen.insert(o.name_modifier.clone()) {
                    return Err(format!(
                        "{path}.outputs[{oi}].outputSettings.hlsOutputSettings.nameModifier: \
                         '{}' is used by two outputs of the group",
                        o.name_modifier
                    ));
                }
            }
        }
        plan.groups.push(GroupPlan {
            path,
            delivery,
            outputs,
        });
    }
    Ok(plan)
}

/// The ISO 639 descriptor an audio description asks for. `inputType`
/// BROADCASTER_MIXED_AD signals audio_type 3 whatever `audioType` says, as in
/// MediaLive. onair does not copy the input's language yet, so a configured
/// code or type needs its control at USE_CONFIGURED.
fn audio_language(d: &Value, path: &str) -> Result<Option<([u8; 3], u8)>, String> {
    let configured = |control: &str| text(d, control) == Some("USE_CONFIGURED");
    let code = match text(d, "languageCode") {
        None => None,
        Some(_) if !configured("languageCodeControl") => {
            return Err(format!(
                "{path}.languageCodeControl: onair does not follow the input's language yet;                  set USE_CONFIGURED to write languageCode"
            ))
        }
        Some(c) => match c.as_bytes() {
            &[a, b, x] if c.bytes().all(|b| b.is_ascii_alphabetic()) => Some([a, b, x]),
            _ => {
                return Err(format!(
                    "{path}.languageCode: '{c}' is not a three-letter ISO 639-2 code"
                ))
            }
        },
    };
    let audio_type = match text(d, "audioType") {
        None => None,
        Some(_) if !configured("audioTypeControl") => {
            return Err(format!(
                "{path}.audioTypeControl: onair does not follow the input's audio type yet;                  set USE_CONFIGURED to write audioType"
            ))
        }
        Some("UNDEFINED") => Some(0),
        Some("CLEAN_EFFECTS") => Some(1),
        Some("HEARING_IMPAIRED") => Some(2),
        Some("VISUAL_IMPAIRED_COMMENTARY") => Some(3),
        Some(other) => return Err(format!("{path}.audioType: {other} is not known")),
    };
    let mixed_ad = get(d, &["codecSettings", "aacSettings", "inputType"]).and_then(Value::as_str)
        == Some("BROADCASTER_MIXED_AD");
    let audio_type = if mixed_ad { Some(3) } else { audio_type };
    Ok(match (code, audio_type) {
        (None, None) => None,
        (code, t) => Some((code.unwrap_or(*b"und"), t.unwrap_or(0))),
    })
}

/// `(index, description)` of the video or audio description called `name`.
fn described<'a>(
    enc: &'a Value,
    list: &str,
    name: &str,
    path: &str,
) -> Result<(usize, &'a Value), String> {
    enc.get(list)
        .and_then(Value::as_array)
        .and_then(|l| {
            l.iter()
                .enumerate()
                .find(|(_, d)| text(d, "name") == Some(name))
        })
        .ok_or_else(|| format!("{path}: no entry of encoderSettings.{list} is named {name}"))
}

/// The destination a group or output refers to, and its first URL settings.
fn destination<'a>(root: &'a Value, refs: &Value, path: &str) -> Result<&'a Value, String> {
    let id = text(refs, "destinationRefId")
        .ok_or_else(|| format!("{path}.destinationRefId is required"))?;
    root.get("destinations")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().find(|d| text(d, "id") == Some(id)))
        .ok_or_else(|| format!("{path}.destinationRefId: no destination has the id {id}"))
}

fn first_url_settings<'a>(dest: &'a Value, path: &str) -> Result<&'a Value, String> {
    dest.get("settings")
        .and_then(|s| s.get(0))
        .filter(|s| text(s, "url").is_some())
        .ok_or_else(|| format!("{path}: the destination has no settings with a url"))
}

fn delivery(root: &Value, settings: &Value, path: &str) -> Result<Delivery, String> {
    if let Some(mp) = settings.get("mediaPackageGroupSettings") {
        let path = format!("{path}.mediaPackageGroupSettings");
        only(mp, &path, &[("destination", &[])])?;
        let dpath = format!("{path}.destination");
        let dest = destination(root, mp.get("destination").unwrap_or(&Value::Null), &dpath)?;
        let channel = dest
            .get("mediaPackageSettings")
            .and_then(|m| m.get(0))
            .and_then(|m| text(m, "channelId"))
            .ok_or_else(|| format!("{dpath}: the destination has no mediaPackageSettings"))?;
        return Ok(Delivery::MediaPackage {
            channel: channel.to_owned(),
        });
    }
    if let Some(hls) = settings.get("hlsGroupSettings") {
        return hls_group(root, hls, &format!("{path}.hlsGroupSettings")).map(Delivery::Hls);
    }
    if let Some(udp) = settings.get("udpGroupSettings") {
        only(
            udp,
            &format!("{path}.udpGroupSettings"),
            &[("inputLossAction", &["EMIT_PROGRAM"])],
        )?;
        return Ok(Delivery::Udp);
    }
    Err(format!(
        "{path}: onair runs mediaPackageGroupSettings, hlsGroupSettings and udpGroupSettings"
    ))
}

fn hls_group(root: &Value, hls: &Value, path: &str) -> Result<HlsPush, String> {
    only(
        hls,
        path,
        &[
            ("destination", &[]),
            ("segmentLength", &[]),
            ("indexNSegments", &[]),
            ("keepSegments", &[]),
            ("mode", &["LIVE"]),
            ("hlsCdnSettings", &[]),
            ("programDateTime", &["INCLUDE", "EXCLUDE"]),
            ("programDateTimePeriod", &[]),
            ("programDateTimeClock", &["INITIALIZE_FROM_OUTPUT_TIMECODE"]),
            ("manifestDurationFormat", &["FLOATING_POINT", "INTEGER"]),
            ("streamInfResolution", &["INCLUDE", "EXCLUDE"]),
            ("codecSpecification", &["RFC_4281", "RFC_6381"]),
            ("directoryStructure", &["SINGLE_DIRECTORY"]),
            ("segmentationMode", &["USE_SEGMENT_DURATION"]),
            ("tsFileMode", &["SEGMENTED_FILES"]),
            ("iFrameOnlyPlaylists", &["DISABLED"]),
            ("outputSelection", &["MANIFESTS_AND_SEGMENTS"]),
            ("clientCache", &["ENABLED"]),
            ("manifestCompression", &["NONE"]),
            ("redundantManifest", &["DISABLED"]),
            ("discontinuityTags", &["INSERT"]),
            ("incompleteSegmentBehavior", &["AUTO"]),
            ("inputLossAction", &["EMIT_OUTPUT"]),
            ("hlsId3SegmentTagging", &["DISABLED"]),
            ("adMarkers", &[]),
        ],
    )?;
    if hls
        .get("adMarkers")
        .and_then(Value::as_array)
        .is_some_and(|l| !l.is_empty())
    {
        return Err(format!(
            "{path}.adMarkers: onair does not implement ad markers yet"
        ));
    }
    let dpath = format!("{path}.destination");
    let dest = destination(root, hls.get("destination").unwrap_or(&Value::Null), &dpath)?;
    let settings = first_url_settings(dest, &dpath)?;
    let target = http_target(settings, &dpath)?;
    let cdn = hls.get("hlsCdnSettings").unwrap_or(&Value::Null);
    let cpath = format!("{path}.hlsCdnSettings");
    only(
        cdn,
        &cpath,
        &[("hlsBasicPutSettings", &[]), ("hlsWebdavSettings", &[])],
    )?;
    let put = cdn
        .get("hlsBasicPutSettings")
        .or_else(|| cdn.get("hlsWebdavSettings"))
        .unwrap_or(&Value::Null);
    only(
        put,
        &format!("{cpath}.hlsBasicPutSettings"),
        &[
            ("connectionRetryInterval", &[]),
            ("numRetries", &[]),
            ("filecacheDuration", &[]),
            ("restartDelay", &[]),
            ("httpTransferMode", &["NON_CHUNKED"]),
        ],
    )?;
    let secs =
        |v: Option<f64>, default: f64| Duration::from_secs_f64(v.unwrap_or(default).max(0.0));
    let segment_length = secs(num(hls, "segmentLength"), 10.0).max(Duration::from_secs(1));
    let period = secs(num(hls, "programDateTimePeriod"), 600.0);
    Ok(HlsPush {
        target,
        segment_length,
        index_n: num(hls, "indexNSegments").map_or(10, |n| n.max(3.0) as usize),
        program_date_time: (text(hls, "programDateTime") == Some("INCLUDE")).then_some(period),
        retry_interval: secs(num(put, "connectionRetryInterval"), 1.0),
        retries: num(put, "numRetries").map_or(10, |n| n.max(0.0) as u32),
        resolution: text(hls, "streamInfResolution") != Some("EXCLUDE"),
        integer_durations: text(hls, "manifestDurationFormat") == Some("INTEGER"),
    })
}

/// `http://host[:port]/path` with `username` / `passwordParam`. onair has no
/// parameter store: `passwordParam` is taken as the password itself.
fn http_target(settings: &Value, path: &str) -> Result<HttpTarget, String> {
    only(
        settings,
        &format!("{path}.settings[0]"),
        &[
            ("url", &[]),
            ("username", &[]),
            ("passwordParam", &[]),
            ("streamName", &[]),
        ],
    )?;
    let url = text(settings, "url").unwrap_or_default();
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("{path}.settings[0].url: onair pushes HLS to http:// URLs only, not {url}")
    })?;
    let (authority, base) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.is_empty() || base.len() < 2 {
        return Err(format!(
            "{path}.settings[0].url: {url} needs a host and a path (http://host/path/name)"
        ));
    }
    let authority = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let base = base.strip_suffix(".m3u8").unwrap_or(base);
    let credentials = match (text(settings, "username"), text(settings, "passwordParam")) {
        (Some(u), Some(p)) => Some((u.to_owned(), p.to_owned())),
        (None, None) => None,
        _ => {
            return Err(format!(
                "{path}.settings[0]: username and passwordParam go together"
            ))
        }
    };
    Ok(HttpTarget {
        authority,
        base_path: base.to_owned(),
        credentials,
    })
}

fn hls_output(settings: &Value, path: &str, output: &mut OutputPlan) -> Result<(), String> {
    only(settings, path, &[("hlsOutputSettings", &[])])?;
    let path = format!("{path}.hlsOutputSettings");
    let hls = settings
        .get("hlsOutputSettings")
        .ok_or_else(|| format!("{path} is required in an HLS output group"))?;
    only(
        hls,
        &path,
        &[
            ("hlsSettings", &[]),
            ("nameModifier", &[]),
            ("h265PackagingType", &[]),
        ],
    )?;
    if let Some(m) = text(hls, "nameModifier") {
        if m.is_empty() || m.contains(['/', '?', '#', ' ']) {
            return Err(format!(
                "{path}.nameModifier: '{m}' cannot be part of a file name"
            ));
        }
        output.name_modifier = m.to_owned();
    }
    let settings = get(hls, &["hlsSettings"]).unwrap_or(&Value::Null);
    only(
        settings,
        &format!("{path}.hlsSettings"),
        &[("standardHlsSettings", &[])],
    )?;
    if let Some(std) = settings.get("standardHlsSettings") {
        let spath = format!("{path}.hlsSettings.standardHlsSettings");
        only(std, &spath, &[("m3u8Settings", &[])])?;
        if let Some(m3u8) = std.get("m3u8Settings") {
            output.ts = ts_layout(m3u8, &format!("{spath}.m3u8Settings"))?;
        }
    }
    Ok(())
}

fn udp_output(
    root: &Value,
    settings: &Value,
    path: &str,
    output: &mut OutputPlan,
) -> Result<(), String> {
    only(settings, path, &[("udpOutputSettings", &[])])?;
    let path = format!("{path}.udpOutputSettings");
    let udp = settings
        .get("udpOutputSettings")
        .ok_or_else(|| format!("{path} is required in a UDP output group"))?;
    only(
        udp,
        &path,
        &[
            ("destination", &[]),
            ("containerSettings", &[]),
            ("fecOutputSettings", &[]),
        ],
    )?;
    let dpath = format!("{path}.destination");
    let dest = destination(root, udp.get("destination").unwrap_or(&Value::Null), &dpath)?;
    let url_settings = first_url_settings(dest, &dpath)?;
    only(
        url_settings,
        &format!("{dpath}.settings[0]"),
        &[("url", &[])],
    )?;
    let url = text(url_settings, "url").unwrap_or_default();
    let (rtp, address) = if let Some(a) = url.strip_prefix("udp://") {
        (false, a)
    } else if let Some(a) = url.strip_prefix("rtp://") {
        (true, a)
    } else {
        return Err(format!(
            "{dpath}: {url} is neither udp://host:port nor rtp://host:port"
        ));
    };
    let address = address.trim_end_matches('/');
    let port_ok = address
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
    if !port_ok {
        return Err(format!("{dpath}: {url} needs a host and a port"));
    }
    let container = udp.get("containerSettings").unwrap_or(&Value::Null);
    let cpath = format!("{path}.containerSettings");
    only(container, &cpath, &[("m2tsSettings", &[])])?;
    if let Some(m2ts) = container.get("m2tsSettings") {
        output.ts = ts_layout(m2ts, &format!("{cpath}.m2tsSettings"))?;
    }
    let fec = match udp.get("fecOutputSettings") {
        None | Some(Value::Null) => None,
        Some(f) => {
            let fpath = format!("{path}.fecOutputSettings");
            only(
                f,
                &fpath,
                &[
                    ("columnDepth", &[]),
                    ("rowLength", &[]),
                    ("includeFec", &["COLUMN", "COLUMN_AND_ROW"]),
                ],
            )?;
            if !rtp {
                return Err(format!(
                    "{fpath}: SMPTE 2022-1 FEC needs an rtp:// destination, not {url}"
                ));
            }
            let d = num(f, "columnDepth").unwrap_or(5.0).clamp(4.0, 20.0) as u8;
            let l = num(f, "rowLength").unwrap_or(20.0).clamp(1.0, 20.0) as u8;
            Some((l, d, text(f, "includeFec") == Some("COLUMN_AND_ROW")))
        }
    };
    output.udp = Some(UdpTarget {
        address: address.to_owned(),
        rtp,
        fec,
    });
    Ok(())
}

/// A PID as MediaLive writes it: decimal or `0x` hex, 32–8182; for lists
/// (`"482-498"`, `"482,483"`) the first.
fn pid(s: &str, path: &str) -> Result<Pid, String> {
    let first = s
        .split([',', '-'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let value = match first.strip_prefix("0x") {
        Some(hex) => u16::from_str_radix(hex, 16).ok(),
        None => first.parse().ok(),
    };
    value
        .filter(|p| (32..=8182).contains(p))
        .map(Pid)
        .ok_or_else(|| format!("{path}: '{s}' is not a PID from 32 to 8182"))
}

/// PIDs and program number of `m2tsSettings` / `m3u8Settings`; the other members
/// are refused by name.
fn ts_layout(m: &Value, path: &str) -> Result<TsLayout, String> {
    only(
        m,
        path,
        &[
            ("videoPid", &[]),
            ("audioPids", &[]),
            ("pmtPid", &[]),
            ("programNum", &[]),
            ("pcrControl", &["PCR_EVERY_PES_PACKET"]),
        ],
    )?;
    let mut ts = TsLayout::default();
    if let Some(s) = text(m, "videoPid") {
        ts.video_pid = pid(s, &format!("{path}.videoPid"))?;
    }
    if let Some(s) = text(m, "audioPids") {
        ts.audio_pid = pid(s, &format!("{path}.audioPids"))?;
    }
    if let Some(s) = text(m, "pmtPid") {
        ts.pmt_pid = pid(s, &format!("{path}.pmtPid"))?;
    }
    if let Some(n) = num(m, "programNum") {
        ts.program_number = u16::try_from(n as i64)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{path}.programNum: {n} is not a program number"))?;
    }
    let pids = [ts.pmt_pid, ts.video_pid, ts.audio_pid];
    if pids.iter().enumerate().any(|(i, p)| pids[..i].contains(p)) {
        return Err(format!(
            "{path}: pmtPid, videoPid and audioPids must differ"
        ));
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn video(name: &str, w: u32, h: u32) -> Value {
        json!({"name": name, "width": w, "height": h,
            "codecSettings": {"h264Settings": {"bitrate": 1_000_000, "framerateNumerator": 30,
                "framerateDenominator": 1}}})
    }

    fn root(groups: Value, destinations: Value) -> Value {
        json!({
            "destinations": destinations,
            "encoderSettings": {
                "audioDescriptions": [
                    {"name": "a", "audioSelectorName": "sel",
                     "codecSettings": {"aacSettings": {"bitrate": 96000}}}],
                "videoDescriptions": [video("v1080", 1920, 1080), video("v720", 1280, 720),
                    video("v360", 640, 360)],
                "outputGroups": groups
            }
        })
    }

    #[test]
    fn ladder_in_one_media_package_group_encodes_each_description_once() {
        let r = root(
            json!([{
                "outputGroupSettings": {"mediaPackageGroupSettings": {"destination": {"destinationRefId": "mp"}}},
                "outputs": [
                    {"outputName": "1080", "videoDescriptionName": "v1080", "audioDescriptionNames": ["a"],
                     "outputSettings": {"mediaPackageOutputSettings": {}}},
                    {"outputName": "720", "videoDescriptionName": "v720", "audioDescriptionNames": ["a"],
                     "outputSettings": {"mediaPackageOutputSettings": {}}},
                    {"outputName": "360", "videoDescriptionName": "v360", "audioDescriptionNames": ["a"],
                     "outputSettings": {"mediaPackageOutputSettings": {}}}]}]),
            json!([{"id": "mp", "mediaPackageSettings": [{"channelId": "pkg"}]}]),
        );
        let o = outputs(&r).unwrap();
        assert_eq!(o.video.len(), 3);
        assert_eq!(o.audio.len(), 1);
        assert_eq!(o.audio_selector.as_deref(), Some("sel"));
        assert_eq!(o.audio_language, [None]);
        let g = &o.groups[0];
        assert_eq!(
            g.delivery,
            Delivery::MediaPackage {
                channel: "pkg".into()
            }
        );
        let rungs: Vec<(usize, &[usize])> = g
            .outputs
            .iter()
            .map(|o| (o.video, o.audio.as_slice()))
            .collect();
        assert_eq!(rungs, [(0, &[0][..]), (1, &[0][..]), (2, &[0][..])]);
        assert_eq!(o.video[2].width, 640);
    }

    #[test]
    fn hls_put_group_reads_destination_and_modifiers() {
        let r = root(
            json!([{
                "outputGroupSettings": {"hlsGroupSettings": {
                    "destination": {"destinationRefId": "hls"}, "segmentLength": 4,
                    "indexNSegments": 5, "programDateTime": "INCLUDE", "programDateTimePeriod": 2,
                    "hlsCdnSettings": {"hlsBasicPutSettings": {"numRetries": 3, "connectionRetryInterval": 2}}}},
                "outputs": [
                    {"videoDescriptionName": "v720", "audioDescriptionNames": ["a"],
                     "outputSettings": {"hlsOutputSettings": {"nameModifier": "_720p",
                        "hlsSettings": {"standardHlsSettings": {"m3u8Settings": {"videoPid": "0x100", "audioPids": "257"}}}}}},
                    {"videoDescriptionName": "v360",
                     "outputSettings": {"hlsOutputSettings": {"hlsSettings": {"standardHlsSettings": {"m3u8Settings": {}}}}}}]}]),
            json!([{"id": "hls", "settings": [{"url": "http://127.0.0.1:8080/in/v2/x/y/channel",
                "username": "u", "passwordParam": "p"}]}]),
        );
        let o = outputs(&r).unwrap();
        let Delivery::Hls(push) = &o.groups[0].delivery else {
            panic!("not HLS")
        };
        assert_eq!(push.target.authority, "127.0.0.1:8080");
        assert_eq!(push.target.base_path, "/in/v2/x/y/channel");
        assert_eq!(push.target.credentials, Some(("u".into(), "p".into())));
        assert_eq!(push.segment_length, Duration::from_secs(4));
        assert_eq!((push.index_n, push.retries), (5, 3));
        assert_eq!(push.program_date_time, Some(Duration::from_secs(2)));
        let outs = &o.groups[0].outputs;
        assert_eq!(outs[0].name_modifier, "_720p");
        assert_eq!(outs[1].name_modifier, "_2");
        assert_eq!(outs[0].ts.video_pid, Pid(0x100));
        assert_eq!(outs[0].ts.audio_pid, Pid(257));
    }

    #[test]
    fn udp_group_with_fec() {
        let r = root(
            json!([{
                "outputGroupSettings": {"udpGroupSettings": {}},
                "outputs": [{"videoDescriptionName": "v360", "audioDescriptionNames": ["a"],
                    "outputSettings": {"udpOutputSettings": {
                        "destination": {"destinationRefId": "u"},
                        "containerSettings": {"m2tsSettings": {"programNum": 7, "pmtPid": "100"}},
                        "fecOutputSettings": {"columnDepth": 5, "rowLength": 5, "includeFec": "COLUMN_AND_ROW"}}}}]}]),
            json!([{"id": "u", "settings": [{"url": "rtp://127.0.0.1:6000"}]}]),
        );
        let o = outputs(&r).unwrap();
        let out = &o.groups[0].outputs[0];
        assert_eq!(
            out.udp,
            Some(UdpTarget {
                address: "127.0.0.1:6000".into(),
                rtp: true,
                fec: Some((5, 5, true))
            })
        );
        assert_eq!((out.ts.program_number, out.ts.pmt_pid), (7, Pid(100)));
    }

    #[test]
    fn what_onair_lacks_is_refused_by_name() {
        let dest = json!([{"id": "u", "settings": [{"url": "udp://127.0.0.1:6000"}]}]);
        let udp = |extra: Value| {
            let mut s = json!({"destination": {"destinationRefId": "u"},
                "containerSettings": {"m2tsSettings": {}}});
            s.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            root(
                json!([{"outputGroupSettings": {"udpGroupSettings": {}},
                    "outputs": [{"videoDescriptionName": "v360",
                        "outputSettings": {"udpOutputSettings": s}}]}]),
                dest.clone(),
            )
        };
        let e = outputs(&udp(json!({"bufferMsec": 1000}))).unwrap_err();
        assert!(e.contains("udpOutputSettings.bufferMsec"), "{e}");
        let e = outputs(&udp(
            json!({"containerSettings": {"m2tsSettings": {"scte35Control": "PASSTHROUGH"}}}),
        ))
        .unwrap_err();
        assert!(e.contains("m2tsSettings.scte35Control"), "{e}");
        let e = outputs(&udp(json!({"fecOutputSettings": {}}))).unwrap_err();
        assert!(e.contains("rtp://"), "{e}");
        let https = root(
            json!([{"outputGroupSettings": {"hlsGroupSettings": {"destination": {"destinationRefId": "h"}}},
                "outputs": [{"videoDescriptionName": "v360",
                    "outputSettings": {"hlsOutputSettings": {"hlsSettings": {}}}}]}]),
            json!([{"id": "h", "settings": [{"url": "https://example.com/live/main"}]}]),
        );
        assert!(outputs(&https).unwrap_err().contains("http:// URLs only"));
        let audio_only = root(
            json!([{"outputGroupSettings": {"udpGroupSettings": {}},
                "outputs": [{"audioDescriptionNames": ["a"], "outputSettings": {}}]}]),
            dest,
        );
        assert!(outputs(&audio_only)
            .unwrap_err()
            .contains("videoDescriptionName"));
    }

    #[test]
    fn audio_languages() {
        let d = |v: Value| audio_language(&v, "a");
        assert_eq!(d(json!({})), Ok(None));
        assert_eq!(
            d(json!({"languageCode": "eng", "languageCodeControl": "USE_CONFIGURED"})),
            Ok(Some((*b"eng", 0)))
        );
        assert_eq!(
            d(
                json!({"codecSettings": {"aacSettings": {"inputType": "BROADCASTER_MIXED_AD"}},
                "audioType": "CLEAN_EFFECTS", "audioTypeControl": "USE_CONFIGURED"})
            ),
            Ok(Some((*b"und", 3)))
        );
        assert!(d(json!({"languageCode": "eng"}))
            .unwrap_err()
            .contains("languageCodeControl"));
        assert!(
            d(json!({"languageCode": "en", "languageCodeControl": "USE_CONFIGURED"}))
                .unwrap_err()
                .contains("three-letter")
        );
    }

    #[test]
    fn pids_parse_like_medialive_writes_them() {
        assert_eq!(pid("481", "p"), Ok(Pid(481)));
        assert_eq!(pid("0x1E1", "p"), Ok(Pid(0x1E1)));
        assert_eq!(pid("482-498", "p"), Ok(Pid(482)));
        assert!(pid("8191", "p").is_err());
        assert!(pid("abc", "p").is_err());
    }
}
