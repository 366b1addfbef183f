//! From a channel's `encoderSettings.outputGroups` and `destinations` (typed,
//! [`super::doc`]) to what the engine delivers: which renditions each output muxes and
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
//! (see `only`); nothing is silently ignored. MediaLive's standard channels send
//! each destination to two URLs, one per pipeline; onair runs one pipeline and uses
//! the first.

use std::collections::HashMap;
use std::time::Duration;

use live_config::{AudioSettings, VideoSettings};
use media::ts::Pid;
use serde_json::{Map, Value};

use super::codec::{audio_settings, video_settings};
use super::doc::{
    int, uint, AudioDescription, ChannelDoc, HlsCdnSettings, HlsGroupSettings, HlsPutSettings,
    OutputDestination, OutputDestinationSettings, OutputGroupSettings, OutputLocationRef,
    OutputSettings, TsSettings,
};
use super::Problem;

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

/// Members of `other` (the members of a structure its typed view does not
/// read) outside `allowed` are refused by name; an allowed member with a value
/// list accepts only those values. `null` members pass.
pub(crate) fn only(
    other: &Map<String, Value>,
    path: &str,
    allowed: &[(&str, &[&str])],
) -> Result<(), Problem> {
    match refused(other, path, allowed).into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Every member [`only`] refuses.
pub(crate) fn refused(
    other: &Map<String, Value>,
    path: &str,
    allowed: &[(&str, &[&str])],
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (key, value) in other {
        if value.is_null() {
            continue;
        }
        let at = format!("{path}.{key}");
        match allowed.iter().find(|(k, _)| k == key) {
            None => problems.push(not_yet(at, key)),
            Some((_, values)) if !values.is_empty() => {
                if let Some(s) = value.as_str().filter(|s| !values.contains(s)) {
                    problems.push(Problem::new(
                        at,
                        format!("onair implements {} only, not {s}", values.join(" / ")),
                    ));
                }
            }
            Some(_) => {}
        }
    }
    problems
}

/// `member` (at `path`) is in the model but onair does not act on it.
pub(crate) fn not_yet(path: impl Into<String>, member: &str) -> Problem {
    Problem::new(path, format!("onair does not implement {member} yet"))
}

/// The plan of every output group; see the [module docs](self).
pub fn outputs(doc: &ChannelDoc) -> Result<Outputs, Problem> {
    let enc = doc
        .encoder_settings
        .as_ref()
        .ok_or_else(|| Problem::new("encoderSettings", "is missing"))?;
    if enc.output_groups.is_empty() {
        return Err(Problem::new(
            "encoderSettings.outputGroups",
            "the channel has no output group",
        ));
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
    let no_settings = OutputGroupSettings::default();
    let no_output_settings = OutputSettings::default();
    for (gi, group) in enc.output_groups.iter().enumerate() {
        let path = format!("encoderSettings.outputGroups[{gi}]");
        let settings = group.output_group_settings.as_ref().unwrap_or(&no_settings);
        let delivery = delivery(doc, settings, &format!("{path}.outputGroupSettings"))?;
        let mut outputs = Vec::new();
        if group.outputs.is_empty() {
            return Err(Problem::new(
                format!("{path}.outputs"),
                "the group has no output",
            ));
        }
        for (oi, out) in group.outputs.iter().enumerate() {
            let opath = format!("{path}.outputs[{oi}]");
            let vname = out.video_description_name.as_deref().ok_or_else(|| {
                Problem::new(
                    format!("{opath}.videoDescriptionName"),
                    "onair needs a video description in every output (audio-only outputs are \
                     not implemented yet)",
                )
            })?;
            let video = match video_index.get(vname) {
                Some(&i) => i,
                None => {
                    let (i, d) = described(
                        &enc.video_descriptions,
                        |d| &d.name,
                        "videoDescriptions",
                        vname,
                        &opath,
                    )?;
                    plan.video.push(video_settings(
                        d,
                        &format!("encoderSettings.videoDescriptions[{i}]"),
                    )?);
                    video_index.insert(vname.to_owned(), plan.video.len().saturating_sub(1));
                    plan.video.len().saturating_sub(1)
                }
            };
            let mut audio = Vec::new();
            for name in &out.audio_description_names {
                let index = match audio_index.get(name) {
                    Some(&i) => i,
                    None => {
                        let (i, d) = described(
                            &enc.audio_descriptions,
                            |d| &d.name,
                            "audioDescriptions",
                            name,
                            &opath,
                        )?;
                        let dpath = format!("encoderSettings.audioDescriptions[{i}]");
                        plan.audio.push(audio_settings(d, &dpath)?);
                        plan.audio_language.push(audio_language(d, &dpath)?);
                        let selector = d.audio_selector_name.clone();
                        match (&plan.audio_selector, selector) {
                            (None, s) => plan.audio_selector = s,
                            (Some(a), Some(b)) if *a != b => {
                                return Err(Problem::new(
                                    format!("{dpath}.audioSelectorName"),
                                    format!(
                                        "onair decodes one audio selector per channel; '{a}' is \
                                         already used, not '{b}'"
                                    ),
                                ))
                            }
                            _ => {}
                        }
                        audio_index.insert(name.clone(), plan.audio.len().saturating_sub(1));
                        plan.audio.len().saturating_sub(1)
                    }
                };
                audio.push(index);
            }
            if !out.caption_description_names.is_empty() {
                return Err(Problem::new(
                    format!("{opath}.captionDescriptionNames"),
                    "onair does not implement captions yet",
                ));
            }
            let name = out
                .output_name
                .clone()
                .unwrap_or_else(|| format!("output_{}", oi.saturating_add(1)));
            let out_settings = out.output_settings.as_ref().unwrap_or(&no_output_settings);
            let spath = format!("{opath}.outputSettings");
            let mut output = OutputPlan {
                name,
                video,
                audio,
                name_modifier: format!("_{}", oi.saturating_add(1)),
                ts: TsLayout::default(),
                udp: None,
            };
            match &delivery {
                Delivery::MediaPackage { .. } => {
                    output_kind(out_settings, &spath, "mediaPackageOutputSettings")?;
                    if let Some(m) = &out_settings.media_package_output_settings {
                        only(m, &format!("{spath}.mediaPackageOutputSettings"), &[])?;
                    }
                }
                Delivery::Hls(_) => hls_output(out_settings, &spath, &mut output)?,
                Delivery::Udp => udp_output(doc, out_settings, &spath, &mut output)?,
            }
            outputs.push(output);
        }
        if matches!(delivery, Delivery::Hls(_)) {
            let mut seen = std::collections::HashSet::new();
            for (oi, o) in outputs.iter().enumerate() {
                if !seen.insert(o.name_modifier.clone()) {
                    return Err(Problem::new(
                        format!(
                            "{path}.outputs[{oi}].outputSettings.hlsOutputSettings.nameModifier"
                        ),
                        format!("'{}' is used by two outputs of the group", o.name_modifier),
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

/// An output's settings may give only `kind` (the kind its group sends).
fn output_kind(settings: &OutputSettings, path: &str, kind: &str) -> Result<(), Problem> {
    for (member, given) in [
        (
            "mediaPackageOutputSettings",
            settings.media_package_output_settings.is_some(),
        ),
        ("hlsOutputSettings", settings.hls_output_settings.is_some()),
        ("udpOutputSettings", settings.udp_output_settings.is_some()),
    ] {
        if given && member != kind {
            return Err(not_yet(format!("{path}.{member}"), member));
        }
    }
    only(&settings.other, path, &[])
}

/// The ISO 639 descriptor an audio description asks for. `inputType`
/// BROADCASTER_MIXED_AD signals audio_type 3 whatever `audioType` says, as in
/// MediaLive. onair does not copy the input's language yet, so a configured
/// code or type needs its control at USE_CONFIGURED.
fn audio_language(d: &AudioDescription, path: &str) -> Result<Option<([u8; 3], u8)>, Problem> {
    let configured = |control: &Option<String>| control.as_deref() == Some("USE_CONFIGURED");
    let code = match d.language_code.as_deref() {
        None => None,
        Some(_) if !configured(&d.language_code_control) => {
            return Err(Problem::new(
                format!("{path}.languageCodeControl"),
                "onair does not follow the input's language yet; set USE_CONFIGURED to write \
                 languageCode",
            ))
        }
        Some(c) => match c.as_bytes() {
            &[a, b, x] if c.bytes().all(|b| b.is_ascii_alphabetic()) => Some([a, b, x]),
            _ => {
                return Err(Problem::new(
                    format!("{path}.languageCode"),
                    format!("'{c}' is not a three-letter ISO 639-2 code"),
                ))
            }
        },
    };
    let audio_type =
        match d.audio_type.as_deref() {
            None => None,
            Some(_) if !configured(&d.audio_type_control) => return Err(Problem::new(
                format!("{path}.audioTypeControl"),
                "onair does not follow the input's audio type yet; set USE_CONFIGURED to write \
                 audioType",
            )),
            Some("UNDEFINED") => Some(0),
            Some("CLEAN_EFFECTS") => Some(1),
            Some("HEARING_IMPAIRED") => Some(2),
            Some("VISUAL_IMPAIRED_COMMENTARY") => Some(3),
            Some(other) => {
                return Err(Problem::new(
                    format!("{path}.audioType"),
                    format!("{other} is not known"),
                ))
            }
        };
    let mixed_ad = d
        .codec_settings
        .as_ref()
        .and_then(|c| c.aac_settings.as_ref())
        .and_then(|a| a.input_type.as_deref())
        == Some("BROADCASTER_MIXED_AD");
    let audio_type = if mixed_ad { Some(3) } else { audio_type };
    Ok(match (code, audio_type) {
        (None, None) => None,
        (code, t) => Some((code.unwrap_or(*b"und"), t.unwrap_or(0))),
    })
}

/// `(index, description)` of the video or audio description called `name`.
fn described<'a, D>(
    list: &'a [D],
    name_of: impl Fn(&D) -> &Option<String>,
    member: &str,
    name: &str,
    path: &str,
) -> Result<(usize, &'a D), Problem> {
    list.iter()
        .enumerate()
        .find(|(_, d)| name_of(d).as_deref() == Some(name))
        .ok_or_else(|| {
            Problem::new(
                path,
                format!("no entry of encoderSettings.{member} is named {name}"),
            )
        })
}

/// The destination a group or output refers to.
fn destination<'a>(
    doc: &'a ChannelDoc,
    refs: Option<&OutputLocationRef>,
    path: &str,
) -> Result<&'a OutputDestination, Problem> {
    let id = refs
        .and_then(|r| r.destination_ref_id.as_deref())
        .ok_or_else(|| Problem::new(format!("{path}.destinationRefId"), "is required"))?;
    doc.destinations
        .iter()
        .find(|d| d.id.as_deref() == Some(id))
        .ok_or_else(|| {
            Problem::new(
                format!("{path}.destinationRefId"),
                format!("no destination has the id {id}"),
            )
        })
}

/// The first URL settings of a destination, and its url.
fn first_url_settings<'a>(
    dest: &'a OutputDestination,
    path: &str,
) -> Result<(&'a OutputDestinationSettings, &'a str), Problem> {
    dest.settings
        .first()
        .and_then(|s| Some((s, s.url.as_deref()?)))
        .ok_or_else(|| Problem::new(path, "the destination has no settings with a url"))
}

fn delivery(
    doc: &ChannelDoc,
    settings: &OutputGroupSettings,
    path: &str,
) -> Result<Delivery, Problem> {
    if let Some(mp) = &settings.media_package_group_settings {
        let path = format!("{path}.mediaPackageGroupSettings");
        only(&mp.other, &path, &[])?;
        let dpath = format!("{path}.destination");
        let dest = destination(doc, mp.destination.as_ref(), &dpath)?;
        let channel = dest
            .media_package_settings
            .first()
            .and_then(|m| m.channel_id.as_deref())
            .ok_or_else(|| Problem::new(&dpath, "the destination has no mediaPackageSettings"))?;
        return Ok(Delivery::MediaPackage {
            channel: channel.to_owned(),
        });
    }
    if let Some(hls) = &settings.hls_group_settings {
        return hls_group(doc, hls, &format!("{path}.hlsGroupSettings")).map(Delivery::Hls);
    }
    if let Some(udp) = &settings.udp_group_settings {
        only(
            &udp.other,
            &format!("{path}.udpGroupSettings"),
            &[("inputLossAction", &["EMIT_PROGRAM"])],
        )?;
        return Ok(Delivery::Udp);
    }
    Err(Problem::new(
        path,
        "onair runs mediaPackageGroupSettings, hlsGroupSettings and udpGroupSettings",
    ))
}

fn hls_group(doc: &ChannelDoc, hls: &HlsGroupSettings, path: &str) -> Result<HlsPush, Problem> {
    // The typed members are honoured; of the rest, these are accepted with the
    // values that match what onair does.
    only(
        &hls.other,
        path,
        &[
            ("keepSegments", &[]),
            ("mode", &["LIVE"]),
            ("programDateTimeClock", &["INITIALIZE_FROM_OUTPUT_TIMECODE"]),
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
        ],
    )?;
    if !hls.ad_markers.is_empty() {
        return Err(Problem::new(
            format!("{path}.adMarkers"),
            "onair does not implement ad markers yet",
        ));
    }
    let dpath = format!("{path}.destination");
    let dest = destination(doc, hls.destination.as_ref(), &dpath)?;
    let (settings, url) = first_url_settings(dest, &dpath)?;
    let target = http_target(settings, url, &dpath)?;
    let no_cdn = HlsCdnSettings::default();
    let cdn = hls.hls_cdn_settings.as_ref().unwrap_or(&no_cdn);
    let cpath = format!("{path}.hlsCdnSettings");
    only(&cdn.other, &cpath, &[])?;
    let no_put = HlsPutSettings::default();
    let (put, put_name, put_shape) = match (&cdn.hls_basic_put_settings, &cdn.hls_webdav_settings) {
        (Some(p), _) => (p, "hlsBasicPutSettings", "HlsBasicPutSettings"),
        (None, Some(p)) => (p, "hlsWebdavSettings", "HlsWebdavSettings"),
        (None, None) => (&no_put, "hlsBasicPutSettings", "HlsBasicPutSettings"),
    };
    let ppath = format!("{cpath}.{put_name}");
    only(
        &put.other,
        &ppath,
        &[
            ("filecacheDuration", &[]),
            ("restartDelay", &[]),
            ("httpTransferMode", &["NON_CHUNKED"]),
        ],
    )?;
    let whole = |v: Option<f64>, at: &str, shape: &str, member: &str, default: u32| {
        uint(v, at, shape, member).map(|n| n.unwrap_or(default))
    };
    let secs = |n: u32| Duration::from_secs(u64::from(n));
    let segment_length = whole(
        hls.segment_length,
        path,
        "HlsGroupSettings",
        "segmentLength",
        10,
    )?;
    let index_n = whole(
        hls.index_n_segments,
        path,
        "HlsGroupSettings",
        "indexNSegments",
        10,
    )?;
    let period = whole(
        hls.program_date_time_period,
        path,
        "HlsGroupSettings",
        "programDateTimePeriod",
        600,
    )?;
    let retry = whole(
        put.connection_retry_interval,
        &ppath,
        put_shape,
        "connectionRetryInterval",
        1,
    )?;
    let retries = whole(put.num_retries, &ppath, put_shape, "numRetries", 10)?;
    Ok(HlsPush {
        target,
        segment_length: secs(segment_length),
        index_n: usize::try_from(index_n).unwrap_or(usize::MAX),
        program_date_time: (hls.program_date_time.as_deref() == Some("INCLUDE"))
            .then_some(secs(period)),
        retry_interval: secs(retry),
        retries,
        resolution: hls.stream_inf_resolution.as_deref() != Some("EXCLUDE"),
        integer_durations: hls.manifest_duration_format.as_deref() == Some("INTEGER"),
    })
}

/// `http://host[:port]/path` with `username` / `passwordParam`. onair has no
/// parameter store: `passwordParam` is taken as the password itself.
fn http_target(
    settings: &OutputDestinationSettings,
    url: &str,
    path: &str,
) -> Result<HttpTarget, Problem> {
    only(&settings.other, &format!("{path}.settings[0]"), &[])?;
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        Problem::new(
            format!("{path}.settings[0].url"),
            format!("onair pushes HLS to http:// URLs only, not {url}"),
        )
    })?;
    let (authority, base) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.is_empty() || base.len() < 2 {
        return Err(Problem::new(
            format!("{path}.settings[0].url"),
            format!("{url} needs a host and a path (http://host/path/name)"),
        ));
    }
    let authority = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let base = base.strip_suffix(".m3u8").unwrap_or(base);
    let credentials = match (&settings.username, &settings.password_param) {
        (Some(u), Some(p)) => Some((u.clone(), p.clone())),
        (None, None) => None,
        _ => {
            return Err(Problem::new(
                format!("{path}.settings[0]"),
                "username and passwordParam go together",
            ))
        }
    };
    Ok(HttpTarget {
        authority,
        base_path: base.to_owned(),
        credentials,
    })
}

fn hls_output(
    settings: &OutputSettings,
    path: &str,
    output: &mut OutputPlan,
) -> Result<(), Problem> {
    output_kind(settings, path, "hlsOutputSettings")?;
    let path = format!("{path}.hlsOutputSettings");
    let hls = settings
        .hls_output_settings
        .as_ref()
        .ok_or_else(|| Problem::new(&path, "is required in an HLS output group"))?;
    only(&hls.other, &path, &[("h265PackagingType", &[])])?;
    if let Some(m) = &hls.name_modifier {
        if m.is_empty() || m.contains(['/', '?', '#', ' ']) {
            return Err(Problem::new(
                format!("{path}.nameModifier"),
                format!("'{m}' cannot be part of a file name"),
            ));
        }
        output.name_modifier = m.clone();
    }
    let Some(settings) = &hls.hls_settings else {
        return Ok(());
    };
    only(&settings.other, &format!("{path}.hlsSettings"), &[])?;
    if let Some(std) = &settings.standard_hls_settings {
        let spath = format!("{path}.hlsSettings.standardHlsSettings");
        only(&std.other, &spath, &[])?;
        if let Some(m3u8) = &std.m3u8_settings {
            output.ts = ts_layout(m3u8, &format!("{spath}.m3u8Settings"), "M3u8Settings")?;
        }
    }
    Ok(())
}

fn udp_output(
    doc: &ChannelDoc,
    settings: &OutputSettings,
    path: &str,
    output: &mut OutputPlan,
) -> Result<(), Problem> {
    output_kind(settings, path, "udpOutputSettings")?;
    let path = format!("{path}.udpOutputSettings");
    let udp = settings
        .udp_output_settings
        .as_ref()
        .ok_or_else(|| Problem::new(&path, "is required in a UDP output group"))?;
    only(&udp.other, &path, &[])?;
    let dpath = format!("{path}.destination");
    let dest = destination(doc, udp.destination.as_ref(), &dpath)?;
    let (url_settings, url) = first_url_settings(dest, &dpath)?;
    let upath = format!("{dpath}.settings[0]");
    for (member, given) in [
        ("passwordParam", url_settings.password_param.is_some()),
        ("streamName", url_settings.stream_name.is_some()),
        ("username", url_settings.username.is_some()),
    ] {
        if given {
            return Err(not_yet(format!("{upath}.{member}"), member));
        }
    }
    only(&url_settings.other, &upath, &[])?;
    let (rtp, address) = if let Some(a) = url.strip_prefix("udp://") {
        (false, a)
    } else if let Some(a) = url.strip_prefix("rtp://") {
        (true, a)
    } else {
        return Err(Problem::new(
            &dpath,
            format!("{url} is neither udp://host:port nor rtp://host:port"),
        ));
    };
    let address = address.trim_end_matches('/');
    let port_ok = address
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
    if !port_ok {
        return Err(Problem::new(
            &dpath,
            format!("{url} needs a host and a port"),
        ));
    }
    if let Some(container) = &udp.container_settings {
        let cpath = format!("{path}.containerSettings");
        only(&container.other, &cpath, &[])?;
        if let Some(m2ts) = &container.m2ts_settings {
            output.ts = ts_layout(m2ts, &format!("{cpath}.m2tsSettings"), "M2tsSettings")?;
        }
    }
    let fec = match &udp.fec_output_settings {
        None => None,
        Some(f) => {
            let fpath = format!("{path}.fecOutputSettings");
            only(&f.other, &fpath, &[])?;
            if let Some(include) = f
                .include_fec
                .as_deref()
                .filter(|i| !["COLUMN", "COLUMN_AND_ROW"].contains(i))
            {
                return Err(Problem::new(
                    format!("{fpath}.includeFec"),
                    format!("onair implements COLUMN / COLUMN_AND_ROW only, not {include}"),
                ));
            }
            if !rtp {
                return Err(Problem::new(
                    &fpath,
                    format!("SMPTE 2022-1 FEC needs an rtp:// destination, not {url}"),
                ));
            }
            // Model ranges: columnDepth 4-20, rowLength 1-20; refused outside them.
            let size = |v: Option<f64>, member: &str, default: i64| {
                int(
                    v,
                    &fpath,
                    "FecOutputSettings",
                    member,
                    0..=i64::from(u8::MAX),
                )
                .map(|n| u8::try_from(n.unwrap_or(default)).unwrap_or(u8::MAX))
            };
            let d = size(f.column_depth, "columnDepth", 5)?;
            let l = size(f.row_length, "rowLength", 20)?;
            Some((l, d, f.include_fec.as_deref() == Some("COLUMN_AND_ROW")))
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
fn pid(s: &str, path: &str) -> Result<Pid, Problem> {
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
        .ok_or_else(|| Problem::new(path, format!("'{s}' is not a PID from 32 to 8182")))
}

/// PIDs and program number of `m2tsSettings` / `m3u8Settings` (model
/// structure `structure`); the other members are refused by name.
fn ts_layout(m: &TsSettings, path: &str, structure: &str) -> Result<TsLayout, Problem> {
    only(&m.other, path, &[("pcrControl", &["PCR_EVERY_PES_PACKET"])])?;
    let mut ts = TsLayout::default();
    if let Some(s) = &m.video_pid {
        ts.video_pid = pid(s, &format!("{path}.videoPid"))?;
    }
    if let Some(s) = &m.audio_pids {
        ts.audio_pid = pid(s, &format!("{path}.audioPids"))?;
    }
    if let Some(s) = &m.pmt_pid {
        ts.pmt_pid = pid(s, &format!("{path}.pmtPid"))?;
    }
    // Program 0 is the network PID's, not a program's.
    if let Some(n) = int(
        m.program_num,
        path,
        structure,
        "programNum",
        1..=i64::from(u16::MAX),
    )? {
        ts.program_number = u16::try_from(n).unwrap_or(u16::MAX);
    }
    let pids = [ts.pmt_pid, ts.video_pid, ts.audio_pid];
    if pids
        .iter()
        .enumerate()
        .any(|(i, p)| pids.get(..i).is_some_and(|before| before.contains(p)))
    {
        return Err(Problem::new(
            path,
            "pmtPid, videoPid and audioPids must differ",
        ));
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outs(r: &Value) -> Result<Outputs, Problem> {
        outputs(&ChannelDoc::from_settings(r.as_object().unwrap()).unwrap())
    }

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
        let o = outs(&r).unwrap();
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
        let o = outs(&r).unwrap();
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
        let o = outs(&r).unwrap();
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
        let e = outs(&udp(json!({"bufferMsec": 1000}))).unwrap_err();
        assert!(e.path.ends_with("udpOutputSettings.bufferMsec"), "{e}");
        let e = outs(&udp(
            json!({"containerSettings": {"m2tsSettings": {"scte35Control": "PASSTHROUGH"}}}),
        ))
        .unwrap_err();
        assert!(e.path.ends_with("m2tsSettings.scte35Control"), "{e}");
        let e = outs(&udp(json!({"fecOutputSettings": {}}))).unwrap_err();
        assert!(e.why.contains("rtp://"), "{e}");
        let https = root(
            json!([{"outputGroupSettings": {"hlsGroupSettings": {"destination": {"destinationRefId": "h"}}},
                "outputs": [{"videoDescriptionName": "v360",
                    "outputSettings": {"hlsOutputSettings": {"hlsSettings": {}}}}]}]),
            json!([{"id": "h", "settings": [{"url": "https://example.com/live/main"}]}]),
        );
        assert!(outs(&https).unwrap_err().why.contains("http:// URLs only"));
        let audio_only = root(
            json!([{"outputGroupSettings": {"udpGroupSettings": {}},
                "outputs": [{"audioDescriptionNames": ["a"], "outputSettings": {}}]}]),
            dest,
        );
        assert!(outs(&audio_only)
            .unwrap_err()
            .path
            .ends_with("videoDescriptionName"));
    }

    #[test]
    fn audio_languages() {
        let d = |v: Value| audio_language(&serde_json::from_value(v).unwrap(), "a");
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
        assert_eq!(
            d(json!({"languageCode": "eng"})).unwrap_err().path,
            "a.languageCodeControl"
        );
        assert!(
            d(json!({"languageCode": "en", "languageCodeControl": "USE_CONFIGURED"}))
                .unwrap_err()
                .why
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

    #[test]
    fn group_numbers_out_of_range_are_refused_never_clamped() {
        let dest = json!([{"id": "u", "settings": [{"url": "rtp://127.0.0.1:6000"}]}]);
        let udp = |udp_settings: Value| {
            let mut s = json!({"destination": {"destinationRefId": "u"}});
            s.as_object_mut()
                .unwrap()
                .extend(udp_settings.as_object().unwrap().clone());
            root(
                json!([{"outputGroupSettings": {"udpGroupSettings": {}},
                    "outputs": [{"videoDescriptionName": "v360",
                        "outputSettings": {"udpOutputSettings": s}}]}]),
                dest.clone(),
            )
        };
        let udp_at = "encoderSettings.outputGroups[0].outputs[0].outputSettings.udpOutputSettings";
        for (settings, member, range) in [
            (
                json!({"fecOutputSettings": {"columnDepth": 3}}),
                "fecOutputSettings.columnDepth",
                "from 4 to 20",
            ),
            (
                json!({"fecOutputSettings": {"columnDepth": 21}}),
                "fecOutputSettings.columnDepth",
                "from 4 to 20",
            ),
            (
                json!({"fecOutputSettings": {"rowLength": 0}}),
                "fecOutputSettings.rowLength",
                "from 1 to 20",
            ),
            (
                json!({"fecOutputSettings": {"rowLength": 5.5}}),
                "fecOutputSettings.rowLength",
                "from 1 to 20",
            ),
            (
                json!({"containerSettings": {"m2tsSettings": {"programNum": 0}}}),
                "containerSettings.m2tsSettings.programNum",
                "from 1 to 65535",
            ),
            (
                json!({"containerSettings": {"m2tsSettings": {"programNum": 70000}}}),
                "containerSettings.m2tsSettings.programNum",
                "from 1 to 65535",
            ),
        ] {
            let e = outs(&udp(settings.clone())).unwrap_err();
            assert_eq!(e.path, format!("{udp_at}.{member}"), "{settings}");
            assert!(e.why.contains(range), "{settings}: {e}");
        }
        let hls = |group: Value| {
            let mut g = json!({"destination": {"destinationRefId": "h"}});
            g.as_object_mut()
                .unwrap()
                .extend(group.as_object().unwrap().clone());
            root(
                json!([{"outputGroupSettings": {"hlsGroupSettings": g},
                    "outputs": [{"videoDescriptionName": "v360",
                        "outputSettings": {"hlsOutputSettings": {}}}]}]),
                json!([{"id": "h", "settings": [{"url": "http://127.0.0.1:8080/live/main"}]}]),
            )
        };
        let hls_at = "encoderSettings.outputGroups[0].outputGroupSettings.hlsGroupSettings";
        for (group, member, range) in [
            (json!({"segmentLength": 0}), "segmentLength", "from 1 to"),
            (json!({"segmentLength": 2.5}), "segmentLength", "from 1 to"),
            (json!({"indexNSegments": 2}), "indexNSegments", "from 3 to"),
            (
                json!({"programDateTimePeriod": 3601}),
                "programDateTimePeriod",
                "from 0 to 3600",
            ),
            (
                json!({"hlsCdnSettings": {"hlsBasicPutSettings": {"numRetries": -1}}}),
                "hlsCdnSettings.hlsBasicPutSettings.numRetries",
                "from 0 to",
            ),
            (
                json!({"hlsCdnSettings": {"hlsWebdavSettings": {"connectionRetryInterval": 0.5}}}),
                "hlsCdnSettings.hlsWebdavSettings.connectionRetryInterval",
                "from 0 to",
            ),
        ] {
            let e = outs(&hls(group.clone())).unwrap_err();
            assert_eq!(e.path, format!("{hls_at}.{member}"), "{group}");
            assert!(e.why.contains(range), "{group}: {e}");
        }
        let ok = outs(&hls(json!({"segmentLength": 6, "indexNSegments": 3}))).unwrap();
        let Delivery::Hls(push) = &ok.groups[0].delivery else {
            panic!("not HLS")
        };
        assert_eq!(
            (push.segment_length, push.index_n),
            (Duration::from_secs(6), 3)
        );
    }
}
