//! Channel members the model accepts but the engine does not act on: each is
//! refused by name (or, for an enum or number, every value but the one the
//! engine's behaviour matches), so a channel never runs with a setting silently
//! ignored. Run at CreateChannel / UpdateChannel with the other checks.
//!
//! What is accepted here and why:
//! - `timecodeConfig` (required by the CLI): no output carries timecode unless
//!   `timecodeInsertion`, which the H.264 checks refuse, so its source changes
//!   nothing onair emits;
//! - `respondToAfd` NONE, `sharpness` 50, `scalingBehavior` DEFAULT /
//!   STRETCH_TO_OUTPUT: onair scales every picture to the output size with the
//!   default filter;
//! - `inputFilter` AUTO / DISABLED and `deblockFilter` / `denoiseFilter`
//!   DISABLED: onair applies no input filter (AUTO filters only degraded MPEG-2
//!   inputs in MediaLive);
//! - `sourceEndBehavior` CONTINUE (file inputs only loop);
//! - `languageCode` / `audioType` and their controls are checked by the output
//!   planning (`groups`), which writes them as ISO 639 descriptors.

use serde_json::{Map, Value};

use super::groups::refused;
use super::ValidationError;

fn list(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Every member of `settings` onair would otherwise ignore.
pub fn check(settings: &Map<String, Value>) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut run =
        |r: Vec<String>| errors.extend(r.iter().map(|e| ValidationError::from_message(e)));
    for (i, a) in list(settings.get("inputAttachments")).iter().enumerate() {
        let path = format!("inputAttachments[{i}]");
        run(refused(
            a,
            &path,
            &[
                ("inputAttachmentName", &[]),
                ("inputId", &[]),
                ("inputSettings", &[]),
                ("automaticInputFailoverSettings", &[]),
            ],
        ));
        let Some(s) = a.get("inputSettings") else {
            continue;
        };
        let spath = format!("{path}.inputSettings");
        run(refused(
            s,
            &spath,
            &[
                ("audioSelectors", &[]),
                ("videoSelector", &[]),
                ("sourceEndBehavior", &["CONTINUE"]),
                ("inputFilter", &["AUTO", "DISABLED"]),
                ("deblockFilter", &["DISABLED"]),
                ("denoiseFilter", &["DISABLED"]),
            ],
        ));
        if let Some(v) = s.get("videoSelector") {
            run(refused(
                v,
                &format!("{spath}.videoSelector"),
                &[
                    ("selectorSettings", &[]),
                    ("colorSpaceUsage", &["FALLBACK"]),
                ],
            ));
            if let Some(sel) = v.get("selectorSettings") {
                run(refused(
                    sel,
                    &format!("{spath}.videoSelector.selectorSettings"),
                    &[("videoSelectorProgramId", &[])],
                ));
            }
        }
    }
    let Some(enc) = settings.get("encoderSettings") else {
        return errors;
    };
    run(refused(
        enc,
        "encoderSettings",
        &[
            ("audioDescriptions", &[]),
            ("videoDescriptions", &[]),
            ("outputGroups", &[]),
            ("timecodeConfig", &[]),
            ("globalConfiguration", &[]),
        ],
    ));
    for (i, d) in list(enc.get("videoDescriptions")).iter().enumerate() {
        let path = format!("encoderSettings.videoDescriptions[{i}]");
        run(refused(
            d,
            &path,
            &[
                ("name", &[]),
                ("width", &[]),
                ("height", &[]),
                ("codecSettings", &[]),
                ("respondToAfd", &["NONE"]),
                ("scalingBehavior", &["DEFAULT", "STRETCH_TO_OUTPUT"]),
                ("sharpness", &[]),
            ],
        ));
        if let Some(s) = d.get("sharpness").and_then(Value::as_f64) {
            if s != 50.0 {
                run(vec![format!(
                    "{path}.sharpness: onair scales with the default sharpness (50), not {s}"
                )]);
            }
        }
    }
    for (i, d) in list(enc.get("audioDescriptions")).iter().enumerate() {
        run(refused(
            d,
            &format!("encoderSettings.audioDescriptions[{i}]"),
            &[
                ("name", &[]),
                ("audioSelectorName", &[]),
                ("codecSettings", &[]),
                ("streamName", &[]),
                ("languageCode", &[]),
                ("languageCodeControl", &[]),
                ("audioType", &[]),
                ("audioTypeControl", &[]),
            ],
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(v: Value) -> Vec<String> {
        check(v.as_object().unwrap())
            .into_iter()
            .map(|e| e.element_path)
            .collect()
    }

    #[test]
    fn the_recipes_members_pass() {
        let recipe = json!({
            "inputAttachments": [{"inputAttachmentName": "p", "inputId": "1",
                "inputSettings": {"audioSelectors": [], "videoSelector": {"selectorSettings":
                    {"videoSelectorProgramId": {"programId": 1}}}}}],
            "encoderSettings": {"timecodeConfig": {"source": "EMBEDDED"},
                "audioDescriptions": [{"name": "a", "audioSelectorName": "default", "codecSettings": {}}],
                "videoDescriptions": [{"name": "v", "width": 1280, "height": 720, "codecSettings": {},
                    "respondToAfd": "NONE", "sharpness": 50}],
                "outputGroups": []}
        });
        assert_eq!(paths(recipe), Vec::<String>::new());
    }

    #[test]
    fn ignored_members_are_refused_by_path() {
        let v = json!({
            "inputAttachments": [{"inputId": "1", "logicalInterfaceNames": ["x"],
                "inputSettings": {"denoiseFilter": "ENABLED", "captionSelectors": []}}],
            "encoderSettings": {"captionDescriptions": [], "outputGroups": [],
                "videoDescriptions": [{"name": "v", "sharpness": 100, "cropRectangle": {}}],
                "audioDescriptions": [{"name": "a", "remixSettings": {}}]}
        });
        let p = paths(v);
        for expected in [
            "inputAttachments[0].logicalInterfaceNames",
            "inputAttachments[0].inputSettings.denoiseFilter",
            "encoderSettings.captionDescriptions",
            "encoderSettings.videoDescriptions[0].sharpness",
            "encoderSettings.audioDescriptions[0].remixSettings",
        ] {
            assert!(p.iter().any(|x| x == expected), "{expected} not in {p:?}");
        }
    }
}
