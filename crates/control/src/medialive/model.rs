//! Stored MediaLive documents and how they read at a given time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{CREATE_MS, DELETE_MS, KEEP_DELETED_MS, STOP_MS};

/// A push input's listening address, as DescribeInput reports it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct InputDestination {
    pub ip: String,
    pub port: String,
    pub url: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MediaConnectFlow {
    pub flow_arn: String,
}

/// An input as stored; `state` is derived on read ([`InputRecord::render`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputRecord {
    pub arn: String,
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub input_type: String,
    pub attached_channels: Vec<String>,
    pub destinations: Vec<InputDestination>,
    pub media_connect_flows: Vec<MediaConnectFlow>,
    pub input_class: String,
    pub role_arn: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub request_id: Option<String>,
    pub created_ms: i64,
    pub deleted_ms: Option<i64>,
}

impl InputRecord {
    pub fn state(&self) -> &'static str {
        if self.deleted_ms.is_some() {
            "DELETED"
        } else if self.attached_channels.is_empty() {
            "DETACHED"
        } else {
            "ATTACHED"
        }
    }

    /// True once a deleted input should answer NotFound.
    pub fn gone_at(&self, now_ms: i64) -> bool {
        self.deleted_ms
            .is_some_and(|d| now_ms - d >= KEEP_DELETED_MS)
    }

    /// The UDP ports this input listens on.
    pub fn ports(&self) -> Vec<u16> {
        self.destinations
            .iter()
            .filter_map(|d| d.port.parse().ok())
            .collect()
    }

    /// The Input shape.
    pub fn render(&self) -> Value {
        let mut v = json!({
            "arn": self.arn,
            "id": self.id,
            "name": self.name,
            "type": self.input_type,
            "state": self.state(),
            "attachedChannels": self.attached_channels,
            "destinations": self.destinations,
            "mediaConnectFlows": self.media_connect_flows,
            "sources": [],
            "securityGroups": [],
            "inputClass": self.input_class,
            "inputSourceType": "STATIC",
            "tags": self.tags,
        });
        if let Some(role) = &self.role_arn {
            v["roleArn"] = json!(role);
        }
        v
    }
}

/// A channel as stored: the validated request members (`settings`, wire
/// names, as given) plus identity and the state last entered.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelRecord {
    pub arn: String,
    pub id: String,
    pub settings: Map<String, Value>,
    pub tags: BTreeMap<String, String>,
    /// CREATING, STARTING, RUNNING, STOPPING, DELETING or IDLE: the state
    /// entered last. The supervisor moves STARTING to RUNNING (engine up) or
    /// back to IDLE (a configuration the engine cannot run).
    pub entered: String,
    pub entered_ms: i64,
    pub created_ms: i64,
    pub request_id: Option<String>,
    /// The input attachment the engine feeds from, while running (none: the first).
    #[serde(default)]
    pub active_input: Option<String>,
}

