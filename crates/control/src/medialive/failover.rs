//! What a channel does when its input fails: automatic input failover
//! (`inputAttachments[0].automaticInputFailoverSettings`) and input loss
//! behaviour (`encoderSettings.globalConfiguration`). Pure: from the stored
//! settings (typed, [`super::doc`]) to [`Failover`]; no I/O except
//! [`validate`], which looks at a slate file.
//!
//! Failover conditions: `inputLossSettings` (no datagram for
//! `inputLossThresholdMsec`, default 1000 ms — the loss condition applies even
//! when not listed, as before), `videoBlackSettings` (every luma sample at most
//! `blackDetectThreshold` × 255, default 0.1, for `videoBlackThresholdMsec`,
//! default 1000 ms) and `audioSilenceSettings` (the named selector's audio
//! below −50 dBFS or absent for `audioSilenceThresholdMsec`, default 1000 ms).
//!
//! Input loss behaviour: the engine fills after the failover condition's
//! `inputLossThresholdMsec` (default 1000 ms) without a picture — plus
//! [`SWITCH_GRACE`] when there is a secondary input, so a failover that brings
//! pictures back is not filled (the engine then bridges the gap without
//! adding media time, as before); `repeatFrameMsec`
//! defaults to 1000, `blackFrameMsec` to 10000, the image to COLOR `000000`.
//! A slate must be a local PNG/JPEG file (a path or a `file://` URI).
//!
//! `globalConfiguration` members onair does not honour are refused by name:
//! `initialAudioGain` and `outputLockingSettings` through `shape.rs`'s `ONLY`,
//! the values `inputEndAction` SWITCH_AND_LOOP_INPUTS, `outputLockingMode`
//! EPOCH_LOCKING and `supportLowFramerateInputs` ENABLED here.

use std::path::PathBuf;
use std::time::Duration;

use live_config::loss::{parse_color, InputLossConfig, LossImage, INFINITE_MS};
use media::ts::Pid;

use super::doc::{int, AudioSelector, ChannelDoc, InputAttachment, InputLocation};
use super::{shape, Problem};

/// Black-video failover condition.
#[derive(Clone, Debug, PartialEq)]
pub struct BlackCondition {
    /// A luma sample at most `threshold × 255` is black (`blackDetectThreshold`).
    pub threshold: f64,
    /// Black this long fails the input (`videoBlackThresholdMsec`).
    pub after: Duration,
}

/// Audio-silence failover condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SilenceCondition {
    /// The audio selector watched (`audioSelectorName`).
    pub selector: String,
    /// Its PID on the primary and on the secondary input, when the selector
    /// of that attachment names one (else the first AAC stream).
    pub pids: [Option<Pid>; 2],
    /// Silent this long fails the input (`audioSilenceThresholdMsec`).
    pub after: Duration,
}

/// A channel's failover and input loss settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Failover {
    /// The active input is lost after this long without a datagram.
    pub loss_threshold: Duration,
    /// A recovered input must be free of failover conditions this long
    /// (`errorClearTimeMsec`) before the primary is used again.
    pub error_clear: Duration,
    /// `inputPreference` is PRIMARY_INPUT_PREFERRED (default: EQUAL_INPUT_PREFERENCE).
    pub prefer_primary: bool,
    pub black: Option<BlackCondition>,
    pub silence: Option<SilenceCondition>,
    /// `globalConfiguration.inputLossBehavior`.
    pub input_loss: InputLossConfig,
}

/// With a secondary input, how much longer than the failover loss threshold
/// the engine waits for pictures before it fills: the switch and the other
/// input's first IDR picture (GOPs up to about 2 s).
pub const SWITCH_GRACE: Duration = Duration::from_millis(2000);

/// An input attachment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub input_id: String,
}

