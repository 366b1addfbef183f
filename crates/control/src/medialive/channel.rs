//! MediaLive channels: Create/Describe/List/Update/Start/Stop/Delete and
//! BatchStart/BatchStop. The supervisor runs the engine of a started channel
//! (`runtime::channel`); other states are computed on read (see [`super`]).

use serde_json::{json, Map, Value};

use super::doc::ChannelDoc;
use super::model::{ChannelRecord, ChannelState, InputRecord};
use super::{
    arn, codec, failover, members, numeric_id, plan, references, shape, LiveError, LiveResult,
    Problem, ValidationError, CHANNEL_KIND, INPUT_KIND,
};
use crate::error::{ControlError, Result};
use crate::flow::now_ms;
use crate::store::Batch;
use crate::ControlPlane;

impl ControlPlane {
    /// A channel that exists now (deleted channels read until they expire).
    pub fn live_channel_record(&self, id: &str) -> Result<ChannelRecord> {
        self.store
            .get::<ChannelRecord>(CHANNEL_KIND, id)?
            .filter(|r| !r.gone_at(now_ms()))
            .ok_or_else(|| ControlError::NotFound(format!("channel not found: {id}")))
    }

    pub(crate) fn save_live_channel(&self, rec: &ChannelRecord) -> Result<()> {
        self.store.put(CHANNEL_KIND, &rec.id, rec.created_ms, rec)
    }

    fn render_live_channel(&self, rec: &ChannelRecord, full: bool) -> Value {
        rec.render(now_ms(), &self.settings.ingest_ip, full)
    }

    /// Validates channel members: the model's structure, then references.
    /// `channel_id` is the channel being updated (its own inputs may stay).
    fn validate_channel(
        &self,
        shape_name: &str,
        body: &Value,
        settings: &Map<String, Value>,
        channel_id: Option<&str>,
    ) -> LiveResult<()> {
        let mut errors: Vec<ValidationError> = Vec::new();
        shape::validate(shape_name, body, "", &mut errors);
        if !errors.is_empty() {
            return Err(LiveError::Unprocessable(errors));
        }
        let now = now_ms();
        let input_ok = |id: &str| -> Option<String> {
            match self.store.get::<InputRecord>(INPUT_KIND, id) {
                Ok(Some(r)) if r.deleted_ms.is_none() => r
                    .attached_channels
                    .iter()
                    .find(|c| Some(c.as_str()) != channel_id)
                    .map(|c| format!("input {id} is already attached to channel {c}")),
                Ok(Some(r)) if !r.gone_at(now) => Some(format!("input {id} is deleted")),
                Ok(_) => Some(format!("no input with id {id}")),
                Err(e) => Some(format!("cannot read input {id}: {e}")),
            }
        };
        // The typed view of what the engine reads; the rules below work on it.
        let doc = ChannelDoc::from_settings(settings).map_err(|p| unprocessable(vec![p]))?;
        let mut problems: Vec<Problem> = body
            .get("roleArn")
            .and_then(Value::as_str)
            .and_then(|role| self.role_problem(role))
            .into_iter()
            .collect();
        problems.extend(references::references(&doc, &input_ok));
        // What the engine cannot encode is refused now, not when StartChannel fails.
        problems.extend(codec::check(&doc));
        problems.extend(members::check(&doc));
        problems.extend(failover::validate(&doc));
        if !problems.is_empty() {
            return Err(unprocessable(problems));
        }
        // Output groups and everything else the engine plans, by element path.
        plan::plan_doc(&doc).map_err(|p| unprocessable(vec![p]))?;
        Ok(())
    }

    /// A `roleArn` given to Create/UpdateChannel must name an IAM role that
    /// exists (`aws iam create-role`), as MediaLive checks; a channel
    /// without one is accepted.
    fn role_problem(&self, role: &str) -> Option<Problem> {
        match self.iam_role_by_arn(role) {
            Ok(Some(_)) => None,
            Ok(None) => Some(Problem::new(
                "roleArn",
                format!(
                    "no IAM role has the ARN '{role}' in account {}; create it first \
                     (aws iam create-role) and pass the Role.Arn it returns",
                    self.settings.account_id
                ),
            )),
            Err(e) => Some(Problem::new(
                "roleArn",
                format!("cannot read IAM role '{role}': {e}"),
            )),
        }
    }

