//! The MediaConnect flow as it is stored and as it goes over the wire.
//!
//! The structs carry the wire names of the `mediaconnect-2018-11-14` model
//! (`camelCase` location names) so a stored document *is* the `Flow` shape a
//! client reads back. Members the model marks required are always present;
//! optional members are omitted when unset.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

fn is_zero(v: &u16) -> bool {
    *v == 0
}

/// Flow status, as the `flow-active` / `flow-standby` / `flow-deleted` waiters
/// expect it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlowStatus {
    Standby,
    Active,
    Updating,
    Deleting,
    Starting,
    Stopping,
    Error,
}

impl FlowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowStatus::Standby => "STANDBY",
            FlowStatus::Active => "ACTIVE",
            FlowStatus::Updating => "UPDATING",
            FlowStatus::Deleting => "DELETING",
            FlowStatus::Starting => "STARTING",
            FlowStatus::Stopping => "STOPPING",
            FlowStatus::Error => "ERROR",
        }
    }
}

/// What the operator asked for; the supervisor makes the engines match it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Desired {
    Running,
    Stopped,
    Deleted,
}

/// A transport protocol name as the model spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    #[serde(rename = "rtp")]
    Rtp,
    #[serde(rename = "rtp-fec")]
    RtpFec,
    #[serde(rename = "udp")]
    Udp,
    #[serde(rename = "srt-listener")]
    SrtListener,
    #[serde(rename = "srt-caller")]
    SrtCaller,
    /// RIST, simple profile unless `streamId` is `main` (see
    /// `request::RIST_PROFILES`).
    #[serde(rename = "rist")]
    Rist,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Rtp => "rtp",
            Protocol::RtpFec => "rtp-fec",
            Protocol::Udp => "udp",
            Protocol::SrtListener => "srt-listener",
            Protocol::SrtCaller => "srt-caller",
            Protocol::Rist => "rist",
        }
    }

    pub fn is_srt(self) -> bool {
        matches!(self, Protocol::SrtListener | Protocol::SrtCaller)
    }
}

/// The `Encryption` shape, as onair carries it: an SRT passphrase kept in a
/// Secrets Manager secret (`keyType` `srt-password`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Encryption {
    /// `aes128`, `aes192` or `aes256`: the key length this side starts
    /// encryption with (a listener follows its caller's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    pub key_type: String,
    pub role_arn: String,
    pub secret_arn: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transport {
    pub protocol: Protocol,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_bitrate: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_allow_list: Option<Vec<String>>,
    /// SRT receiver latency, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_latency: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    /// The listener an `srt-caller` source calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_listener_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_listener_port: Option<u16>,
    /// RIST recovery buffer, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    pub name: String,
    pub source_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub ingest_ip: String,
    /// 0 for `srt-caller` sources, which listen on no port.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ingest_port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whitelist_cidr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<Encryption>,
    pub transport: Transport,
    #[serde(default, skip_serializing)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EnabledState {
    Enabled,
    Disabled,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub name: String,
    pub output_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Empty for `srt-listener` outputs, which wait for their receiver.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub destination: String,
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    pub transport: Transport,
    pub output_status: EnabledState,
    #[serde(default, skip_serializing)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailoverMode {
    Merge,
    Failover,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourcePriority {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_source: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailoverConfig {
    pub failover_mode: FailoverMode,
    pub recovery_window: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_priority: Option<SourcePriority>,
    pub state: EnabledState,
}

/// The stored flow document. `flow` is exactly the wire `Flow` shape; the
/// other fields are onair's own bookkeeping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    pub availability_zone: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub entitlements: Vec<serde_json::Value>,
    pub flow_arn: String,
    pub name: String,
    pub outputs: Vec<Output>,
    pub source: Source,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub sources: Vec<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_failover_config: Option<FailoverConfig>,
    pub status: FlowStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_size: Option<String>,
}

/// Everything kept about a flow: the wire document plus desired state, tags
/// and the last engine error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowRecord {
    pub flow: Flow,
    pub desired: Desired,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub last_error: Option<String>,
    /// Creation order, for stable pagination.
    pub created_ms: i64,
}

impl Flow {
    /// All sources: `sources` when the flow has several, otherwise `source`.
    pub fn all_sources(&self) -> Vec<&Source> {
        if self.sources.is_empty() {
            vec![&self.source]
        } else {
            self.sources.iter().collect()
        }
    }

    /// The `ListedFlow` summary.
    pub fn listed(&self) -> serde_json::Value {
        serde_json::json!({
            "availabilityZone": self.availability_zone,
            "description": self.description.clone().unwrap_or_default(),
            "flowArn": self.flow_arn,
            "name": self.name,
            "sourceType": "OWNED",
            "status": self.status,
        })
    }
}