impl ChannelRecord {
    /// The state a waiter sees at `now_ms`.
    pub fn state_at(&self, now_ms: i64) -> &'static str {
        let elapsed = now_ms - self.entered_ms;
        match self.entered.as_str() {
            "CREATING" if elapsed < CREATE_MS => "CREATING",
            "STARTING" => "STARTING",
            "RUNNING" => "RUNNING",
            "STOPPING" if elapsed < STOP_MS => "STOPPING",
            "DELETING" if elapsed < DELETE_MS => "DELETING",
            "DELETING" => "DELETED",
            _ => "IDLE",
        }
    }

    /// True once a deleted channel should answer NotFound.
    pub fn gone_at(&self, now_ms: i64) -> bool {
        self.entered == "DELETING" && now_ms - self.entered_ms >= DELETE_MS + KEEP_DELETED_MS
    }

    pub fn channel_class(&self) -> &str {
        self.settings
            .get("channelClass")
            .and_then(Value::as_str)
            .unwrap_or("STANDARD")
    }

    /// The ids of the inputs this channel attaches.
    pub fn input_ids(&self) -> Vec<String> {
        self.settings
            .get("inputAttachments")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|a| a.get("inputId").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The Channel shape (`full`) or ChannelSummary, at `now_ms`.
    pub fn render(&self, now_ms: i64, egress_ip: &str, full: bool) -> Value {
        let state = self.state_at(now_ms);
        let pipelines = if self.channel_class() == "SINGLE_PIPELINE" {
            1
        } else {
            2
        };
        let mut v = Value::Object(self.settings.clone());
        v["arn"] = json!(self.arn);
        v["id"] = json!(self.id);
        v["state"] = json!(state);
        v["channelClass"] = json!(self.channel_class());
        v["tags"] = json!(self.tags);
        v["egressEndpoints"] = json!((0..pipelines)
            .map(|_| json!({ "sourceIp": egress_ip }))
            .collect::<Vec<_>>());
        let running = state == "RUNNING";
        v["pipelinesRunningCount"] = json!(if running { pipelines } else { 0 });
        for key in ["destinations", "inputAttachments"] {
            if v.get(key).is_none() {
                v[key] = json!([]);
            }
        }
        if full {
            let active = self.active_input.clone().map(Value::String).or_else(|| {
                self.settings
                    .get("inputAttachments")
                    .and_then(|l| l.get(0))
                    .and_then(|a| a.get("inputAttachmentName"))
                    .cloned()
            });
            let details: Vec<Value> = if running {
                (0..pipelines)
                    .map(|i| {
                        let mut d = json!({ "pipelineId": i.to_string() });
                        if let Some(name) = &active {
                            d["activeInputAttachmentName"] = name.clone();
                        }
                        d
                    })
                    .collect()
            } else {
                Vec::new()
            };
            v["pipelineDetails"] = json!(details);
        } else if let Value::Object(m) = &mut v {
            m.remove("encoderSettings");
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(entered: &str, at: i64) -> ChannelRecord {
        ChannelRecord {
            arn: "arn".into(),
            id: "1234567".into(),
            settings: Map::new(),
            tags: BTreeMap::new(),
            entered: entered.into(),
            entered_ms: at,
            created_ms: 0,
            request_id: None,
            active_input: None,
        }
    }

    #[test]
    fn states_advance_on_a_virtual_clock() {
        let c = rec("CREATING", 10_000);
        assert_eq!(c.state_at(10_000), "CREATING");
        assert_eq!(c.state_at(10_000 + CREATE_MS), "IDLE");
        // STARTING lasts until the supervisor has the engine up.
        let s = rec("STARTING", 0);
        assert_eq!(s.state_at(60_000), "STARTING");
        assert_eq!(rec("RUNNING", 0).state_at(1), "RUNNING");
        let s = rec("STOPPING", 0);
        assert_eq!(s.state_at(1), "STOPPING");
        assert_eq!(s.state_at(STOP_MS), "IDLE");
        let d = rec("DELETING", 0);
        assert_eq!(d.state_at(1), "DELETING");
        assert_eq!(d.state_at(DELETE_MS), "DELETED");
        assert!(!d.gone_at(DELETE_MS + KEEP_DELETED_MS - 1));
        assert!(d.gone_at(DELETE_MS + KEEP_DELETED_MS));
    }

    #[test]
    fn summary_has_no_encoder_settings() {
        let mut c = rec("RUNNING", 0);
        c.settings
            .insert("encoderSettings".into(), json!({"videoDescriptions": []}));
        let full = c.render(1, "10.0.0.1", true);
        assert_eq!(full["state"], "RUNNING");
        assert_eq!(full["pipelinesRunningCount"], 2);
        assert!(full.get("encoderSettings").is_some());
        let summary = c.render(0, "10.0.0.1", false);
        assert!(summary.get("encoderSettings").is_none());
        assert!(summary.get("pipelineDetails").is_none());
    }
}
