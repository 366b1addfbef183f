//! MediaConnect flows: the operations of the API on stored flow documents.
//!
//! Every operation validates, then commits the new document before it
//! answers; the runtime (`runtime::Runtime`) is woken to make the running engines
//! match. Status follows the AWS state machine the waiters poll:
//! `STANDBY → STARTING → ACTIVE → STOPPING → STANDBY`, `DELETING` until the
//! record is gone (then `NotFoundException`), `ERROR` when the engine cannot
//! run (the reason is in DescribeFlow `messages`).

pub mod health;
pub mod model;
pub mod request;
pub mod rules;
pub mod secret;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::arn;
use crate::error::{ControlError, Result};
use crate::fields::Fields;
use crate::page::{self, Page};
use crate::ControlPlane;
use model::{Desired, Flow, FlowRecord, FlowStatus, Output, Source};

pub const KIND: &str = "flow";

/// The region named by a flow ARN (flows live in the region they were made in).
fn arn_region(flow_arn: &str) -> &str {
    arn::Arn::parse(flow_arn).map_or("", |a| a.region)
}

impl ControlPlane {
    fn ctx(&self) -> request::Context<'_> {
        request::Context {
            ingest_ip: &self.settings.ingest_ip,
        }
    }

    pub fn flow_record(&self, flow_arn: &str) -> Result<FlowRecord> {
        self.store
            .get::<FlowRecord>(KIND, flow_arn)?
            .ok_or_else(|| ControlError::NotFound(format!("flow not found: {flow_arn}")))
    }

    pub fn flow_records(&self) -> Result<Vec<FlowRecord>> {
        self.store.list(KIND)
    }

    fn save_flow(&self, rec: &FlowRecord) -> Result<()> {
        self.store
            .put(KIND, &rec.flow.flow_arn, rec.created_ms, rec)
    }

    /// Reads, changes and commits one flow under the write lock; checks the
    /// whole-flow rules against every other flow before committing.
    pub(crate) fn modify_flow<T>(
        &self,
        flow_arn: &str,
        change: impl FnOnce(&mut FlowRecord) -> Result<T>,
    ) -> Result<T> {
        let out = self.modify_flow_record(flow_arn, true, change)?;
        self.wake();
        Ok(out)
    }

    /// One read-change-commit of a flow under the write lock; `check` runs
    /// the whole-flow rules first.
    fn modify_flow_record<T>(
        &self,
        flow_arn: &str,
        check: bool,
        change: impl FnOnce(&mut FlowRecord) -> Result<T>,
    ) -> Result<T> {
        let _w = self.write_lock()?;
        let mut rec = self.flow_record(flow_arn)?;
        let out = change(&mut rec)?;
        if check {
            let others = self.flow_records()?;
            rules::check(&rec.flow, &others, &self.push_input_ports()?)?;
        }
        self.save_flow(&rec)?;
        Ok(out)
    }

    /// The runtime reached `status` with a flow's engine (`error` says why
    /// for `ERROR`). Written unless the operator changed their mind in the
    /// meantime: the desired state decides which statuses still apply.
    pub fn flow_reached(&self, flow_arn: &str, status: FlowStatus, error: Option<String>) {
        // A state the runtime reached: no rules to check, nothing to wake.
        let result = self.modify_flow_record(flow_arn, false, |rec| {
            let applies = match status {
                FlowStatus::Active | FlowStatus::Error => rec.desired == Desired::Running,
                FlowStatus::Standby => rec.desired == Desired::Stopped,
                _ => true,
            };
            if applies {
                rec.flow.status = status;
                rec.last_error = error.clone();
            }
            Ok(())
        });
        if let Err(e) = result {
            tracing::debug!("status of {flow_arn} not written: {e}");
        }
    }

    /// The runtime has stopped the engine of a deleted flow: its record goes,
    /// and DescribeFlow answers NotFound from now on.
    pub fn forget_flow(&self, flow_arn: &str) -> Result<()> {
        let _w = self.write_lock()?;
        self.store.delete(KIND, flow_arn)?;
        Ok(())
    }

    fn new_source_arn(&self, region: &str, name: &str) -> String {
        arn::mediaconnect(region, &self.settings.account_id, "source", name)
    }

    fn new_output_arn(&self, region: &str, name: &str) -> String {
        arn::mediaconnect(region, &self.settings.account_id, "output", name)
    }

    /// CreateFlow.
    pub fn create_flow(&self, region: &str, body: &Value) -> Result<Value> {
        let mut f = Fields::new("", body)?;
        let name = f.required_string("name")?;
        if name.is_empty() || name.contains(':') || name.contains('/') {
            return Err(ControlError::bad(
                "name: must be non-empty and must not contain ':' or '/'",
            ));
        }
        let flow_arn = arn::mediaconnect(region, &self.settings.account_id, "flow", &name);
        let az = match f.string("availabilityZone")? {
            Some(az) if az.strip_prefix(region).is_none_or(|zone| zone.len() != 1) => {
                return Err(ControlError::bad(format!(
                    "availabilityZone: '{az}' is not a zone of region {region} (e.g. {region}a)"
                )))
            }
            Some(az) => az,
            None => format!("{region}a"),
        };
        let description = f.string("description")?;
        let ctx = self.ctx();
        let one = f.object("source")?;
        let many = f.list("sources")?;
        let mut sources: Vec<Source> = Vec::new();
        match (one, many) {
            (Some(_), Some(_)) => {
                return Err(ControlError::bad(
                    "source, sources: give either source or sources, not both",
                ))
            }
            (None, None) => return Err(ControlError::bad("source: is required (or sources)")),
            (Some(_), None) => {
                let v = body.get("source").unwrap_or(&Value::Null);
                let s =
                    request::source(v, "source", &ctx, None, |n| self.new_source_arn(region, n))?;
                self.check_srt_secret(region, "source.decryption", s.decryption.as_ref())?;
                sources.push(s);
            }
            (None, Some(list)) => {
                if list.is_empty() {
                    return Err(ControlError::bad("sources: must name at least one source"));
                }
                for (path, v) in list {
                    let s =
                        request::source(v, &path, &ctx, None, |n| self.new_source_arn(region, n))?;
                    let at = format!("{path}.decryption");
                    self.check_srt_secret(region, &at, s.decryption.as_ref())?;
                    sources.push(s);
                }
            }
        }
        let mut outputs: Vec<Output> = Vec::new();
        for (path, v) in f.list("outputs")?.unwrap_or_default() {
            let o = request::output(v, &path, None, |n| self.new_output_arn(region, n))?;
            let at = format!("{path}.encryption");
            self.check_srt_secret(region, &at, o.encryption.as_ref())?;
            outputs.push(o);
        }
        let source_failover_config = match f.object("sourceFailoverConfig")? {
            Some(_) => Some(request::failover(
                body.get("sourceFailoverConfig").unwrap_or(&Value::Null),
                "sourceFailoverConfig",
                None,
            )?),
            None => None,
        };
        if let Some(ents) = f.list("entitlements")? {
            if !ents.is_empty() {
                return Err(ControlError::bad(
                    "entitlements: onair does not support entitlements yet",
                ));
            }
        }
        let flow_size = f.enumeration("flowSize", &["MEDIUM", "LARGE", "LARGE_4X"], |s| {
            matches!(s, "MEDIUM" | "LARGE" | "LARGE_4X").then(|| s.to_string())
        })?;
        let tags = f.string_map("flowTags")?.unwrap_or_default();
        f.finish()?;

        let first = sources
            .first()
            .cloned()
            .ok_or_else(|| ControlError::bad("source: is required"))?;
        let flow = Flow {
            availability_zone: az,
            description,
            entitlements: Vec::new(),
            flow_arn: flow_arn.clone(),
            name: name.clone(),
            outputs,
            source: first,
            sources: if sources.len() > 1 {
                sources
            } else {
                Vec::new()
            },
            source_failover_config,
            status: FlowStatus::Standby,
            egress_ip: Some(self.settings.ingest_ip.clone()),
            flow_size,
        };
        let rec = FlowRecord {
            flow,
            desired: Desired::Stopped,
            tags,
            last_error: None,
            created_ms: now_ms(),
        };
        let _w = self.write_lock()?;
        let others = self.flow_records()?;
        if let Some(dup) = others
            .iter()
            .find(|o| o.flow.name == name && arn_region(&o.flow.flow_arn) == region)
        {
            return Err(ControlError::bad(format!(
                "name: a flow named '{name}' already exists ({})",
                dup.flow.flow_arn
            )));
        }
        rules::check(&rec.flow, &others, &self.push_input_ports()?)?;
        self.save_flow(&rec)?;
        Ok(json!({ "flow": rec.flow }))
    }

    /// ListFlows, paginated by position in creation order.
    pub fn list_flows(&self, max_results: Option<&str>, next_token: Option<&str>) -> Result<Value> {
        let page = Page::parse(max_results, next_token)?;
        let all = self.flow_records()?;
        let (items, next) = page.of(&all);
        let listed = items.iter().map(|r| r.flow.listed()).collect();
        Ok(page::listing("flows", listed, next))
    }

    /// DescribeFlow, with `messages` about unhealthy sources.
    pub fn describe_flow(&self, flow_arn: &str) -> Result<Value> {
        let rec = self.flow_record(flow_arn)?;
        let errors = health::messages(&rec, self.reports.flow(flow_arn).as_ref());
        Ok(json!({ "flow": rec.flow, "messages": { "errors": errors } }))
    }

    /// UpdateFlow: the failover configuration and the flow size.
    pub fn update_flow(&self, flow_arn: &str, body: &Value) -> Result<Value> {
        self.modify_flow(flow_arn, |rec| {
            let mut f = Fields::new("", body)?;
            if f.object("sourceFailoverConfig")?.is_some() {
                rec.flow.source_failover_config = Some(request::failover(
                    body.get("sourceFailoverConfig").unwrap_or(&Value::Null),
                    "sourceFailoverConfig",
                    rec.flow.source_failover_config.as_ref(),
                )?);
            }
            if let Some(size) =
                f.enumeration("flowSize", &["MEDIUM", "LARGE", "LARGE_4X"], |s| {
                    matches!(s, "MEDIUM" | "LARGE" | "LARGE_4X").then(|| s.to_string())
                })?
            {
                rec.flow.flow_size = Some(size);
            }
            f.finish()?;
            Ok(json!({ "flow": rec.flow }))
        })
    }

    /// AddFlowOutputs.
    pub fn add_flow_outputs(&self, flow_arn: &str, body: &Value) -> Result<Value> {
        let region = arn_region(flow_arn).to_string();
        self.modify_flow(flow_arn, |rec| {
            let mut f = Fields::new("", body)?;
            let list = f
                .list("outputs")?
                .ok_or_else(|| ControlError::bad("outputs: is required"))?;
            let mut added = Vec::new();
            for (path, v) in list {
                let o = request::output(v, &path, None, |n| self.new_output_arn(&region, n))?;
                let at = format!("{path}.encryption");
                self.check_srt_secret(&region, &at, o.encryption.as_ref())?;
                added.push(o);
            }
            f.finish()?;
            rec.flow.outputs.extend(added.iter().cloned());
            Ok(json!({ "flowArn": rec.flow.flow_arn, "outputs": added }))
        })
    }

    /// UpdateFlowOutput.
    pub fn update_flow_output(
        &self,
        flow_arn: &str,
        output_arn: &str,
        body: &Value,
    ) -> Result<Value> {
        self.modify_flow(flow_arn, |rec| {
            let i = find_output(rec, output_arn)?;
            let updated = request::output(body, "", rec.flow.outputs.get(i), |_| String::new())?;
            let region = arn_region(flow_arn);
            self.check_srt_secret(region, "encryption", updated.encryption.as_ref())?;
            if let Some(slot) = rec.flow.outputs.get_mut(i) {
                *slot = updated.clone();
            }
            Ok(json!({ "flowArn": rec.flow.flow_arn, "output": updated }))
        })
    }

    /// RemoveFlowOutput.
    pub fn remove_flow_output(&self, flow_arn: &str, output_arn: &str) -> Result<Value> {
        self.modify_flow(flow_arn, |rec| {
            let i = find_output(rec, output_arn)?;
            rec.flow.outputs.remove(i);
            Ok(json!({ "flowArn": rec.flow.flow_arn, "outputArn": output_arn }))
        })
    }

    /// AddFlowSources.
    pub fn add_flow_sources(&self, flow_arn: &str, body: &Value) -> Result<Value> {
        let region = arn_region(flow_arn).to_string();
        let ctx = self.ctx();
        self.modify_flow(flow_arn, |rec| {
            let mut f = Fields::new("", body)?;
            let list = f
                .list("sources")?
                .ok_or_else(|| ControlError::bad("sources: is required"))?;
            let mut added = Vec::new();
            for (path, v) in list {
                let s = request::source(v, &path, &ctx, None, |n| self.new_source_arn(&region, n))?;
                let at = format!("{path}.decryption");
                self.check_srt_secret(&region, &at, s.decryption.as_ref())?;
                added.push(s);
            }
            f.finish()?;
            if rec.flow.sources.is_empty() {
                rec.flow.sources.push(rec.flow.source.clone());
            }
            rec.flow.sources.extend(added.iter().cloned());
            Ok(json!({ "flowArn": rec.flow.flow_arn, "sources": added }))
        })
    }

    /// UpdateFlowSource.
    pub fn update_flow_source(
        &self,
        flow_arn: &str,
        source_arn: &str,
        body: &Value,
    ) -> Result<Value> {
        let ctx = self.ctx();
        self.modify_flow(flow_arn, |rec| {
            let existing = rec
                .flow
                .all_sources()
                .into_iter()
                .find(|s| s.source_arn == source_arn)
                .cloned()
                .ok_or_else(|| ControlError::NotFound(format!("source not found: {source_arn}")))?;
            let updated = request::source(body, "", &ctx, Some(&existing), |_| String::new())?;
            let region = arn_region(flow_arn);
            self.check_srt_secret(region, "decryption", updated.decryption.as_ref())?;
            if rec.flow.source.source_arn == source_arn {
                rec.flow.source = updated.clone();
            }
            for s in rec
                .flow
                .sources
                .iter_mut()
                .filter(|s| s.source_arn == source_arn)
            {
                *s = updated.clone();
            }
            Ok(json!({ "flowArn": rec.flow.flow_arn, "source": updated }))
        })
    }

    /// RemoveFlowSource: only one of two sources can go; a flow keeps one.
    pub fn remove_flow_source(&self, flow_arn: &str, source_arn: &str) -> Result<Value> {
        self.modify_flow(flow_arn, |rec| {
            if !rec
                .flow
                .all_sources()
                .iter()
                .any(|s| s.source_arn == source_arn)
            {
                return Err(ControlError::NotFound(format!(
                    "source not found: {source_arn}"
                )));
            }
            if rec.flow.sources.len() < 2 {
                return Err(ControlError::bad(
                    "sourceArn: a flow needs a source; this is its only one",
                ));
            }
            rec.flow.sources.retain(|s| s.source_arn != source_arn);
            if let Some(first) = rec.flow.sources.first() {
                rec.flow.source = first.clone();
            }
            if rec.flow.sources.len() < 2 {
                rec.flow.sources.clear();
            }
            if let Some(p) = rec
                .flow
                .source_failover_config
                .as_mut()
                .and_then(|c| c.source_priority.as_mut())
            {
                if p.primary_source
                    .as_deref()
                    .is_some_and(|n| n != rec.flow.source.name)
                {
                    p.primary_source = None;
                }
            }
            Ok(json!({ "flowArn": rec.flow.flow_arn, "sourceArn": source_arn }))
        })
    }

    /// StartFlow: the flow leaves STANDBY before the answer.
    pub fn start_flow(&self, flow_arn: &str) -> Result<Value> {
        self.modify_flow(flow_arn, |rec| {
            match rec.flow.status {
                FlowStatus::Deleting => {
                    return Err(ControlError::bad("flow is being deleted"));
                }
                FlowStatus::Active | FlowStatus::Starting | FlowStatus::Updating => {}
                _ => rec.flow.status = FlowStatus::Starting,
            }
            rec.desired = Desired::Running;
            rec.last_error = None;
            Ok(json!({ "flowArn": rec.flow.flow_arn, "status": rec.flow.status }))
        })
    }

    /// StopFlow.
    pub fn stop_flow(&self, flow_arn: &str) -> Result<Value> {
        self.modify_flow(flow_arn, |rec| {
            match rec.flow.status {
                FlowStatus::Deleting => return Err(ControlError::bad("flow is being deleted")),
                FlowStatus::Standby => {}
                FlowStatus::Error => rec.flow.status = FlowStatus::Standby,
                _ => rec.flow.status = FlowStatus::Stopping,
            }
            rec.desired = Desired::Stopped;
            Ok(json!({ "flowArn": rec.flow.flow_arn, "status": rec.flow.status }))
        })
    }

    /// DeleteFlow: a running flow must be stopped first.
    ///
    /// As in AWS, a flow that MediaLive inputs still name can be deleted; channels
    /// attached to those inputs see it as input loss. The deletion is logged with
    /// the inputs it leaves dangling.
    pub fn delete_flow(&self, flow_arn: &str) -> Result<Value> {
        let users: Vec<String> = self
            .store
            .list::<crate::medialive::InputRecord>(crate::medialive::INPUT_KIND)
            .unwrap_or_default()
            .into_iter()
            .filter(|i| i.deleted_ms.is_none())
            .filter(|i| i.media_connect_flows.iter().any(|f| f.flow_arn == flow_arn))
            .map(|i| i.id)
            .collect();
        if !users.is_empty() {
            tracing::warn!(
                flow = flow_arn,
                inputs = ?users,
                "deleting a flow that MediaLive inputs still use: their channels lose this input"
            );
        }
        self.modify_flow(flow_arn, |rec| {
            if rec.desired == Desired::Running {
                return Err(ControlError::bad(format!(
                    "flow is {}; stop it (StopFlow) before deleting it",
                    rec.flow.status.as_str()
                )));
            }
            rec.desired = Desired::Deleted;
            rec.flow.status = FlowStatus::Deleting;
            Ok(json!({ "flowArn": rec.flow.flow_arn, "status": rec.flow.status }))
        })
    }

    /// Tags of a flow, source or output (the three taggable MediaConnect kinds).
    pub fn flow_tags(&self, resource_arn: &str) -> Result<BTreeMap<String, String>> {
        for rec in self.flow_records()? {
            if rec.flow.flow_arn == resource_arn {
                return Ok(rec.tags);
            }
            for s in rec.flow.all_sources() {
                if s.source_arn == resource_arn {
                    return Ok(s.tags.clone());
                }
            }
            for o in &rec.flow.outputs {
                if o.output_arn == resource_arn {
                    return Ok(o.tags.clone());
                }
            }
        }
        Err(ControlError::NotFound(format!(
            "resource not found: {resource_arn}"
        )))
    }

    /// Changes the tags of a flow, source or output.
    pub fn change_flow_tags(
        &self,
        resource_arn: &str,
        change: impl Fn(&mut BTreeMap<String, String>),
    ) -> Result<()> {
        let owner = self
            .flow_records()?
            .into_iter()
            .find(|r| {
                r.flow.flow_arn == resource_arn
                    || r.flow
                        .all_sources()
                        .iter()
                        .any(|s| s.source_arn == resource_arn)
                    || r.flow.outputs.iter().any(|o| o.output_arn == resource_arn)
            })
            .ok_or_else(|| ControlError::NotFound(format!("resource not found: {resource_arn}")))?;
        self.modify_flow(&owner.flow.flow_arn, |rec| {
            if rec.flow.flow_arn == resource_arn {
                change(&mut rec.tags);
            }
            if rec.flow.source.source_arn == resource_arn {
                change(&mut rec.flow.source.tags);
            }
            for s in rec
                .flow
                .sources
                .iter_mut()
                .filter(|s| s.source_arn == resource_arn)
            {
                change(&mut s.tags);
            }
            for o in rec
                .flow
                .outputs
                .iter_mut()
                .filter(|o| o.output_arn == resource_arn)
            {
                change(&mut o.tags);
            }
            Ok(())
        })
    }
}

fn find_output(rec: &FlowRecord, output_arn: &str) -> Result<usize> {
    rec.flow
        .outputs
        .iter()
        .position(|o| o.output_arn == output_arn)
        .ok_or_else(|| ControlError::NotFound(format!("output not found: {output_arn}")))
}

pub(crate) fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}
