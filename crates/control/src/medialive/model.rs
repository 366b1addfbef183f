//! Stored MediaLive documents and how they read at a given time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{CREATE_MS, DELETE_MS, KEEP_DELETED_MS, STOP_MS};

/// A channel's lifecycle state, as MediaLive's model lists it (`ChannelState`)
/// and as stored (`ChannelRecord::entered`): the serde form is the wire string,
/// so records written when this was a `String` still load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChannelState {
    Creating,
    CreateFailed,
    Idle,
    Starting,
    Running,
    Recovering,
    Stopping,
    Deleting,
    Deleted,
    Updating,
}

impl ChannelState {
    /// The wire string (`"RUNNING"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelState::Creating => "CREATING",
            ChannelState::CreateFailed => "CREATE_FAILED",
            ChannelState::Idle => "IDLE",
            ChannelState::Starting => "STARTING",
            ChannelState::Running => "RUNNING",
            ChannelState::Recovering => "RECOVERING",
            ChannelState::Stopping => "STOPPING",
            ChannelState::Deleting => "DELETING",
            ChannelState::Deleted => "DELETED",
            ChannelState::Updating => "UPDATING",
        }
    }
}

impl std::fmt::Display for ChannelState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A MediaLive input type (`InputType` in the model). The serde form is the
/// wire string; onair runs [`InputType::implemented`] ones only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InputType {
    #[serde(rename = "UDP_PUSH")]
    UdpPush,
    #[serde(rename = "RTP_PUSH")]
    RtpPush,
    #[serde(rename = "RTMP_PUSH")]
    RtmpPush,
    #[serde(rename = "RTMP_PULL")]
    RtmpPull,
    #[serde(rename = "URL_PULL")]
    UrlPull,
    #[serde(rename = "MP4_FILE")]
    Mp4File,
    #[serde(rename = "MEDIACONNECT")]
    MediaConnect,
    #[serde(rename = "INPUT_DEVICE")]
    InputDevice,
    #[serde(rename = "AWS_CDI")]
    AwsCdi,
    #[serde(rename = "TS_FILE")]
    TsFile,
    #[serde(rename = "SRT_CALLER")]
    SrtCaller,
    #[serde(rename = "MULTICAST")]
    Multicast,
    #[serde(rename = "SMPTE_2110_RECEIVER_GROUP")]
    Smpte2110ReceiverGroup,
    #[serde(rename = "SDI")]
    Sdi,
    #[serde(rename = "MEDIACONNECT_ROUTER")]
    MediaConnectRouter,
    #[serde(rename = "SRT_LISTENER")]
    SrtListener,
}

impl InputType {
    /// Every type of the model, in its order.
    pub const ALL: [InputType; 16] = [
        InputType::UdpPush,
        InputType::RtpPush,
        InputType::RtmpPush,
        InputType::RtmpPull,
        InputType::UrlPull,
        InputType::Mp4File,
        InputType::MediaConnect,
        InputType::InputDevice,
        InputType::AwsCdi,
        InputType::TsFile,
        InputType::SrtCaller,
        InputType::Multicast,
        InputType::Smpte2110ReceiverGroup,
        InputType::Sdi,
        InputType::MediaConnectRouter,
        InputType::SrtListener,
    ];

    /// The wire string (`"RTP_PUSH"`).
    pub fn as_str(self) -> &'static str {
        match self {
            InputType::UdpPush => "UDP_PUSH",
            InputType::RtpPush => "RTP_PUSH",
            InputType::RtmpPush => "RTMP_PUSH",
            InputType::RtmpPull => "RTMP_PULL",
            InputType::UrlPull => "URL_PULL",
            InputType::Mp4File => "MP4_FILE",
            InputType::MediaConnect => "MEDIACONNECT",
            InputType::InputDevice => "INPUT_DEVICE",
            InputType::AwsCdi => "AWS_CDI",
            InputType::TsFile => "TS_FILE",
            InputType::SrtCaller => "SRT_CALLER",
            InputType::Multicast => "MULTICAST",
            InputType::Smpte2110ReceiverGroup => "SMPTE_2110_RECEIVER_GROUP",
            InputType::Sdi => "SDI",
            InputType::MediaConnectRouter => "MEDIACONNECT_ROUTER",
            InputType::SrtListener => "SRT_LISTENER",
        }
    }

    /// The type a wire string names.
    pub fn parse(s: &str) -> Option<InputType> {
        InputType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The types onair runs: MEDIACONNECT, RTP_PUSH, UDP_PUSH, RTMP_PUSH,
    /// SRT_CALLER and SRT_LISTENER.
    pub fn implemented(self) -> bool {
        matches!(
            self,
            InputType::MediaConnect
                | InputType::RtpPush
                | InputType::UdpPush
                | InputType::RtmpPush
                | InputType::SrtCaller
                | InputType::SrtListener
        )
    }

    /// The types an encoder pushes to (or, SRT_LISTENER, calls), which
    /// input security groups guard.
    pub fn is_push(self) -> bool {
        matches!(
            self,
            InputType::RtpPush | InputType::UdpPush | InputType::RtmpPush | InputType::SrtListener
        )
    }
}

