//! MediaLive inputs: CreateInput, DescribeInput, ListInputs, DeleteInput.
//!
//! Supported types: `MEDIACONNECT` (one or two existing flows), `RTP_PUSH`
//! and `UDP_PUSH` (onair allocates two UDP ports from [`PUSH_PORTS`], one per
//! pipeline, and reports them as `destinations[].url`). Other types are a 400
//! naming the type.

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Value};

use super::model::{InputDestination, InputRecord, InputType, MediaConnectFlow};
use super::{arn, numeric_id, INPUT_KIND, PUSH_PORTS};
use crate::error::{ControlError, Result};
use crate::fields::Fields;
use crate::flow;
use crate::ControlPlane;

/// The first `n` free even ports of [`PUSH_PORTS`].
fn allocate(n: usize, taken: &HashSet<u16>) -> Option<Vec<u16>> {
    let free: Vec<u16> = PUSH_PORTS
        .step_by(2)
        .filter(|p| !taken.contains(p) && !taken.contains(&p.saturating_add(1)))
        .take(n)
        .collect();
    (free.len() == n).then_some(free)
}

impl ControlPlane {
    /// An input that exists now (deleted inputs read until they expire).
    /// UDP ports held by push inputs that are not deleted, and by whom, so
    /// that flows do not take them.
    pub fn push_input_ports(&self) -> Result<Vec<(u16, String)>> {
        let inputs: Vec<InputRecord> = self.store.list(INPUT_KIND)?;
        Ok(inputs
            .iter()
            .filter(|i| i.deleted_ms.is_none())
            .flat_map(|i| {
                let holder = format!("MediaLive input '{}' ({})", i.name, i.id);
                i.ports().into_iter().map(move |p| (p, holder.clone()))
            })
            .collect())
    }

    pub fn input_record(&self, id: &str) -> Result<InputRecord> {
        self.store
            .get::<InputRecord>(INPUT_KIND, id)?
            .filter(|r| !r.gone_at(flow::now_ms()))
            .ok_or_else(|| ControlError::NotFound(format!("input not found: {id}")))
    }

    pub(crate) fn save_input(&self, rec: &InputRecord) -> Result<()> {
        self.store.put(INPUT_KIND, &rec.id, rec.created_ms, rec)
    }

    /// CreateInput.
    pub fn create_input(&self, region: &str, body: &Value) -> Result<Value> {
        let mut f = Fields::new("", body)?;
        let name = f.string("name")?.unwrap_or_default();
        let given = f.required_string("type")?;
        let Some(input_type) = InputType::parse(&given) else {
            return Err(ControlError::bad(format!(
                "type: '{given}' is not one of {}",
                InputType::ALL.map(InputType::as_str).join(", ")
            )));
        };
        if !input_type.implemented() {
            return Err(ControlError::bad(format!(
                "type: onair does not implement input type {input_type} yet (supported: MEDIACONNECT, RTP_PUSH, UDP_PUSH)"
            )));
        }
        let mut flows = Vec::new();
        for (path, v) in f.list("mediaConnectFlows")?.unwrap_or_default() {
            let mut ff = Fields::new(path.clone(), v)?;
            let flow_arn = ff.required_string("flowArn")?;
            ff.finish()?;
            if self.flow_record(&flow_arn).is_err() {
                return Err(ControlError::bad(format!(
                    "{path}.flowArn: no MediaConnect flow {flow_arn}"
                )));
            }
            flows.push(MediaConnectFlow { flow_arn });
        }
        if let Some(d) = f.list("destinations")? {
            if !d.is_empty() {
                return Err(ControlError::bad(format!(
                    "destinations: onair allocates the destinations of {input_type} inputs; do not give any"
                )));
            }
        }
        if let Some(groups) = f.string_list("inputSecurityGroups")? {
            if !groups.is_empty() {
                return Err(ControlError::bad(
                    "inputSecurityGroups: onair does not implement input security groups yet",
                ));
            }
        }
        let role_arn = f.string("roleArn")?;
        let tags = f.string_map("tags")?.unwrap_or_default();
        let request_id = f.string("requestId")?;
        f.finish()?;

        let id = numeric_id();
        let mut rec = InputRecord {
            arn: arn(region, &self.settings.account_id, "input", &id),
            id,
            name,
            input_type,
            attached_channels: Vec::new(),
            destinations: Vec::new(),
            media_connect_flows: Vec::new(),
            input_class: "STANDARD".into(),
            role_arn,
            tags: tags.clone(),
            request_id: request_id.clone(),
            created_ms: flow::now_ms(),
            deleted_ms: None,
        };
        let _w = self.write_lock()?;
        let others: Vec<InputRecord> = self.store.list(INPUT_KIND)?;
        if let Some(same) = request_id
            .as_ref()
            .and_then(|r| others.iter().find(|o| o.request_id.as_ref() == Some(r)))
        {
            return Ok(json!({ "input": same.render() }));
        }
        if input_type == InputType::MediaConnect {
            if !(1..=2).contains(&flows.len()) {
                return Err(ControlError::bad(format!(
                    "mediaConnectFlows: a MEDIACONNECT input names 1 or 2 flows, got {}",
                    flows.len()
                )));
            }
            rec.input_class = if flows.len() == 2 {
                "STANDARD"
            } else {
                "SINGLE_PIPELINE"
            }
            .into();
            rec.media_connect_flows = flows;
        } else {
            if !flows.is_empty() {
                return Err(ControlError::bad(format!(
                    "mediaConnectFlows: only MEDIACONNECT inputs name flows, not {input_type}"
                )));
            }
            let mut taken: HashSet<u16> = others
                .iter()
                .filter(|o| o.deleted_ms.is_none())
                .flat_map(InputRecord::ports)
                .collect();
            for fl in self.flow_records()? {
                for s in fl.flow.all_sources() {
                    taken.extend(flow::rules::source_ports(s));
                }
            }
            let ports = allocate(2, &taken).ok_or_else(|| {
                ControlError::bad(format!(
                    "type: no free ports left for a push input in {}-{}",
                    PUSH_PORTS.start(),
                    PUSH_PORTS.end()
                ))
            })?;
            let scheme = if input_type == InputType::RtpPush {
                "rtp"
            } else {
                "udp"
            };
            let ip = &self.settings.ingest_ip;
            rec.destinations = ports
                .into_iter()
                .map(|p| InputDestination {
                    ip: ip.clone(),
                    port: p.to_string(),
                    url: format!("{scheme}://{ip}:{p}"),
                })
                .collect();
        }
        while others.iter().any(|o| o.id == rec.id) {
            rec.id = numeric_id();
            rec.arn = arn(region, &self.settings.account_id, "input", &rec.id);
        }
        self.save_input(&rec)?;
        Ok(json!({ "input": rec.render() }))
    }