impl Attachment {
    /// The attachment of a typed `inputAttachments[]` entry, if it names an input.
    pub fn of(a: &InputAttachment) -> Option<Attachment> {
        Some(Attachment {
            name: a.input_attachment_name.clone().unwrap_or_default(),
            input_id: a.input_id.clone()?,
        })
    }
}

const FAILOVER: &str = "inputAttachments[0].automaticInputFailoverSettings";
const CONDITION: &str = "inputAttachments[0].automaticInputFailoverSettings.failoverConditions";
const GLOBAL: &str = "encoderSettings.globalConfiguration";
const BEHAVIOR: &str = "encoderSettings.globalConfiguration.inputLossBehavior";

/// A millisecond member (`structure.member` in the model) at `path`, or
/// `default`: refused outside the model's range, never clamped.
fn ms(
    v: Option<f64>,
    path: &str,
    structure: &str,
    member: &str,
    default: u64,
) -> Result<Duration, Problem> {
    let n = int(v, path, structure, member, 0..=i64::MAX)?;
    Ok(Duration::from_millis(
        n.map_or(default, |n| u64::try_from(n).unwrap_or(default)),
    ))
}

/// The secondary attachment and the failover / input loss settings of a
/// channel; `first` is `inputAttachments[0]`.
pub fn plan(
    doc: &ChannelDoc,
    first: &InputAttachment,
) -> Result<(Option<Attachment>, Failover), Problem> {
    let failover = first.automatic_input_failover_settings.as_ref();
    let secondary_id = failover.and_then(|f| f.secondary_input_id.as_deref());
    let secondary_attachment = secondary_id.and_then(|id| {
        doc.input_attachments
            .iter()
            .find(|a| a.input_id.as_deref() == Some(id))
    });
    let secondary = secondary_id.map(|id| {
        secondary_attachment
            .and_then(Attachment::of)
            .unwrap_or(Attachment {
                name: String::new(),
                input_id: id.into(),
            })
    });
    // Each condition kind with the element path of its settings; the first of a kind counts.
    let mut loss = None;
    let mut black = None;
    let mut silence = None;
    for (j, c) in failover
        .map_or(&[][..], |f| f.failover_conditions.as_slice())
        .iter()
        .enumerate()
    {
        let Some(s) = &c.failover_condition_settings else {
            continue;
        };
        let at = |m: &str| format!("{CONDITION}[{j}].failoverConditionSettings.{m}");
        if loss.is_none() {
            loss = s
                .input_loss_settings
                .as_ref()
                .map(|l| (l, at("inputLossSettings")));
        }
        if black.is_none() {
            black = s
                .video_black_settings
                .as_ref()
                .map(|b| (b, at("videoBlackSettings")));
        }
        if silence.is_none() {
            silence = s
                .audio_silence_settings
                .as_ref()
                .map(|a| (a, at("audioSilenceSettings")));
        }
    }
    let loss_threshold = match loss {
        Some((l, path)) => ms(
            l.input_loss_threshold_msec,
            &path,
            "InputLossFailoverSettings",
            "inputLossThresholdMsec",
            1000,
        )?,
        None => Duration::from_millis(1000),
    };
    let black = match black {
        None => None,
        Some((b, path)) => {
            let threshold = b.black_detect_threshold.unwrap_or(0.1);
            let (min, max) =
                shape::member_range("VideoBlackFailoverSettings", "blackDetectThreshold");
            let (min, max) = (min.unwrap_or(0.0), max.unwrap_or(1.0));
            if !(min..=max).contains(&threshold) {
                return Err(Problem::new(
                    format!("{path}.blackDetectThreshold"),
                    format!("{threshold} is out of range: it takes a number from {min} to {max}"),
                ));
            }
            Some(BlackCondition {
                threshold,
                after: ms(
                    b.video_black_threshold_msec,
                    &path,
                    "VideoBlackFailoverSettings",
                    "videoBlackThresholdMsec",
                    1000,
                )?,
            })
        }
    };
    let silence = match silence {
        None => None,
        Some((s, path)) => {
            let selector = s.audio_selector_name.clone().unwrap_or_default();
            // The primary must have the selector; a secondary without it is
            // watched on its first AAC stream.
            let pid_of = |a: Option<&InputAttachment>,
                          at: &str,
                          required: bool|
             -> Result<Option<Pid>, Problem> {
                let Some(a) = a else { return Ok(None) };
                if selector.is_empty() {
                    return Ok(None);
                }
                let found = a
                    .audio_selectors()
                    .iter()
                    .enumerate()
                    .find(|(_, s)| s.name.as_deref() == Some(selector.as_str()));
                let Some((k, found)) = found else {
                    if !required {
                        return Ok(None);
                    }
                    return Err(Problem::new(
                        format!("{CONDITION}.audioSilenceSettings.audioSelectorName"),
                        format!(
                            "input attachment {} has no audio selector named {selector}",
                            a.input_attachment_name.as_deref().unwrap_or_default()
                        ),
                    ));
                };
                selector_pid(found, &format!("{at}.inputSettings.audioSelectors[{k}]"))
            };
            let secondary_at = secondary_attachment
                .and_then(|s| {
                    doc.input_attachments
                        .iter()
                        .position(|a| std::ptr::eq(a, s))
                })
                .map(|i| format!("inputAttachments[{i}]"))
                .unwrap_or_default();
            Some(SilenceCondition {
                pids: [
                    pid_of(Some(first), "inputAttachments[0]", true)?,
                    pid_of(secondary_attachment, &secondary_at, false)?,
                ],
                selector,
                after: ms(
                    s.audio_silence_threshold_msec,
                    &path,
                    "AudioSilenceFailoverSettings",
                    "audioSilenceThresholdMsec",
                    1000,
                )?,
            })
        }
    };
    // With a secondary, the channel's input is lost only if the switch did not
    // bring pictures back: give it the switch time and the other input's
    // first IDR picture before filling.
    let fill_after = match &secondary {
        Some(_) => loss_threshold.saturating_add(SWITCH_GRACE),
        None => loss_threshold,
    };
    let input_loss = input_loss(doc, fill_after)?;
    let error_clear = ms(
        failover.and_then(|f| f.error_clear_time_msec),
        FAILOVER,
        "AutomaticInputFailoverSettings",
        "errorClearTimeMsec",
        0,
    )?;
    Ok((
        secondary,
        Failover {
            loss_threshold,
            error_clear,
            prefer_primary: failover.and_then(|f| f.input_preference.as_deref())
                == Some("PRIMARY_INPUT_PREFERRED"),
            black,
            silence,
            input_loss,
        },
    ))
}