impl std::fmt::Display for InputType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A push input's listening address, as DescribeInput reports it. An
/// RTMP_PUSH destination's `url` is `rtmp://ip:port/app/key`: its path is the
/// stream name the input was created with ([`InputDestination::stream_name`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct InputDestination {
    pub ip: String,
    pub port: String,
    pub url: String,
}

impl InputDestination {
    /// The `app/key` of an RTMP destination (the path of its `url`).
    pub fn stream_name(&self) -> Option<&str> {
        let rest = self.url.strip_prefix("rtmp://")?;
        let (_, path) = rest.split_once('/')?;
        Some(path)
    }
}

/// The decryption of an SRT_CALLER source: the key length and the Secrets
/// Manager secret holding the passphrase (read again when the channel starts).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SrtDecryption {
    pub algorithm: String,
    pub passphrase_secret_arn: String,
}

/// One SRT_CALLER source (`SrtCallerSource`): the listener MediaLive calls,
/// one per pipeline. The wire form is the model's, the port a string.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SrtCallerSource {
    pub srt_listener_address: String,
    pub srt_listener_port: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_latency: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<SrtDecryption>,
}

/// An SRT_LISTENER input's `srtListenerSettings`: what callers must use.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SrtListenerSettings {
    pub minimum_latency: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    pub decryption: SrtDecryption,
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
    pub input_type: InputType,
    pub attached_channels: Vec<String>,
    pub destinations: Vec<InputDestination>,
    pub media_connect_flows: Vec<MediaConnectFlow>,
    pub input_class: String,
    pub role_arn: Option<String>,
    /// The ids of the input security groups that say who may push to it
    /// (none: anyone). Absent from records written before groups existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// An SRT_CALLER input's `srtSettings.srtCallerSources`, one per pipeline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub srt_caller_sources: Vec<SrtCallerSource>,
    /// An SRT_LISTENER input's `srtSettings.srtListenerSettings`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srt_listener_settings: Option<SrtListenerSettings>,
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
            .is_some_and(|d| now_ms.saturating_sub(d) >= KEEP_DELETED_MS)
    }

    /// The UDP ports this input listens on (an RTMP_PUSH input shares the
    /// server's one RTMP TCP port, so it holds none).
    pub fn ports(&self) -> Vec<u16> {
        if self.input_type == InputType::RtmpPush {
            return Vec::new();
        }
        self.destinations
            .iter()
            .filter_map(|d| d.port.parse().ok())
            .collect()
    }

    /// The `app/key` stream names of an RTMP_PUSH input, one per destination.
    pub fn stream_names(&self) -> Vec<&str> {
        if self.input_type != InputType::RtmpPush {
            return Vec::new();
        }
        self.destinations
            .iter()
            .filter_map(InputDestination::stream_name)
            .collect()
    }

    /// The Input shape.
    // `v[key] = …` on the object built here inserts; it cannot panic.
    #[allow(clippy::indexing_slicing)]
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
            "securityGroups": self.security_groups,
            "inputClass": self.input_class,
            "inputSourceType": "STATIC",
            "tags": self.tags,
        });
        if let Some(role) = &self.role_arn {
            v["roleArn"] = json!(role);
        }
        if self.input_type == InputType::SrtCaller {
            v["srtSettings"] = json!({ "srtCallerSources": self.srt_caller_sources });
        }
        if let Some(l) = &self.srt_listener_settings {
            v["srtSettings"] = json!({ "srtListenerSettings": l });
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
    pub entered: ChannelState,
    pub entered_ms: i64,
    pub created_ms: i64,
    pub request_id: Option<String>,
    /// The input attachment the engine feeds from, while running (none: the first).
    #[serde(default)]
    pub active_input: Option<String>,
}

impl ChannelRecord {
    /// The state a waiter sees at `now_ms`.
    pub fn state_at(&self, now_ms: i64) -> ChannelState {
        use ChannelState::*;
        let elapsed = now_ms.saturating_sub(self.entered_ms);
        match self.entered {
            Creating if elapsed < CREATE_MS => Creating,
            Starting => Starting,
            Running => Running,
            Stopping if elapsed < STOP_MS => Stopping,
            Deleting if elapsed < DELETE_MS => Deleting,
            Deleting | Deleted => Deleted,
            CreateFailed => CreateFailed,
            Creating | Idle | Recovering | Stopping | Updating => Idle,
        }
    }

