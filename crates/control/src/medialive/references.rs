//! Whole-channel rules no single member can check: references between input
//! attachments, audio selectors, audio/video descriptions, outputs and
//! destinations. Run after [`super::shape::validate`], on the request members.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::ValidationError;

/// What a channel may attach: `None` if `input_id` can be attached, else why not.
pub type InputCheck<'a> = &'a dyn Fn(&str) -> Option<String>;

fn list(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Every reference problem in a channel's request members.
pub fn references(settings: &Map<String, Value>, input: InputCheck) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    let mut err = |p: String, m: String| errors.push(ValidationError::new(p, m));

    // Input attachments.
    let attachments = list(settings.get("inputAttachments"));
    let input_ids: Vec<&str> = attachments
        .iter()
        .filter_map(|a| text(a, "inputId"))
        .collect();
    let mut names = HashSet::new();
    let mut ids = HashSet::new();
    let mut selectors: HashSet<&str> = HashSet::new();
    for (i, a) in attachments.iter().enumerate() {
        let at = format!("inputAttachments[{i}]");
        match text(a, "inputId") {
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
        if let Some(name) = text(a, "inputAttachmentName") {
            if !names.insert(name) {
                err(
                    format!("{at}.inputAttachmentName"),
                    format!("the name '{name}' is used by two input attachments"),
                );
            }
        }
        let own: Vec<&str> = list(a.pointer("/inputSettings/audioSelectors"))
            .iter()
            .filter_map(|s| text(s, "name"))
            .collect();
        selectors.extend(own.iter().copied());
        if let Some(fo) = a
            .get("automaticInputFailoverSettings")
            .filter(|v| !v.is_null())
        {
            let path = format!("{at}.automaticInputFailoverSettings");
            match text(fo, "secondaryInputId") {
                Some(sec) if Some(sec) == text(a, "inputId") => err(
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
            for (j, c) in list(fo.get("failoverConditions")).iter().enumerate() {
                let silence = c.pointer("/failoverConditionSettings/audioSilenceSettings");
                if let Some(name) = silence.and_then(|s| text(s, "audioSelectorName")) {
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
    let pipelines = match settings.get("channelClass").and_then(Value::as_str) {
        Some("SINGLE_PIPELINE") => 1,
        _ => 2,
    };
    for (i, d) in list(settings.get("destinations")).iter().enumerate() {
        let at = format!("destinations[{i}]");
        match text(d, "id") {
            Some(id) if !destinations.insert(id) => err(
                format!("{at}.id"),
                format!("the id '{id}' is used by two destinations"),
            ),
            Some(_) => {}
            None => err(format!("{at}.id"), "is required".into()),
        }
        let urls = list(d.get("settings"));
        if !urls.is_empty() && urls.len() != pipelines {
            err(
                format!("{at}.settings"),
                format!(
                    "a {} channel needs {pipelines} destination settings (one per pipeline), got {}",
                    if pipelines == 1 { "SINGLE_PIPELINE" } else { "STANDARD" },
                    urls.len()
                ),
            );
        }
    }

    // Encoder settings.
    let Some(enc) = settings.get("encoderSettings") else {
        return errors;
    };
    let mut video = HashSet::new();
    for (i, v) in list(enc.get("videoDescriptions")).iter().enumerate() {
        if let Some(name) = text(v, "name") {
            if !video.insert(name) {
                err(
                    format!("encoderSettings.videoDescriptions[{i}].name"),
                    format!("the name '{name}' is used by two video descriptions"),
                );
            }
        }
    }
    let mut audio = HashSet::new();
    for (i, a) in list(enc.get("audioDescriptions")).iter().enumerate() {
        let at = format!("encoderSettings.audioDescriptions[{i}]");
        if let Some(name) = text(a, "name") {
            if !audio.insert(name) {
                err(
                    format!("{at}.name"),
                    format!("the name '{name}' is used by two audio descriptions"),
                );
            }
        }
        if let Some(sel) = text(a, "audioSelectorName") {
            if !selectors.contains(sel) {
                err(
                    format!("{at}.audioSelectorName"),
                    format!("no input attachment has an audio selector named '{sel}'"),
                );
            }
        }
    }
    for (g, group) in list(enc.get("outputGroups")).iter().enumerate() {
        let gat = format!("encoderSettings.outputGroups[{g}]");
        destination_refs(group, &gat, &destinations, &mut err);
        for (o, out) in list(group.get("outputs")).iter().enumerate() {
            let oat = format!("{gat}.outputs[{o}]");
            if let Some(name) = text(out, "videoDescriptionName") {
                if !video.contains(name) {
                    err(
                        format!("{oat}.videoDescriptionName"),
                        format!("no video description named '{name}'"),
                    );
                }
            }
            for (k, name) in list(out.get("audioDescriptionNames")).iter().enumerate() {
                if let Some(name) = name.as_str() {
                    if !audio.contains(name) {
                        err(
                            format!("{oat}.audioDescriptionNames[{k}]"),
                            format!("no audio description named '{name}'"),
                        );
                    }
                }
            }
        }
    }
    errors
}

/// Every `destinationRefId` below `v` must name a channel destination.
fn destination_refs(
    v: &Value,
    path: &str,
    destinations: &HashSet<&str>,
    err: &mut impl FnMut(String, String),
) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let at = format!("{path}.{k}");
                match (k.as_str(), child) {
                    ("destinationRefId", Value::String(id))
                        if !destinations.contains(id.as_str()) =>
                    {
                        err(at, format!("no destination with id '{id}' in destinations"))
                    }
                    _ => destination_refs(child, &at, destinations, err),
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                destination_refs(child, &format!("{path}[{i}]"), destinations, err);
            }
        }
        _ => {}
    }
}