/// The PID an audio selector picks by `audioPidSelection` (`path` is the
/// selector's), if any.
pub fn selector_pid(selector: &AudioSelector, path: &str) -> Result<Option<Pid>, Problem> {
    let Some(pid) = selector
        .selector_settings
        .as_ref()
        .and_then(|s| s.audio_pid_selection.as_ref())
    else {
        return Ok(None);
    };
    let at = format!("{path}.selectorSettings.audioPidSelection");
    let pid = int(
        pid.pid,
        &at,
        "AudioPidSelection",
        "pid",
        0..=i64::from(u16::MAX),
    )?;
    Ok(pid.and_then(|p| u16::try_from(p).ok()).map(Pid))
}

/// `globalConfiguration`: the input loss behaviour, or the member onair
/// cannot honour.
fn input_loss(doc: &ChannelDoc, threshold: Duration) -> Result<InputLossConfig, Problem> {
    let mut config = InputLossConfig {
        threshold,
        ..InputLossConfig::default()
    };
    let Some(global) = doc
        .encoder_settings
        .as_ref()
        .and_then(|e| e.global_configuration.as_ref())
    else {
        return Ok(config);
    };
    for (member, value, refused) in [
        (
            "inputEndAction",
            &global.input_end_action,
            "SWITCH_AND_LOOP_INPUTS",
        ),
        (
            "outputLockingMode",
            &global.output_locking_mode,
            "EPOCH_LOCKING",
        ),
        (
            "supportLowFramerateInputs",
            &global.support_low_framerate_inputs,
            "ENABLED",
        ),
    ] {
        if value.as_deref() == Some(refused) {
            return Err(Problem::new(
                format!("{GLOBAL}.{member}"),
                format!("onair does not implement {refused} yet"),
            ));
        }
    }
    let Some(b) = &global.input_loss_behavior else {
        return Ok(config);
    };
    // The model's maximum (1000000 ms) is INFINITE_MS: that phase never ends.
    let phase = |v: Option<f64>, member: &str, default: u64| {
        ms(v, BEHAVIOR, "InputLossBehavior", member, default)
    };
    config.repeat = phase(b.repeat_frame_msec, "repeatFrameMsec", 1000)?;
    config.black = phase(b.black_frame_msec, "blackFrameMsec", 10_000)?;
    debug_assert!(config.black <= Duration::from_millis(INFINITE_MS));
    config.image = match b.input_loss_image_type.as_deref().unwrap_or("COLOR") {
        "SLATE" => {
            let Some(slate) = &b.input_loss_image_slate else {
                return Err(Problem::new(
                    format!("{BEHAVIOR}.inputLossImageSlate"),
                    "SLATE needs inputLossImageSlate.uri",
                ));
            };
            LossImage::Slate(slate_path(slate)?)
        }
        _ => match b.input_loss_image_color.as_deref() {
            None => LossImage::Color([0, 0, 0]),
            Some(hex) => LossImage::Color(parse_color(hex).ok_or_else(|| {
                Problem::new(
                    format!("{BEHAVIOR}.inputLossImageColor"),
                    format!("'{hex}' is not six hex digits (RRGGBB)"),
                )
            })?),
        },
    };
    Ok(config)
}

