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

use super::doc::ChannelDoc;
use super::groups::refused;
use super::Problem;

/// Every member of the channel onair would otherwise ignore: what its typed
/// view ([`super::doc`]) does not read, unless its value is the one onair's
/// behaviour matches.
pub fn check(doc: &ChannelDoc) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, a) in doc.input_attachments.iter().enumerate() {
        let path = format!("inputAttachments[{i}]");
        problems.extend(refused(&a.other, &path, &[]));
        let Some(s) = &a.input_settings else {
            continue;
        };
        let spath = format!("{path}.inputSettings");
        problems.extend(refused(
            &s.other,
            &spath,
            &[
                ("sourceEndBehavior", &["CONTINUE"]),
                ("inputFilter", &["AUTO", "DISABLED"]),
                ("deblockFilter", &["DISABLED"]),
                ("denoiseFilter", &["DISABLED"]),
            ],
        ));
        if let Some(v) = &s.video_selector {
            let vpath = format!("{spath}.videoSelector");
            problems.extend(refused(
                &v.other,
                &vpath,
                &[("colorSpaceUsage", &["FALLBACK"])],
            ));
            if let Some(sel) = &v.selector_settings {
                problems.extend(refused(
                    &sel.other,
                    &format!("{vpath}.selectorSettings"),
                    &[],
                ));
            }
        }
    }
    let Some(enc) = &doc.encoder_settings else {
        return problems;
    };
    problems.extend(refused(&enc.other, "encoderSettings", &[]));
    for (i, d) in enc.video_descriptions.iter().enumerate() {
        let path = format!("encoderSettings.videoDescriptions[{i}]");
        problems.extend(refused(
            &d.other,
            &path,
            &[
                ("respondToAfd", &["NONE"]),
                ("scalingBehavior", &["DEFAULT", "STRETCH_TO_OUTPUT"]),
            ],
        ));
        if let Some(s) = d.sharpness.filter(|s| *s != 50.0) {
            problems.push(Problem::new(
                format!("{path}.sharpness"),
                format!("onair scales with the default sharpness (50), not {s}"),
            ));
        }
    }
    for (i, d) in enc.audio_descriptions.iter().enumerate() {
        problems.extend(refused(
            &d.other,
            &format!("encoderSettings.audioDescriptions[{i}]"),
            &[("streamName", &[])],
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn paths(v: Value) -> Vec<String> {
        check(&ChannelDoc::from_settings(v.as_object().unwrap()).unwrap())
            .into_iter()
            .map(|e| e.path)
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
