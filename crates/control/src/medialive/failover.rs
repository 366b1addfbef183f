//! What a channel does when its input fails: automatic input failover
//! (`inputAttachments[0].automaticInputFailoverSettings`) and input loss
//! behaviour (`encoderSettings.globalConfiguration`). Pure: from the stored
//! settings (wire names, as validated) to [`Failover`]; no I/O except
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
use serde_json::Value;

use super::codec::{get, num, text};
use super::ValidationError;

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

const CONDITION: &str = "inputAttachments[0].automaticInputFailoverSettings.failoverConditions";
const BEHAVIOR: &str = "encoderSettings.globalConfiguration.inputLossBehavior";

fn ms(v: Option<f64>, default: u64) -> Duration {
    Duration::from_millis(v.map_or(default, |n| n.max(0.0) as u64))
}

/// The secondary attachment and the failover / input loss settings of a
/// channel; `first` is `inputAttachments[0]`.
pub fn plan(
    root: &Value,
    first: &Value,
    attachments: &[Value],
) -> Result<(Option<Attachment>, Failover), String> {
    let failover = first.get("automaticInputFailoverSettings");
    let attachment = |a: &Value| -> Option<Attachment> {
        Some(Attachment {
            name: text(a, "inputAttachmentName").unwrap_or_default().into(),
            input_id: text(a, "inputId")?.into(),
        })
    };
    let secondary_id = failover.and_then(|f| text(f, "secondaryInputId"));
    let secondary_value =
        secondary_id.and_then(|id| attachments.iter().find(|a| text(a, "inputId") == Some(id)));
    let secondary = secondary_id.map(|id| {
        secondary_value.and_then(attachment).unwrap_or(Attachment {
            name: String::new(),
            input_id: id.into(),
        })
    });
    let conditions: Vec<&Value> = failover
        .and_then(|f| f.get("failoverConditions"))
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|c| c.get("failoverConditionSettings"))
                .collect()
        })
        .unwrap_or_default();
    let setting = |name: &str| conditions.iter().find_map(|c| c.get(name));
    let loss_ms = setting("inputLossSettings").and_then(|s| num(s, "inputLossThresholdMsec"));
    let black = setting("videoBlackSettings").map(|s| BlackCondition {
        threshold: num(s, "blackDetectThreshold")
            .unwrap_or(0.1)
            .clamp(0.0, 1.0),
        after: ms(num(s, "videoBlackThresholdMsec"), 1000),
    });
    let silence = match setting("audioSilenceSettings") {
        None => None,
        Some(s) => {
            let selector = text(s, "audioSelectorName").unwrap_or_default().to_string();
            // The primary must have the selector; a secondary without it is
            // watched on its first AAC stream.
            let pid_of = |a: Option<&Value>, required: bool| -> Result<Option<Pid>, String> {
                let Some(a) = a else { return Ok(None) };
                let selectors = get(a, &["inputSettings", "audioSelectors"])
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if selector.is_empty() {
                    return Ok(None);
                }
                let found = selectors
                    .iter()
                    .find(|s| text(s, "name") == Some(selector.as_str()));
                if found.is_none() && !required {
                    return Ok(None);
                }
                let found = found.ok_or_else(|| {
                    format!(
                        "{CONDITION}.audioSilenceSettings.audioSelectorName: input attachment \
                             {} has no audio selector named {selector}",
                        text(a, "inputAttachmentName").unwrap_or_default()
                    )
                })?;
                Ok(
                    get(found, &["selectorSettings", "audioPidSelection", "pid"])
                        .and_then(Value::as_u64)
                        .and_then(|p| u16::try_from(p).ok())
                        .map(Pid),
                )
            };
            Some(SilenceCondition {
                pids: [pid_of(Some(first), true)?, pid_of(secondary_value, false)?],
                selector,
                after: ms(num(s, "audioSilenceThresholdMsec"), 1000),
            })
        }
    };
    let loss_threshold = ms(loss_ms, 1000);
    // With a secondary, the channel's input is lost only if the switch did not
    // bring pictures back: give it the switch time and the other input's
    // first IDR picture before filling.
    let fill_after = match &secondary {
        Some(_) => loss_threshold + SWITCH_GRACE,
        None => loss_threshold,
    };
    let input_loss = input_loss(root, fill_after)?;
    Ok((
        secondary,
        Failover {
            loss_threshold,
            error_clear: ms(failover.and_then(|f| num(f, "errorClearTimeMsec")), 0),
            prefer_primary: failover.and_then(|f| text(f, "inputPreference"))
                == Some("PRIMARY_INPUT_PREFERRED"),
            black,
            silence,
            input_loss,
        },
    ))
}