/// The local file of an `inputLossImageSlate`.
fn slate_path(slate: &InputLocation) -> Result<PathBuf, Problem> {
    let at = format!("{BEHAVIOR}.inputLossImageSlate");
    for (member, given) in [
        ("username", slate.username.is_some()),
        ("passwordParam", slate.password_param.is_some()),
    ] {
        if given {
            return Err(Problem::new(
                format!("{at}.{member}"),
                "onair reads slates from local files and takes no credentials",
            ));
        }
    }
    let uri = slate.uri.as_deref().unwrap_or_default();
    let path = match uri.split_once("://") {
        None => uri,
        Some(("file", rest)) => rest,
        Some((scheme, _)) => {
            return Err(Problem::new(
                format!("{at}.uri"),
                format!(
                    "onair cannot fetch {scheme}:// slates; give a local PNG or JPEG file (a \
                     path or file:///path)"
                ),
            ))
        }
    };
    if path.is_empty() {
        return Err(Problem::new(format!("{at}.uri"), "is empty"));
    }
    Ok(PathBuf::from(path))
}

/// The 422 problems of a channel's failover and input loss settings (for
/// Create/UpdateChannel): what [`plan`] refuses, and a slate file that does
/// not exist.
pub fn validate(doc: &ChannelDoc) -> Vec<Problem> {
    let Some(first) = doc.input_attachments.first() else {
        return Vec::new();
    };
    match plan(doc, first) {
        Err(e) => vec![e],
        Ok((_, f)) => match f.input_loss.image {
            LossImage::Slate(path) if !path.is_file() => vec![Problem::new(
                format!("{BEHAVIOR}.inputLossImageSlate.uri"),
                format!("no file {} on the onair machine", path.display()),
            )],
            _ => Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn channel(global: Value, conditions: Value) -> Value {
        json!({
            "inputAttachments": [
                {"inputAttachmentName": "main", "inputId": "1",
                 "automaticInputFailoverSettings": {"secondaryInputId": "2",
                    "errorClearTimeMsec": 2000, "inputPreference": "PRIMARY_INPUT_PREFERRED",
                    "failoverConditions": conditions},
                 "inputSettings": {"audioSelectors": [{"name": "eng",
                    "selectorSettings": {"audioPidSelection": {"pid": 258}}}]}},
                {"inputAttachmentName": "backup", "inputId": "2",
                 "inputSettings": {"audioSelectors": [{"name": "eng"}]}}
            ],
            "encoderSettings": {"globalConfiguration": global}
        })
    }

    fn doc(c: &Value) -> ChannelDoc {
        ChannelDoc::from_settings(c.as_object().unwrap()).unwrap()
    }

    fn run(c: &Value) -> Result<(Option<Attachment>, Failover), Problem> {
        let d = doc(c);
        plan(&d, &d.input_attachments[0])
    }

    #[test]
    fn conditions_and_defaults() {
        let c = channel(
            json!({}),
            json!([
                {"failoverConditionSettings": {"inputLossSettings": {"inputLossThresholdMsec": 500}}},
                {"failoverConditionSettings": {"videoBlackSettings": {"blackDetectThreshold": 0.2,
                    "videoBlackThresholdMsec": 3000}}},
                {"failoverConditionSettings": {"audioSilenceSettings": {"audioSelectorName": "eng"}}}
            ]),
        );
        let (secondary, f) = run(&c).unwrap();
        assert_eq!(secondary.unwrap().name, "backup");
        assert_eq!(f.loss_threshold, Duration::from_millis(500));
        assert_eq!(f.error_clear, Duration::from_millis(2000));
        assert!(f.prefer_primary);
        assert_eq!(
            f.black,
            Some(BlackCondition {
                threshold: 0.2,
                after: Duration::from_secs(3)
            })
        );
        let s = f.silence.unwrap();
        assert_eq!(s.pids, [Some(Pid(258)), None]);
        assert_eq!(s.after, Duration::from_secs(1));
        // Input loss behaviour defaults; the fill waits for the failover too.
        assert_eq!(
            f.input_loss,
            InputLossConfig {
                threshold: Duration::from_millis(2500),
                ..InputLossConfig::default()
            }
        );
    }

    #[test]
    fn input_loss_behavior() {
        let c = channel(
            json!({"inputLossBehavior": {"repeatFrameMsec": 0, "blackFrameMsec": 1000000,
                "inputLossImageType": "COLOR", "inputLossImageColor": "FF8000"}}),
            json!([]),
        );
        let l = run(&c).unwrap().1.input_loss;
        assert_eq!(
            l.threshold,
            Duration::from_secs(3),
            "1 s + the switch grace"
        );
        assert_eq!(l.repeat, Duration::ZERO);
        assert_eq!(l.black, Duration::from_millis(INFINITE_MS));
        assert_eq!(l.image, LossImage::Color([255, 128, 0]));
        let c = channel(
            json!({"inputLossBehavior": {"inputLossImageType": "SLATE",
                "inputLossImageSlate": {"uri": "file:///srv/slate.png"}}}),
            json!([]),
        );
        assert_eq!(
            run(&c).unwrap().1.input_loss.image,
            LossImage::Slate("/srv/slate.png".into())
        );
    }

    #[test]
    fn what_onair_cannot_do_is_refused_by_name() {
        let cases = [
            (
                json!({"inputLossBehavior": {"inputLossImageType": "SLATE",
                    "inputLossImageSlate": {"uri": "https://example.com/slate.png"}}}),
                json!([]),
                "inputLossImageSlate.uri",
            ),
            (
                json!({"inputLossBehavior": {"inputLossImageColor": "red"}}),
                json!([]),
                "inputLossImageColor",
            ),
            (
                json!({"inputEndAction": "SWITCH_AND_LOOP_INPUTS"}),
                json!([]),
                "globalConfiguration.inputEndAction",
            ),
            (
                json!({}),
                json!([{"failoverConditionSettings": {"audioSilenceSettings":
                    {"audioSelectorName": "fra"}}}]),
                "audioSelectorName",
            ),
        ];
        for (global, conditions, member) in cases {
            let c = channel(global, conditions);
            let e = run(&c).unwrap_err();
            assert!(e.path.ends_with(member), "{e}");
            let errors = validate(&doc(&c));
            assert_eq!(errors.len(), 1);
            assert!(errors[0].path.ends_with(member), "{errors:?}");
        }
        let c = channel(
            json!({"inputLossBehavior": {"inputLossImageType": "SLATE",
                "inputLossImageSlate": {"uri": "/nonexistent/onair-slate.png"}}}),
            json!([]),
        );
        let errors = validate(&doc(&c));
        assert!(errors[0].why.contains("no file"), "{errors:?}");
        assert!(validate(&doc(&channel(json!({}), json!([])))).is_empty());
    }

    #[test]
    fn numbers_out_of_range_are_refused_never_clamped() {
        let cond = |settings: Value| json!([{"failoverConditionSettings": settings}]);
        for (global, conditions, path, range) in [
            (
                json!({}),
                cond(json!({"inputLossSettings": {"inputLossThresholdMsec": 50}})),
                "failoverConditions[0].failoverConditionSettings.inputLossSettings.inputLossThresholdMsec",
                "from 100 to",
            ),
            (
                json!({}),
                cond(json!({"inputLossSettings": {"inputLossThresholdMsec": 500.5}})),
                "inputLossSettings.inputLossThresholdMsec",
                "from 100 to",
            ),
            (
                json!({}),
                cond(json!({"videoBlackSettings": {"blackDetectThreshold": 1.5}})),
                "videoBlackSettings.blackDetectThreshold",
                "from 0 to 1",
            ),
            (
                json!({}),
                cond(json!({"videoBlackSettings": {"videoBlackThresholdMsec": 999}})),
                "videoBlackSettings.videoBlackThresholdMsec",
                "from 1000 to",
            ),
            (
                json!({}),
                cond(json!({"audioSilenceSettings": {"audioSelectorName": "eng",
                    "audioSilenceThresholdMsec": -1}})),
                "audioSilenceSettings.audioSilenceThresholdMsec",
                "from 1000 to",
            ),
            (
                json!({"inputLossBehavior": {"repeatFrameMsec": 1000001}}),
                json!([]),
                "inputLossBehavior.repeatFrameMsec",
                "from 0 to 1000000",
            ),
            (
                json!({"inputLossBehavior": {"blackFrameMsec": -5}}),
                json!([]),
                "inputLossBehavior.blackFrameMsec",
                "from 0 to 1000000",
            ),
        ] {
            let c = channel(global, conditions);
            let e = run(&c).unwrap_err();
            assert!(e.path.ends_with(path), "{path}: {e}");
            assert!(e.why.contains(range), "{path}: {e}");
        }
        let mut c = channel(json!({}), json!([]));
        c["inputAttachments"][0]["automaticInputFailoverSettings"]["errorClearTimeMsec"] = json!(0);
        let e = run(&c).unwrap_err();
        assert_eq!(
            e.path,
            "inputAttachments[0].automaticInputFailoverSettings.errorClearTimeMsec"
        );
        assert!(e.why.contains("from 1 to"), "{e}");
        let mut c = channel(
            json!({}),
            cond(json!({"audioSilenceSettings": {"audioSelectorName": "eng"}})),
        );
        c["inputAttachments"][0]["inputSettings"]["audioSelectors"][0]["selectorSettings"]
            ["audioPidSelection"]["pid"] = json!(9000);
        let e = run(&c).unwrap_err();
        assert_eq!(
            e.path,
            "inputAttachments[0].inputSettings.audioSelectors[0].selectorSettings.audioPidSelection.pid"
        );
        assert!(e.why.contains("from 0 to 8191"), "{e}");
    }
}
