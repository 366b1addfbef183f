//! Structural validation of MediaLive request documents against the AWS model.
//!
//! `shapes.json` is the botocore model `medialive-2017-10-14.service-2.json`
//! reduced to what validation needs (wire names, member shapes, required
//! members, enums): for each shape its `type`; for a structure `members`
//! (wire name → shape, body members only, exceptions dropped) and `required`
//! (wire names); for a list `member`; for a map `value`; for a string `enum`.
//! Regenerate it from a newer model with the same reduction.
//!
//! Every member not in the model is an error naming its element path; so is a
//! wrong JSON type, an enum value outside the model, a missing required member
//! and a number outside the range MediaLive encodes in the shape *name*
//! (`__integerMin1000`, `__doubleMin0Max1`: the model carries no `min`/`max`
//! traits, so the name is the only source). Members the model has but onair
//! does not implement are refused by name through `NOT_YET`.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

use super::ValidationError;

#[derive(Deserialize)]
struct Shape {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    members: HashMap<String, String>,
    #[serde(default)]
    required: Vec<String>,
    member: Option<String>,
    value: Option<String>,
    #[serde(rename = "enum")]
    allowed: Option<Vec<String>>,
}

fn shapes() -> &'static HashMap<String, Shape> {
    static SHAPES: OnceLock<HashMap<String, Shape>> = OnceLock::new();
    SHAPES.get_or_init(|| serde_json::from_str(include_str!("shapes.json")).unwrap_or_default())
}

/// Shapes of which onair accepts only some members (the rest exist in AWS but
/// are not implemented here yet). Shapes not listed accept every model member.
const ONLY: &[(&str, &[&str])] = &[
    (
        "CreateChannelRequest",
        &[
            "name",
            "channelClass",
            "roleArn",
            "inputAttachments",
            "inputSpecification",
            "destinations",
            "encoderSettings",
            "logLevel",
            "tags",
            "requestId",
        ],
    ),
    (
        "UpdateChannelRequest",
        &[
            "name",
            "roleArn",
            "inputAttachments",
            "inputSpecification",
            "destinations",
            "encoderSettings",
            "logLevel",
        ],
    ),
    (
        "GlobalConfiguration",
        &[
            "inputEndAction",
            "inputLossBehavior",
            "outputLockingMode",
            "outputTimingSource",
            "supportLowFramerateInputs",
        ],
    ),
    (
        "InputLossBehavior",
        &[
            "blackFrameMsec",
            "inputLossImageColor",
            "inputLossImageSlate",
            "inputLossImageType",
            "repeatFrameMsec",
        ],
    ),
    (
        "FailoverConditionSettings",
        &[
            "audioSilenceSettings",
            "inputLossSettings",
            "videoBlackSettings",
        ],
    ),
    ("VideoCodecSettings", &["h264Settings"]),
    ("AudioCodecSettings", &["aacSettings"]),
    (
        "OutputGroupSettings",
        &[
            "hlsGroupSettings",
            "mediaPackageGroupSettings",
            "udpGroupSettings",
        ],
    ),
    (
        "OutputSettings",
        &[
            "hlsOutputSettings",
            "mediaPackageOutputSettings",
            "udpOutputSettings",
        ],
    ),
    (
        "AudioSelectorSettings",
        &["audioLanguageSelection", "audioPidSelection"],
    ),
    (
        "H264Settings",
        &[
            "adaptiveQuantization",
            "bitrate",
            "bufFillPct",
            "bufSize",
            "entropyEncoding",
            "flickerAq",
            "framerateControl",
            "framerateDenominator",
            "framerateNumerator",
            "gopBReference",
            "gopClosedCadence",
            "gopNumBFrames",
            "gopSize",
            "gopSizeUnits",
            "level",
            "lookAheadRateControl",
            "maxBitrate",
            "minIInterval",
            "numRefFrames",
            "parControl",
            "parDenominator",
            "parNumerator",
            "profile",
            "qvbrQualityLevel",
            "rateControlMode",
            "scanType",
            "sceneChangeDetect",
            "slices",
            "spatialAq",
            "subgopLength",
            "syntax",
            "temporalAq",
        ],
    ),
];

/// The range a numeric shape's name encodes: `__integerMin1Max10`,
/// `__doubleMinNegative60Max60`, `__integerMax5`.
pub fn range_of(shape: &str) -> (Option<f64>, Option<f64>) {
    fn number(s: &str) -> (Option<f64>, &str) {
        let (neg, s) = match s.strip_prefix("Negative") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let n = s.get(..end).and_then(|d| d.parse::<f64>().ok());
        (
            n.map(|n| if neg { -n } else { n }),
            s.get(end..).unwrap_or(""),
        )
    }
    let rest = ["__integer", "__double", "__long"]
        .iter()
        .find_map(|p| shape.strip_prefix(p))
        .unwrap_or("");
    let (min, rest) = match rest.strip_prefix("Min") {
        Some(r) => number(r),
        None => (None, rest),
    };
    let max = rest.strip_prefix("Max").and_then(|r| number(r).0);
    (min, max)
}

/// The range of member `member` of model structure `structure` (see
/// [`range_of`]); no bounds if the model has no such member.
pub fn member_range(structure: &str, member: &str) -> (Option<f64>, Option<f64>) {
    shapes()
        .get(structure)
        .and_then(|s| s.members.get(member))
        .map_or((None, None), |m| range_of(m))
}