    /// Commits a channel together with `attachedChannels` of its inputs
    /// (`from` before the change, `to` after it) in one transaction, so a
    /// crash can never leave an input attached to a channel that does not
    /// name it, or two channels on one input.
    fn save_attached(&self, rec: &ChannelRecord, from: &[String], to: &[String]) -> Result<()> {
        let mut batch = Batch::default();
        batch.put(CHANNEL_KIND, &rec.id, rec.created_ms, rec)?;
        let mut seen = Vec::new();
        for id in from.iter().chain(to) {
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
            let Some(mut input) = self.store.get::<InputRecord>(INPUT_KIND, id)? else {
                continue;
            };
            input.attached_channels.retain(|c| c != &rec.id);
            if to.contains(id) {
                input.attached_channels.push(rec.id.clone());
            }
            batch.put(INPUT_KIND, &input.id, input.created_ms, &input)?;
        }
        self.store.commit(batch)
    }

    /// Every MediaLive channel record, deleted ones included until they expire.
    pub fn live_channel_records(&self) -> Result<Vec<ChannelRecord>> {
        self.store.list(CHANNEL_KIND)
    }

    /// The runtime moved a channel from `from` to `to` (and names its active
    /// input), unless the operator changed its state in the meantime.
    pub fn channel_reached(
        &self,
        id: &str,
        from: ChannelState,
        to: ChannelState,
        active: Option<String>,
    ) {
        let Ok(_w) = self.write_lock() else { return };
        let Ok(Some(mut rec)) = self.store.get::<ChannelRecord>(CHANNEL_KIND, id) else {
            return;
        };
        if rec.entered != from {
            return;
        }
        if rec.entered != to {
            rec.entered = to;
            rec.entered_ms = now_ms();
        }
        if to == ChannelState::Running {
            rec.active_input = active.or(rec.active_input.take());
        } else {
            rec.active_input = None;
        }
        if let Err(e) = self.save_live_channel(&rec) {
            tracing::error!("cannot write channel {id}: {e}");
        }
    }

    /// CreateChannel.
    pub fn create_channel(&self, region: &str, body: &Value) -> LiveResult<Value> {
        let mut settings = body.as_object().cloned().ok_or_else(|| {
            LiveError::Control(ControlError::bad("request body: expected an object"))
        })?;
        let tags = take_tags(&mut settings)?;
        let request_id = settings
            .remove("requestId")
            .and_then(|v| v.as_str().map(str::to_string));
        settings.retain(|_, v| !v.is_null());
        let _w = self.write_lock()?;
        let others: Vec<ChannelRecord> = self.store.list(CHANNEL_KIND)?;
        if let Some(same) = request_id
            .as_ref()
            .and_then(|r| others.iter().find(|o| o.request_id.as_ref() == Some(r)))
        {
            return Ok(json!({ "channel": self.render_live_channel(same, true) }));
        }
        self.validate_channel("CreateChannelRequest", body, &settings, None)?;
        let mut id = numeric_id();
        while others.iter().any(|o| o.id == id) {
            id = numeric_id();
        }
        let now = now_ms();
        let rec = ChannelRecord {
            arn: arn(region, &self.settings.account_id, "channel", &id),
            id: id.clone(),
            settings,
            tags,
            entered: ChannelState::Creating,
            entered_ms: now,
            created_ms: now,
            request_id,
            active_input: None,
        };
        self.save_attached(&rec, &[], &rec.input_ids())?;
        Ok(json!({ "channel": self.render_live_channel(&rec, true) }))
    }