/// `globalConfiguration`: the input loss behaviour, or the member onair
/// cannot honour.
fn input_loss(root: &Value, threshold: Duration) -> Result<InputLossConfig, String> {
    let mut config = InputLossConfig {
        threshold,
        ..InputLossConfig::default()
    };
    let Some(global) = get(root, &["encoderSettings", "globalConfiguration"]) else {
        return Ok(config);
    };
    let at = "encoderSettings.globalConfiguration";
    for (member, refused) in [
        ("inputEndAction", "SWITCH_AND_LOOP_INPUTS"),
        ("outputLockingMode", "EPOCH_LOCKING"),
        ("supportLowFramerateInputs", "ENABLED"),
    ] {
        if text(global, member) == Some(refused) {
            return Err(format!(
                "{at}.{member}: onair does not implement {refused} yet"
            ));
        }
    }
    let Some(b) = global.get("inputLossBehavior") else {
        return Ok(config);
    };
    let capped = |key: &str, default: u64| {
        let d = ms(num(b, key), default);
        d.min(Duration::from_millis(INFINITE_MS))
    };
    config.repeat = capped("repeatFrameMsec", 1000);
    config.black = capped("blackFrameMsec", 10_000);
    config.image = match text(b, "inputLossImageType").unwrap_or("COLOR") {
        "SLATE" => {
            let slate = b.get("inputLossImageSlate").ok_or_else(|| {
                format!("{BEHAVIOR}.inputLossImageSlate: SLATE needs inputLossImageSlate.uri")
            })?;
            LossImage::Slate(slate_path(slate)?)
        }
        _ => match text(b, "inputLossImageColor") {
            None => LossImage::Color([0, 0, 0]),
            Some(hex) => LossImage::Color(parse_color(hex).ok_or_else(|| {
                format!("{BEHAVIOR}.inputLossImageColor: '{hex}' is not six hex digits (RRGGBB)")
            })?),
        },
    };
    Ok(config)
}

/// The local file of an `inputLossImageSlate`.
fn slate_path(slate: &Value) -> Result<PathBuf, String> {
    let at = format!("{BEHAVIOR}.inputLossImageSlate");
    for member in ["username", "passwordParam"] {
        if slate.get(member).is_some_and(|v| !v.is_null()) {
            return Err(format!(
                "{at}.{member}: onair reads slates from local files and takes no credentials"
            ));
        }
    }
    let uri = text(slate, "uri").unwrap_or_default();
    let path = match uri.split_once("://") {
        None => uri,
        Some(("file", rest)) => rest,
        Some((scheme, _)) => {
            return Err(format!(
                "{at}.uri: onair cannot fetch {scheme}:// slates; give a local PNG or JPEG \
                 file (a path or file:///path)"
            ))
        }
    };
    if path.is_empty() {
        return Err(format!("{at}.uri: is empty"));
    }
    Ok(PathBuf::from(path))
}

/// The 422 problems of a channel's failover and input loss settings (for
/// Create/UpdateChannel): what [`plan`] refuses, and a slate file that does
/// not exist.
pub fn validate(settings: &serde_json::Map<String, Value>) -> Vec<ValidationError> {
    let root = Value::Object(settings.clone());
    let attachments = root
        .get("inputAttachments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let Some(first) = attachments.first() else {
        return Vec::new();
    };
    let problem = match plan(&root, first, &attachments) {
        Err(e) => e,
        Ok((_, f)) => match f.input_loss.image {
            LossImage::Slate(path) if !path.is_file() => format!(
                "{BEHAVIOR}.inputLossImageSlate.uri: no file {} on the onair machine",
                path.display()
            ),
            _ => return Vec::new(),
        },
    };
    vec![ValidationError::from_message(&problem)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    fn run(c: &Value) -> Result<(Option<Attachment>, Failover), String> {
        let list = c["inputAttachments"].as_array().unwrap().clone();
        plan(c, &list[0], &list)
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
            assert!(e.contains(member), "{e}");
            let errors = validate(c.as_object().unwrap());
            assert_eq!(errors.len(), 1);
            assert!(errors[0].element_path.ends_with(member), "{errors:?}");
        }
        let c = channel(
            json!({"inputLossBehavior": {"inputLossImageType": "SLATE",
                "inputLossImageSlate": {"uri": "/nonexistent/onair-slate.png"}}}),
            json!([]),
        );
        let errors = validate(c.as_object().unwrap());
        assert!(errors[0].error_message.contains("no file"), "{errors:?}");
        assert!(validate(channel(json!({}), json!([])).as_object().unwrap()).is_empty());
    }
}