    /// DescribeInput (the Input fields, flattened).
    pub fn describe_input(&self, id: &str) -> Result<Value> {
        Ok(self.input_record(id)?.render())
    }

    /// ListInputs, paginated by position in creation order; deleted inputs
    /// are not listed.
    pub fn list_inputs(
        &self,
        max_results: Option<&str>,
        next_token: Option<&str>,
    ) -> Result<Value> {
        let all: Vec<InputRecord> = self
            .store
            .list::<InputRecord>(INPUT_KIND)?
            .into_iter()
            .filter(|r| r.deleted_ms.is_none())
            .collect();
        let (page, next) = page(&all, max_results, next_token)?;
        let inputs = page.iter().map(InputRecord::render).collect();
        Ok(crate::page::listing("inputs", inputs, next))
    }

    /// DeleteInput: 409 while a channel attaches it.
    pub fn delete_input(&self, id: &str) -> Result<Value> {
        let _w = self.write_lock()?;
        let mut rec = self.input_record(id)?;
        if rec.deleted_ms.is_some() {
            return Err(ControlError::NotFound(format!("input not found: {id}")));
        }
        if !rec.attached_channels.is_empty() {
            return Err(ControlError::Conflict(format!(
                "input {id} is attached to channel(s) {}; delete or update the channel first",
                rec.attached_channels.join(", ")
            )));
        }
        rec.deleted_ms = Some(flow::now_ms());
        self.save_input(&rec)?;
        Ok(json!({}))
    }

    /// The tags of a MediaLive resource, changed by `change`.
    pub fn change_live_tags(
        &self,
        resource_arn: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>),
    ) -> Result<BTreeMap<String, String>> {
        let _w = self.write_lock()?;
        let resource = crate::arn::Arn::parse(resource_arn)
            .filter(|a| a.service == "medialive")
            .map(|a| a.resource.to_string())
            .ok_or_else(|| {
                ControlError::NotFound(format!("no MediaLive resource {resource_arn}"))
            })?;
        match resource.split_once(':') {
            Some(("input", id)) => {
                let mut rec = self.input_record(id)?;
                change(&mut rec.tags);
                self.save_input(&rec)?;
                Ok(rec.tags)
            }
            Some(("channel", id)) => {
                let mut rec = self.live_channel_record(id)?;
                change(&mut rec.tags);
                self.save_live_channel(&rec)?;
                Ok(rec.tags)
            }
            _ => Err(ControlError::NotFound(format!(
                "no MediaLive resource {resource_arn}"
            ))),
        }
    }
}

/// One page of `all` and the next token (the position of the next item).
pub(crate) fn page<'a, T>(
    all: &'a [T],
    max_results: Option<&str>,
    next_token: Option<&str>,
) -> Result<(&'a [T], Option<String>)> {
    Ok(crate::page::Page::parse(max_results, next_token)?.of(all))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_even_free_ports() {
        let taken: HashSet<u16> = [5100, 5103].into_iter().collect();
        assert_eq!(allocate(2, &taken), Some(vec![5104, 5106]));
    }

    #[test]
    fn pages_by_position() {
        let all = [1, 2, 3];
        let (p, n) = page(&all, Some("2"), None).unwrap();
        assert_eq!((p, n.as_deref()), (&[1, 2][..], Some("2")));
        let (p, n) = page(&all, Some("2"), Some("2")).unwrap();
        assert_eq!((p, n), (&[3][..], None));
        assert!(page(&all, Some("0"), None).is_err());
    }
}