    /// DescribeChannel (the Channel fields, flattened).
    /// A running channel also shows `onairHealth`: what its engine reports
    /// now (each input's state and why it waits, input loss, restarts). The
    /// AWS clients do not parse that member; raw JSON (`aws --debug`, curl,
    /// `onair`) shows it.
    pub fn describe_channel(&self, id: &str) -> Result<Value> {
        let mut v = self.render_live_channel(&self.live_channel_record(id)?, true);
        if let (Some(report), Some(m)) = (self.reports.channel(id), v.as_object_mut()) {
            m.insert("onairHealth".into(), health_json(&report));
        }
        Ok(v)
    }

    /// ListChannels (ChannelSummary: no encoderSettings, no pipelineDetails).
    pub fn list_channels(
        &self,
        max_results: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<Value> {
        let now = now_ms();
        let all: Vec<ChannelRecord> = self
            .store
            .list::<ChannelRecord>(CHANNEL_KIND)?
            .into_iter()
            .filter(|r| r.state_at(now) != ChannelState::Deleted)
            .collect();
        let (page, next) = super::input::page(&all, max_results, next_token)?;
        let channels = page
            .iter()
            .map(|r| self.render_live_channel(r, false))
            .collect();
        Ok(crate::page::listing("channels", channels, next))
    }

    /// UpdateChannel: only while IDLE; members given replace the stored ones.
    pub fn update_channel(&self, id: &str, body: &Value) -> LiveResult<Value> {
        let _w = self.write_lock()?;
        let mut rec = self.live_channel_record(id)?;
        let state = rec.state_at(now_ms());
        if state != ChannelState::Idle {
            return Err(ControlError::Conflict(format!(
                "channel {id} is {state}; it can be updated only while IDLE"
            ))
            .into());
        }
        let given = body.as_object().cloned().ok_or_else(|| {
            LiveError::Control(ControlError::bad("request body: expected an object"))
        })?;
        let mut settings = rec.settings.clone();
        for (k, v) in given {
            if v.is_null() {
                continue;
            }
            settings.insert(k, v);
        }
        self.validate_channel("UpdateChannelRequest", body, &settings, Some(id))?;
        let before = rec.input_ids();
        rec.settings = settings;
        self.save_attached(&rec, &before, &rec.input_ids())?;
        Ok(json!({ "channel": self.render_live_channel(&rec, true) }))
    }

    /// Moves a channel into `to` if its state now is one of `from`.
    fn transition(
        &self,
        id: &str,
        from: &[ChannelState],
        to: ChannelState,
        op: &str,
    ) -> Result<ChannelRecord> {
        let _w = self.write_lock()?;
        let mut rec = self.live_channel_record(id)?;
        let state = rec.state_at(now_ms());
        if !from.contains(&state) {
            return Err(ControlError::Conflict(format!(
                "channel {id} is {state}; {op} needs it {}",
                from.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
        rec.entered = to;
        rec.entered_ms = now_ms();
        rec.active_input = None;
        if to == ChannelState::Deleting {
            self.save_attached(&rec, &rec.input_ids(), &[])?;
        } else {
            self.save_live_channel(&rec)?;
        }
        self.wake();
        Ok(rec)
    }

    /// StartChannel: `STARTING`, then `RUNNING` once the supervisor has the
    /// channel engine up.
    pub fn start_channel(&self, id: &str) -> Result<Value> {
        let rec = self.transition(
            id,
            &[ChannelState::Idle],
            ChannelState::Starting,
            "StartChannel",
        )?;
        Ok(self.render_live_channel(&rec, true))
    }

    /// StopChannel: `STOPPING`, then `IDLE`.
    pub fn stop_channel(&self, id: &str) -> Result<Value> {
        let rec = self.transition(
            id,
            &[ChannelState::Starting, ChannelState::Running],
            ChannelState::Stopping,
            "StopChannel",
        )?;
        Ok(self.render_live_channel(&rec, true))
    }

    /// DeleteChannel: `DELETING`, then `DELETED`; its inputs are detached.
    pub fn delete_channel(&self, id: &str) -> Result<Value> {
        let rec = self.transition(
            id,
            &[ChannelState::Idle, ChannelState::CreateFailed],
            ChannelState::Deleting,
            "DeleteChannel",
        )?;
        Ok(self.render_live_channel(&rec, true))
    }

    /// BatchStart (`start`) or BatchStop.
    pub fn batch_channels(&self, body: &Value, start: bool) -> Result<Value> {
        let mut f = crate::fields::Fields::new("", body)?;
        let ids = f.string_list("channelIds")?.unwrap_or_default();
        if f.string_list("multiplexIds")?
            .is_some_and(|m| !m.is_empty())
        {
            return Err(ControlError::bad(
                "multiplexIds: onair does not implement multiplexes yet",
            ));
        }
        f.finish()?;
        let mut successful = Vec::new();
        let mut failed = Vec::new();
        for id in ids {
            let result = if start {
                self.start_channel(&id)
            } else {
                self.stop_channel(&id)
            };
            match result {
                Ok(ch) => successful.push(json!({
                    "arn": ch.get("arn"), "id": id, "state": ch.get("state")
                })),
                Err(e) => {
                    let code = match e {
                        ControlError::NotFound(_) => "NotFoundException",
                        ControlError::Conflict(_) => "ConflictException",
                        ControlError::BadRequest(_) => "BadRequestException",
                        ControlError::Internal(_) => "InternalServerErrorException",
                    };
                    let arn = self
                        .live_channel_record(&id)
                        .map(|r| r.arn)
                        .unwrap_or_default();
                    failed.push(json!({
                        "arn": arn, "id": id, "code": code, "message": e.to_string()
                    }));
                }
            }
        }
        Ok(json!({ "successful": successful, "failed": failed }))
    }
}

/// The 422 of validation problems.
fn unprocessable(problems: Vec<Problem>) -> LiveError {
    LiveError::Unprocessable(problems.into_iter().map(ValidationError::from).collect())
}

/// The `onairHealth` member of DescribeChannel.
fn health_json(r: &crate::reports::ChannelReport) -> Value {
    json!({
        "activeInputAttachmentName": r.active_input,
        "inputLoss": r.input_loss,
        "engineRestarts": r.engine_restarts,
        "droppedDatagrams": r.dropped_datagrams,
        "inputs": r.inputs.iter().map(|i| {
            let mut v = json!({
                "inputAttachmentName": i.name,
                "state": i.state.as_str(),
                "losses": i.losses,
                "refused": i.refused,
                "black": i.black,
                "silent": i.silent,
            });
            if let (Some(why), Some(m)) = (&i.reason, v.as_object_mut()) {
                m.insert("reason".into(), json!(why));
            }
            v
        }).collect::<Vec<_>>(),
    })
}

/// Removes and checks the `tags` member (a map of strings).
fn take_tags(
    settings: &mut Map<String, Value>,
) -> LiveResult<std::collections::BTreeMap<String, String>> {
    let mut tags = std::collections::BTreeMap::new();
    match settings.remove("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let Value::String(s) = v else {
                    return Err(LiveError::Unprocessable(vec![ValidationError::new(
                        format!("tags.{k}"),
                        "expected a string",
                    )]));
                };
                tags.insert(k, s);
            }
        }
        Some(_) => {
            return Err(LiveError::Unprocessable(vec![ValidationError::new(
                "tags",
                "expected a map of strings",
            )]))
        }
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Settings, Store};

    /// A control plane with the IAM role the channels below name (`ml`).
    fn cp() -> std::sync::Arc<ControlPlane> {
        let cp = ControlPlane::with_store(Store::in_memory().unwrap(), Settings::default());
        let trust = r#"{"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": "medialive.amazonaws.com"}}}"#;
        cp.iam_create_role(&crate::iam::model::NewRole::new("ml", trust))
            .unwrap();
        cp
    }

    fn push_input(cp: &ControlPlane) -> String {
        let v = cp
            .create_input("us-west-2", &json!({"name": "in", "type": "RTP_PUSH"}))
            .unwrap();
        v["input"]["id"].as_str().unwrap().to_string()
    }

    fn channel(input: &str, backup: &str) -> Value {
        json!({
            "name": "ch",
            "roleArn": "arn:aws:iam::000000000000:role/ml",
            "channelClass": "SINGLE_PIPELINE",
            "inputAttachments": [
                {"inputAttachmentName": "primary", "inputId": input,
                 "automaticInputFailoverSettings": {"secondaryInputId": backup},
                 "inputSettings": {"audioSelectors": [{"name": "default"}]}},
                {"inputAttachmentName": "backup", "inputId": backup,
                 "inputSettings": {"audioSelectors": [{"name": "default"}]}}
            ],
            "destinations": [{"id": "mp", "mediaPackageSettings": [{"channelId": "pkg"}]}],
            "encoderSettings": {
                "timecodeConfig": {"source": "SYSTEMCLOCK"},
                "audioDescriptions": [{"name": "a1", "audioSelectorName": "default",
                    "codecSettings": {"aacSettings": {"bitrate": 128000.0}}}],
                "videoDescriptions": [{"name": "v720", "width": 1280, "height": 720,
                    "codecSettings": {"h264Settings": {"bitrate": 2000000, "gopSize": 90.0}}}],
                "outputGroups": [{
                    "outputGroupSettings": {"mediaPackageGroupSettings": {"destination": {"destinationRefId": "mp"}}},
                    "outputs": [{"outputName": "720p", "videoDescriptionName": "v720",
                        "audioDescriptionNames": ["a1"],
                        "outputSettings": {"mediaPackageOutputSettings": {}}}]
                }]
            }
        })
    }

    fn paths(e: LiveError) -> Vec<String> {
        match e {
            LiveError::Unprocessable(v) => v.into_iter().map(|e| e.element_path).collect(),
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_channel_attaches_its_inputs() {
        let cp = cp();
        let (a, b) = (push_input(&cp), push_input(&cp));
        let ch = cp.create_channel("us-west-2", &channel(&a, &b)).unwrap();
        assert_eq!(ch["channel"]["state"], "CREATING");
        let id = ch["channel"]["id"].as_str().unwrap().to_string();
        assert_eq!(cp.describe_input(&a).unwrap()["state"], "ATTACHED");
        assert!(matches!(
            cp.delete_input(&b),
            Err(ControlError::Conflict(_))
        ));
        // StartChannel needs IDLE; the channel is still CREATING.
        assert!(matches!(
            cp.start_channel(&id),
            Err(ControlError::Conflict(_))
        ));
    }

    #[test]
    fn the_role_arn_names_an_existing_role() {
        let cp = cp();
        let (a, b) = (push_input(&cp), push_input(&cp));
        let mut body = channel(&a, &b);
        body["roleArn"] = json!("arn:aws:iam::000000000000:role/Nobody");
        let LiveError::Unprocessable(errors) = cp.create_channel("us-west-2", &body).unwrap_err()
        else {
            panic!("expected 422");
        };
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].element_path, "roleArn");
        assert!(
            errors[0]
                .error_message
                .contains("'arn:aws:iam::000000000000:role/Nobody'"),
            "{errors:?}"
        );
        // Another account's role of the same name is not ours.
        body["roleArn"] = json!("arn:aws:iam::111122223333:role/ml");
        assert_eq!(
            paths(cp.create_channel("us-west-2", &body).unwrap_err()),
            ["roleArn"]
        );
        // No roleArn at all is accepted.
        body.as_object_mut().unwrap().remove("roleArn");
        let created = cp.create_channel("us-west-2", &body).unwrap();
        let id = created["channel"]["id"].as_str().unwrap().to_string();
        let mut rec = cp.live_channel_record(&id).unwrap();
        rec.entered = ChannelState::Idle;
        cp.save_live_channel(&rec).unwrap();
        // UpdateChannel checks the roleArn it is given.
        let e = cp
            .update_channel(
                &id,
                &json!({"roleArn": "arn:aws:iam::000000000000:role/gone"}),
            )
            .unwrap_err();
        assert_eq!(paths(e), ["roleArn"]);
        let updated = cp
            .update_channel(
                &id,
                &json!({"roleArn": "arn:aws:iam::000000000000:role/ml"}),
            )
            .unwrap();
        assert_eq!(
            updated["channel"]["roleArn"],
            "arn:aws:iam::000000000000:role/ml"
        );
    }

    #[test]
    fn an_input_serves_one_channel() {
        let cp = cp();
        let (a, b, c) = (push_input(&cp), push_input(&cp), push_input(&cp));
        cp.create_channel("us-west-2", &channel(&a, &b)).unwrap();
        assert_eq!(
            paths(
                cp.create_channel("us-west-2", &channel(&c, &b))
                    .unwrap_err()
            ),
            vec!["inputAttachments[1].inputId"]
        );
        assert_eq!(cp.describe_input(&c).unwrap()["state"], "DETACHED");
    }

    #[test]
    fn dangling_video_description_is_named() {
        let cp = cp();
        let (a, b) = (push_input(&cp), push_input(&cp));
        let mut body = channel(&a, &b);
        body["encoderSettings"]["outputGroups"][0]["outputs"][0]["videoDescriptionName"] =
            json!("v1080");
        assert_eq!(
            paths(cp.create_channel("us-west-2", &body).unwrap_err()),
            vec!["encoderSettings.outputGroups[0].outputs[0].videoDescriptionName"]
        );
    }

    #[test]
    fn missing_input_is_named() {
        let cp = cp();
        let a = push_input(&cp);
        let mut body = channel(&a, "9999999");
        body["inputAttachments"][0]["automaticInputFailoverSettings"] = Value::Null;
        assert_eq!(
            paths(cp.create_channel("us-west-2", &body).unwrap_err()),
            vec!["inputAttachments[1].inputId"]
        );
    }

    #[test]
    fn bad_secondary_input_is_named() {
        let cp = cp();
        let (a, b, c) = (push_input(&cp), push_input(&cp), push_input(&cp));
        let mut body = channel(&a, &b);
        body["inputAttachments"][0]["automaticInputFailoverSettings"]["secondaryInputId"] =
            json!(c);
        assert_eq!(
            paths(cp.create_channel("us-west-2", &body).unwrap_err()),
            vec!["inputAttachments[0].automaticInputFailoverSettings.secondaryInputId"]
        );
    }

    #[test]
    fn unknown_member_is_named() {
        let cp = cp();
        let (a, b) = (push_input(&cp), push_input(&cp));
        let mut body = channel(&a, &b);
        body["encoderSettings"]["videoDescriptions"][0]["codecSettings"]["h264Settings"]["turbo"] =
            json!(true);
        assert_eq!(
            paths(cp.create_channel("us-west-2", &body).unwrap_err()),
            vec!["encoderSettings.videoDescriptions[0].codecSettings.h264Settings.turbo"]
        );
    }

    #[test]
    fn bitrate_minimum_and_destination_ref() {
        let cp = cp();
        let (a, b) = (push_input(&cp), push_input(&cp));
        let mut body = channel(&a, &b);
        body["encoderSettings"]["videoDescriptions"][0]["codecSettings"]["h264Settings"]
            ["bitrate"] = json!(10);
        assert_eq!(
            paths(cp.create_channel("us-west-2", &body).unwrap_err()),
            vec!["encoderSettings.videoDescriptions[0].codecSettings.h264Settings.bitrate"]
        );
        let mut body = channel(&a, &b);
        body["destinations"][0]["id"] = json!("elsewhere");
        assert_eq!(
            paths(cp.create_channel("us-west-2", &body).unwrap_err()),
            vec!["encoderSettings.outputGroups[0].outputGroupSettings.mediaPackageGroupSettings.destination.destinationRefId"]
        );
    }

    #[test]
    fn settings_the_encoder_cannot_honour_are_refused_at_create_and_update() {
        let cp = cp();
        let (a, b) = (push_input(&cp), push_input(&cp));
        let h264 = "encoderSettings.videoDescriptions[0].codecSettings.h264Settings";
        let mut body = channel(&a, &b);
        body["encoderSettings"]["videoDescriptions"][0]["codecSettings"]["h264Settings"]
            ["scanType"] = json!("INTERLACED");
        body["encoderSettings"]["audioDescriptions"][0]["codecSettings"]["aacSettings"]
            ["rateControlMode"] = json!("VBR");
        let e = cp.create_channel("us-west-2", &body).unwrap_err();
        let LiveError::Unprocessable(errors) = e else {
            panic!("expected 422, got {e:?}");
        };
        assert_eq!(errors[0].element_path, format!("{h264}.scanType"));
        assert!(errors[0].error_message.contains("INTERLACED"));
        assert_eq!(
            errors[1].element_path,
            "encoderSettings.audioDescriptions[0].codecSettings.aacSettings.rateControlMode"
        );
        // Nothing was created or attached.
        assert_eq!(cp.describe_input(&a).unwrap()["state"], "DETACHED");

        let ch = cp.create_channel("us-west-2", &channel(&a, &b)).unwrap();
        let id = ch["channel"]["id"].as_str().unwrap().to_string();
        let mut rec = cp.live_channel_record(&id).unwrap();
        rec.entered = ChannelState::Idle;
        cp.save_live_channel(&rec).unwrap();
        let mut enc = channel(&a, &b)["encoderSettings"].clone();
        enc["videoDescriptions"][0]["codecSettings"]["h264Settings"]["rateControlMode"] =
            json!("QVBR");
        assert_eq!(
            paths(
                cp.update_channel(&id, &json!({"encoderSettings": enc}))
                    .unwrap_err()
            ),
            vec![format!("{h264}.maxBitrate")]
        );
    }

    #[test]
    fn numbers_the_engine_cannot_take_exactly_are_refused_not_rounded() {
        let cp = cp();
        let (a, b) = (push_input(&cp), push_input(&cp));
        // A __double in the model, but the encoder takes whole bits per second.
        let mut body = channel(&a, &b);
        body["encoderSettings"]["audioDescriptions"][0]["codecSettings"]["aacSettings"]
            ["bitrate"] = json!(128000.5);
        let e = cp.create_channel("us-west-2", &body).unwrap_err();
        let LiveError::Unprocessable(errors) = e else {
            panic!("expected 422, got {e:?}");
        };
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].element_path,
            "encoderSettings.audioDescriptions[0].codecSettings.aacSettings.bitrate"
        );
        assert!(
            errors[0].error_message.contains("not a whole number"),
            "{errors:?}"
        );
        // Outside the model's range: refused by the shape gate, never clamped.
        let mut body = channel(&a, &b);
        body["encoderSettings"]["videoDescriptions"][0]["codecSettings"]["h264Settings"]
            ["qvbrQualityLevel"] = json!(11);
        body["encoderSettings"]["videoDescriptions"][0]["codecSettings"]["h264Settings"]
            ["rateControlMode"] = json!("QVBR");
        assert_eq!(
            paths(cp.create_channel("us-west-2", &body).unwrap_err()),
            vec![
                "encoderSettings.videoDescriptions[0].codecSettings.h264Settings.qvbrQualityLevel"
            ]
        );
        assert_eq!(cp.describe_input(&a).unwrap()["state"], "DETACHED");
    }

    #[test]
    fn unsupported_input_type_is_refused_by_name() {
        let cp = cp();
        let e = cp
            .create_input("us-west-2", &json!({"type": "RTMP_PUSH"}))
            .unwrap_err();
        assert!(e.to_string().contains("RTMP_PUSH"), "{e}");
    }
}
