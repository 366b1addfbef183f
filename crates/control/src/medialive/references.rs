//! Whole-channel rules no single member can check: references between input
//! attachments, audio selectors, audio/video descriptions, outputs and
//! destinations. Run after [`super::shape::validate`], on the typed view of the
//! request members ([`ChannelDoc`]).

use std::collections::HashSet;

use super::doc::{ChannelDoc, OutputLocationRef};
use super::Problem;

/// What a channel may attach: `None` if `input_id` can be attached, else why not.
pub type InputCheck<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Every reference problem in a channel's request members.
pub fn references(doc: &ChannelDoc, input: InputCheck) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut err = |p: String, m: String| problems.push(Problem::new(p, m));

    // Input attachments.
    let attachments = &doc.input_attachments;
    let input_ids: Vec<&str> = attachments
        .iter()
        .filter_map(|a| a.input_id.as_deref())
        .collect();
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    let mut selectors: HashSet<&str> = HashSet::new();
    for (i, a) in attachments.iter().enumerate() {
        let at = format!("inputAttachments[{i}]");
        match a.input_id.as_deref() {
            None => err(format!("{at}.inputId"), "is required".into()),
            Some(id) => {
                if !ids.insert(id) {
                    err(
                        format!("{at}.inputId"),
                        format!("input {id} is attached twice"),
                    );
                }
                if let Some(why) = input(id) {
                    err(format!("{at}.inputId"), why);
                }
            }
        }
        if let Some(name) = a.input_attachment_name.as_deref() {
            if !names.insert(name) {
                err(
                    format!("{at}.inputAttachmentName"),
                    format!("the name '{name}' is used by two input attachments"),
                );
            }
        }
        let own: Vec<&str> = a
            .audio_selectors()
            .iter()
            .filter_map(|s| s.name.as_deref())
            .collect();
        selectors.extend(own.iter().copied());
        if let Some(fo) = &a.automatic_input_failover_settings {
            let path = format!("{at}.automaticInputFailoverSettings");
            match fo.secondary_input_id.as_deref() {
                Some(sec) if Some(sec) == a.input_id.as_deref() => err(
                    format!("{path}.secondaryInputId"),
                    format!("input {sec} cannot be its own secondary input"),
                ),
                Some(sec) if !input_ids.contains(&sec) => err(
                    format!("{path}.secondaryInputId"),
                    format!("input {sec} is not attached to this channel"),
                ),
                Some(_) => {}
                None => err(format!("{path}.secondaryInputId"), "is required".into()),
            }
            for (j, c) in fo.failover_conditions.iter().enumerate() {
                let silence = c
                    .failover_condition_settings
                    .as_ref()
                    .and_then(|s| s.audio_silence_settings.as_ref());
                if let Some(name) = silence.and_then(|s| s.audio_selector_name.as_deref()) {
                    if !own.contains(&name) {
                        err(
                            format!("{path}.failoverConditions[{j}].failoverConditionSettings.audioSilenceSettings.audioSelectorName"),
                            format!("no audio selector named '{name}' in this input attachment"),
                        );
                    }
                }
            }
        }
    }

    // Destinations.
    let mut destinations = HashSet::new();
    let pipelines = match doc.channel_class.as_deref() {
        Some("SINGLE_PIPELINE") => 1,
        _ => 2,
    };
    for (i, d) in doc.destinations.iter().enumerate() {
        let at = format!("destinations[{i}]");
        match d.id.as_deref() {
            Some(id) if !destinations.insert(id) => err(
                format!("{at}.id"),
                format!("the id '{id}' is used by two destinations"),
            ),
            Some(_) => {}
            None => err(format!("{at}.id"), "is required".into()),
        }
        let urls = d.settings.len();
        if urls != 0 && urls != pipelines {
            err(
                format!("{at}.settings"),
                format!(
                    "a {} channel needs {pipelines} destination settings (one per pipeline), got {urls}",
                    if pipelines == 1 { "SINGLE_PIPELINE" } else { "STANDARD" },
                ),
            );
        }
    }

    // Encoder settings.
    let Some(enc) = &doc.encoder_settings else {
        return problems;
    };
    let mut video = HashSet::new();
    for (i, v) in enc.video_descriptions.iter().enumerate() {
        if let Some(name) = v.name.as_deref() {
            if !video.insert(name) {
                err(
                    format!("encoderSettings.videoDescriptions[{i}].name"),
                    format!("the name '{name}' is used by two video descriptions"),
                );
            }
        }
    }
    let mut audio = HashSet::new();
    for (i, a) in enc.audio_descriptions.iter().enumerate() {
        let at = format!("encoderSettings.audioDescriptions[{i}]");
        if let Some(name) = a.name.as_deref() {
            if !audio.insert(name) {
                err(
                    format!("{at}.name"),
                    format!("the name '{name}' is used by two audio descriptions"),
                );
            }
        }
        if let Some(sel) = a.audio_selector_name.as_deref() {
            if !selectors.contains(sel) {
                err(
                    format!("{at}.audioSelectorName"),
                    format!("no input attachment has an audio selector named '{sel}'"),
                );
            }
        }
    }
    for (g, group) in enc.output_groups.iter().enumerate() {
        let gat = format!("encoderSettings.outputGroups[{g}]");
        // Every destination a group or output sends to must be a channel destination.
        let mut refs: Vec<(String, &OutputLocationRef)> = Vec::new();
        if let Some(s) = &group.output_group_settings {
            let sat = format!("{gat}.outputGroupSettings");
            if let Some(d) = s
                .hls_group_settings
                .as_ref()
                .and_then(|h| h.destination.as_ref())
            {
                refs.push((format!("{sat}.hlsGroupSettings.destination"), d));
            }
            if let Some(d) = s
                .media_package_group_settings
                .as_ref()
                .and_then(|m| m.destination.as_ref())
            {
                refs.push((format!("{sat}.mediaPackageGroupSettings.destination"), d));
            }
        }
        for (o, out) in group.outputs.iter().enumerate() {
            if let Some(d) = out
                .output_settings
                .as_ref()
                .and_then(|s| s.udp_output_settings.as_ref())
                .and_then(|u| u.destination.as_ref())
            {
                refs.push((
                    format!("{gat}.outputs[{o}].outputSettings.udpOutputSettings.destination"),
                    d,
                ));
            }
        }
        for (at, r) in refs {
            if let Some(id) = r.destination_ref_id.as_deref() {
                if !destinations.contains(id) {
                    err(
                        format!("{at}.destinationRefId"),
                        format!("no destination with id '{id}' in destinations"),
                    );
                }
            }
        }
        for (o, out) in group.outputs.iter().enumerate() {
            let oat = format!("{gat}.outputs[{o}]");
            if let Some(name) = out.video_description_name.as_deref() {
                if !video.contains(name) {
                    err(
                        format!("{oat}.videoDescriptionName"),
                        format!("no video description named '{name}'"),
                    );
                }
            }
            for (k, name) in out.audio_description_names.iter().enumerate() {
                if !audio.contains(name.as_str()) {
                    err(
                        format!("{oat}.audioDescriptionNames[{k}]"),
                        format!("no audio description named '{name}'"),
                    );
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(v: serde_json::Value) -> Vec<String> {
        let doc = ChannelDoc::from_settings(v.as_object().unwrap()).unwrap();
        let known = |id: &str| (id != "1" && id != "2").then(|| format!("no input with id {id}"));
        references(&doc, &known)
            .into_iter()
            .map(|p| p.path)
            .collect()
    }

    #[test]
    fn names_every_dangling_reference() {
        let p = paths(json!({
            "channelClass": "STANDARD",
            "inputAttachments": [
                {"inputAttachmentName": "a", "inputId": "1",
                 "automaticInputFailoverSettings": {"secondaryInputId": "3",
                    "failoverConditions": [{"failoverConditionSettings":
                        {"audioSilenceSettings": {"audioSelectorName": "fra"}}}]},
                 "inputSettings": {"audioSelectors": [{"name": "eng"}]}},
                {"inputAttachmentName": "a", "inputId": "2"}
            ],
            "destinations": [{"id": "d", "settings": [{"url": "udp://h:1"}]}],
            "encoderSettings": {
                "videoDescriptions": [{"name": "v"}, {"name": "v"}],
                "audioDescriptions": [{"name": "x", "audioSelectorName": "deu"}],
                "outputGroups": [{
                    "outputGroupSettings": {"hlsGroupSettings": {"destination": {"destinationRefId": "h"}}},
                    "outputs": [{"videoDescriptionName": "w", "audioDescriptionNames": ["x", "y"],
                        "outputSettings": {"udpOutputSettings": {"destination": {"destinationRefId": "u"}}}}]
                }]
            }
        }));
        assert_eq!(
            p,
            [
                "inputAttachments[0].automaticInputFailoverSettings.secondaryInputId",
                "inputAttachments[0].automaticInputFailoverSettings.failoverConditions[0].failoverConditionSettings.audioSilenceSettings.audioSelectorName",
                "inputAttachments[1].inputAttachmentName",
                "destinations[0].settings",
                "encoderSettings.videoDescriptions[1].name",
                "encoderSettings.audioDescriptions[0].audioSelectorName",
                "encoderSettings.outputGroups[0].outputGroupSettings.hlsGroupSettings.destination.destinationRefId",
                "encoderSettings.outputGroups[0].outputs[0].outputSettings.udpOutputSettings.destination.destinationRefId",
                "encoderSettings.outputGroups[0].outputs[0].videoDescriptionName",
                "encoderSettings.outputGroups[0].outputs[0].audioDescriptionNames[1]",
            ]
        );
    }
}