/// Checks `value` against model shape `shape`; appends one error per problem.
pub fn validate(shape: &str, value: &Value, path: &str, errors: &mut Vec<ValidationError>) {
    let Some(s) = shapes().get(shape) else {
        errors.push(ValidationError::new(
            path,
            format!("onair has no model of shape {shape}"),
        ));
        return;
    };
    let mut bad = |msg: String| errors.push(ValidationError::new(path, msg));
    match (s.kind.as_str(), value) {
        (_, Value::Null) => {}
        ("structure", Value::Object(map)) => {
            let only = ONLY.iter().find(|(n, _)| *n == shape).map(|(_, m)| *m);
            for req in &s.required {
                if map.get(req).is_none_or(Value::is_null) {
                    errors.push(ValidationError::new(join(path, req), "is required"));
                }
            }
            for (key, v) in map {
                let at = join(path, key);
                match s.members.get(key) {
                    None => errors.push(ValidationError::new(
                        at,
                        format!("is not a member of {shape}"),
                    )),
                    Some(_) if only.is_some_and(|m| !m.contains(&key.as_str())) && !v.is_null() => {
                        errors.push(ValidationError::new(
                            at,
                            format!("onair does not implement {shape}.{key} yet"),
                        ))
                    }
                    Some(member) => validate(member, v, &at, errors),
                }
            }
        }
        ("list", Value::Array(items)) => {
            let member = s.member.as_deref().unwrap_or("");
            for (i, v) in items.iter().enumerate() {
                validate(member, v, &format!("{path}[{i}]"), errors);
            }
        }
        ("map", Value::Object(map)) => {
            let member = s.value.as_deref().unwrap_or("");
            for (k, v) in map {
                validate(member, v, &join(path, k), errors);
            }
        }
        ("string", Value::String(text)) => {
            if let Some(allowed) = &s.allowed {
                if !allowed.iter().any(|a| a == text) {
                    bad(format!("'{text}' is not one of {}", allowed.join(", ")));
                }
            }
        }
        ("integer" | "long", Value::Number(n)) => match n.as_i64() {
            Some(i) => check_range(shape, i as f64, &mut bad),
            None => bad("expected an integer".into()),
        },
        ("double", Value::Number(n)) => {
            check_range(shape, n.as_f64().unwrap_or(f64::NAN), &mut bad)
        }
        ("boolean", Value::Bool(_)) => {}
        // No request shape of the channel has these; accept what the model allows.
        ("timestamp" | "blob", Value::String(_) | Value::Number(_)) => {}
        (kind, _) => bad(format!("expected {}", article(kind))),
    }
}

fn check_range(shape: &str, n: f64, bad: &mut impl FnMut(String)) {
    match range_of(shape) {
        (Some(min), _) if n < min => bad(format!("{n} is below the minimum {min}")),
        (_, Some(max)) if n > max => bad(format!("{n} is above the maximum {max}")),
        _ => {}
    }
}

fn article(kind: &str) -> &'static str {
    match kind {
        "structure" | "map" => "an object",
        "list" => "a list",
        "string" => "a string",
        "integer" | "long" => "an integer",
        "double" => "a number",
        "boolean" => "a boolean",
        _ => "a value of another type",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(shape: &str, v: Value) -> Vec<(String, String)> {
        let mut e = Vec::new();
        validate(shape, &v, "", &mut e);
        e.into_iter()
            .map(|e| (e.element_path, e.error_message))
            .collect()
    }

    #[test]
    fn ranges_come_from_shape_names() {
        assert_eq!(range_of("__integerMin1000"), (Some(1000.0), None));
        assert_eq!(range_of("__integerMin0Max7"), (Some(0.0), Some(7.0)));
        assert_eq!(
            range_of("__doubleMinNegative60Max60"),
            (Some(-60.0), Some(60.0))
        );
        assert_eq!(range_of("__integerMax5"), (None, Some(5.0)));
        assert_eq!(range_of("__string"), (None, None));
    }

    #[test]
    fn model_is_embedded() {
        assert!(shapes().contains_key("EncoderSettings"));
    }

    #[test]
    fn names_unknown_members_bad_enums_and_ranges() {
        let e = errors(
            "H264Settings",
            json!({"bitrate": 999, "gopNumBFrames": 9, "profile": "EXTREME", "colour": 1}),
        );
        assert!(e.contains(&("bitrate".into(), "999 is below the minimum 1000".into())));
        assert!(e.contains(&("gopNumBFrames".into(), "9 is above the maximum 7".into())));
        assert!(e
            .iter()
            .any(|(p, m)| p == "profile" && m.contains("not one of")));
        assert!(e.contains(&("colour".into(), "is not a member of H264Settings".into())));
    }

    #[test]
    fn refuses_model_members_onair_does_not_implement() {
        let e = errors("VideoCodecSettings", json!({"h265Settings": {}}));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "h265Settings");
        assert!(e[0].1.contains("does not implement"));
    }

    #[test]
    fn required_members_and_types() {
        let e = errors("VideoDescription", json!({"width": "wide"}));
        assert!(e.contains(&("name".into(), "is required".into())));
        assert!(e.contains(&("width".into(), "expected an integer".into())));
    }
}