    /// True once a deleted channel should answer NotFound.
    pub fn gone_at(&self, now_ms: i64) -> bool {
        self.entered == ChannelState::Deleting
            && now_ms.saturating_sub(self.entered_ms) >= DELETE_MS + KEEP_DELETED_MS
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
    // `v[key] = …` on the objects built here inserts; it cannot panic.
    #[allow(clippy::indexing_slicing)]
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
        v["state"] = json!(state.as_str());
        v["channelClass"] = json!(self.channel_class());
        v["tags"] = json!(self.tags);
        v["egressEndpoints"] = json!((0..pipelines)
            .map(|_| json!({ "sourceIp": egress_ip }))
            .collect::<Vec<_>>());
        let running = state == ChannelState::Running;
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

    fn rec(entered: ChannelState, at: i64) -> ChannelRecord {
        ChannelRecord {
            arn: "arn".into(),
            id: "1234567".into(),
            settings: Map::new(),
            tags: BTreeMap::new(),
            entered,
            entered_ms: at,
            created_ms: 0,
            request_id: None,
            active_input: None,
        }
    }

    #[test]
    fn states_advance_on_a_virtual_clock() {
        let c = rec(ChannelState::Creating, 10_000);
        assert_eq!(c.state_at(10_000), ChannelState::Creating);
        assert_eq!(c.state_at(10_000 + CREATE_MS), ChannelState::Idle);
        // STARTING lasts until the supervisor has the engine up.
        let s = rec(ChannelState::Starting, 0);
        assert_eq!(s.state_at(60_000), ChannelState::Starting);
        assert_eq!(
            rec(ChannelState::Running, 0).state_at(1),
            ChannelState::Running
        );
        let s = rec(ChannelState::Stopping, 0);
        assert_eq!(s.state_at(1), ChannelState::Stopping);
        assert_eq!(s.state_at(STOP_MS), ChannelState::Idle);
        let d = rec(ChannelState::Deleting, 0);
        assert_eq!(d.state_at(1), ChannelState::Deleting);
        assert_eq!(d.state_at(DELETE_MS), ChannelState::Deleted);
        assert!(!d.gone_at(DELETE_MS + KEEP_DELETED_MS - 1));
        assert!(d.gone_at(DELETE_MS + KEEP_DELETED_MS));
    }

    #[test]
    fn summary_has_no_encoder_settings() {
        let mut c = rec(ChannelState::Running, 0);
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

    #[test]
    fn states_and_types_keep_their_stored_strings() {
        for (state, wire) in [
            (ChannelState::Creating, "CREATING"),
            (ChannelState::CreateFailed, "CREATE_FAILED"),
            (ChannelState::Idle, "IDLE"),
            (ChannelState::Starting, "STARTING"),
            (ChannelState::Running, "RUNNING"),
            (ChannelState::Recovering, "RECOVERING"),
            (ChannelState::Stopping, "STOPPING"),
            (ChannelState::Deleting, "DELETING"),
            (ChannelState::Deleted, "DELETED"),
            (ChannelState::Updating, "UPDATING"),
        ] {
            assert_eq!(serde_json::to_value(state).unwrap(), json!(wire));
            assert_eq!(state.as_str(), wire);
            assert_eq!(
                serde_json::from_value::<ChannelState>(json!(wire)).unwrap(),
                state
            );
        }
        for t in InputType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
            assert_eq!(InputType::parse(t.as_str()), Some(t));
        }
        assert_eq!(
            InputType::Smpte2110ReceiverGroup.as_str(),
            "SMPTE_2110_RECEIVER_GROUP"
        );
        // A record as an earlier onair wrote it (state and type as strings).
        let stored = json!({"arn": "a", "id": "1", "settings": {}, "tags": {},
            "entered": "STOPPING", "enteredMs": 5, "createdMs": 1, "requestId": null});
        let c: ChannelRecord = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(c.entered, ChannelState::Stopping);
        assert_eq!(serde_json::to_value(&c).unwrap()["entered"], "STOPPING");
        let input = json!({"arn": "a", "id": "1", "name": "n", "type": "RTP_PUSH",
            "attachedChannels": [], "destinations": [], "mediaConnectFlows": [],
            "inputClass": "STANDARD", "roleArn": null, "tags": {}, "requestId": null,
            "createdMs": 1, "deletedMs": null});
        let i: InputRecord = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(i.input_type, InputType::RtpPush);
        assert_eq!(serde_json::to_value(&i).unwrap(), input);
    }
}
