//! The Update* operations of the three services, through the control plane
//! with an in-memory store, on arbitrary JSON: UpdateFlow, UpdateFlowSource
//! and UpdateFlowOutput (MediaConnect), UpdateChannel (MediaLive),
//! UpdateOriginEndpoint and UpdateChannel (MediaPackage).
//!
//! Input: the first byte picks the starting flow (the protocol and port of
//! its first source and of its output); the rest is a sequence of up to eight
//! calls separated by 0xFF, each an operation byte ([`Call`]) then a body:
//! JSON text when the operation byte's top bit is set, else bytes that
//! [`object`] turns into a JSON object named with the operation's request
//! members (nested ones from [`KEYS`]) holding values of every JSON type:
//! port edges, enum values, huge numbers, nested objects and lists. Only the resources of the
//! services called are made. Every call answers a result or an error, never
//! a panic, and whatever an update leaves stored still holds what creation
//! guarantees: every port a source listens on or an output sends to (rtp-fec
//! adds port+2 and port+4) is a UDP port, a MediaLive channel still plans,
//! and every resource still renders.
#![no_main]

use std::sync::Arc;

use control::flow::model::{FlowRecord, Protocol};
use control::medialive::ChannelState;
use control::ControlPlane;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

const REGION: &str = "us-east-1";
const PORTS: [u16; 4] = [5000, 65531, 65534, 65535];
const PROTOCOLS: [&str; 4] = ["rtp", "udp", "rtp-fec", "rist"];

/// Member names the Update* operations read (and some they refuse).
const KEYS: &[&str] = &[
    "protocol",
    "ingestPort",
    "port",
    "destination",
    "whitelistCidr",
    "cidrAllowList",
    "maxBitrate",
    "description",
    "name",
    "outputStatus",
    "sourceFailoverConfig",
    "failoverMode",
    "recoveryWindow",
    "sourcePriority",
    "primarySource",
    "state",
    "flowSize",
    "minLatency",
    "maxLatency",
    "streamId",
    "decryption",
    "inputAttachments",
    "inputId",
    "inputAttachmentName",
    "inputSettings",
    "audioSelectors",
    "automaticInputFailoverSettings",
    "secondaryInputId",
    "encoderSettings",
    "videoDescriptions",
    "audioDescriptions",
    "outputGroups",
    "outputs",
    "codecSettings",
    "h264Settings",
    "aacSettings",
    "bitrate",
    "gopSize",
    "width",
    "height",
    "destinations",
    "channelClass",
    "logLevel",
    "roleArn",
    "hlsPackage",
    "segmentDurationSeconds",
    "playlistWindowSeconds",
    "startoverWindowSeconds",
    "timeDelaySeconds",
    "manifestName",
    "whitelist",
    "origination",
    "streamSelection",
    "minVideoBitsPerSecond",
    "maxVideoBitsPerSecond",
    "streamOrder",
    "includeIframeOnlyStream",
    "playlistType",
    "adMarkers",
    "programDateTimeIntervalSeconds",
    "tags",
];
const STRINGS: &[&str] = &[
    "rtp",
    "rtp-fec",
    "udp",
    "srt-listener",
    "ENABLED",
    "DISABLED",
    "MERGE",
    "FAILOVER",
    "a",
    "b",
    "LARGE",
    "127.0.0.1",
    "10.0.0.0/8",
    "::/0",
    "STANDARD",
    "SINGLE_PIPELINE",
    "DEBUG",
    "EVENT",
    "VOD",
    "NONE",
    "DENY",
    "ORIGINAL",
    "VIDEO_BITRATE_ASCENDING",
    "default",
    "index",
    "primary",
    "backup",
    "",
];
const INTS: &[i64] = &[
    0,
    1,
    -1,
    2,
    30,
    100,
    1000,
    5000,
    65531,
    65532,
    65533,
    65534,
    65535,
    65536,
    86_400,
    1_209_600,
    i64::MAX,
    i64::MIN,
];
const FLOATS: &[f64] = &[0.5, -0.0, 2.5, 1e308, -1e308, 128000.0];

/// The bytes that drive [`object`]; zeros once they run out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn next(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }

    fn pick<T: Copy>(&mut self, list: &[T]) -> T {
        list[usize::from(self.next()) % list.len()]
    }
}

/// A JSON object of up to four members named from `keys` (nested objects:
/// from [`KEYS`]); it ends early when the bytes do.
fn object(b: &mut Bytes, keys: &[&str], depth: u8) -> Value {
    let members = b.next() % 5;
    let mut map = serde_json::Map::new();
    for _ in 0..members {
        if b.0.is_empty() {
            break;
        }
        let key = b.pick(keys).to_string();
        let v = value(b, &key, depth + 1);
        map.insert(key, v);
    }
    Value::Object(map)
}

/// The values a member takes, for the members whose values are names.
fn names(key: &str) -> Option<&'static [&'static str]> {
    Some(match key {
        "protocol" => &["rtp", "rtp-fec", "udp", "srt-listener", "zixi-push"],
        "failoverMode" => &["MERGE", "FAILOVER"],
        "state" | "outputStatus" => &["ENABLED", "DISABLED"],
        "flowSize" => &["MEDIUM", "LARGE", "LARGE_4X"],
        "channelClass" => &["STANDARD", "SINGLE_PIPELINE"],
        "logLevel" => &["ERROR", "WARNING", "INFO", "DEBUG", "DISABLED"],
        "origination" => &["ALLOW", "DENY"],
        "playlistType" => &["NONE", "EVENT", "VOD"],
        "streamOrder" => &[
            "ORIGINAL",
            "VIDEO_BITRATE_ASCENDING",
            "VIDEO_BITRATE_DESCENDING",
        ],
        "whitelistCidr" | "cidrAllowList" | "whitelist" => &["10.0.0.0/8", "::/0", "10.0.0.0/33"],
        "destination" => &["127.0.0.1", "::1", "host"],
        _ => return None,
    })
}

/// A value for member `key`: every JSON type, names from the member's own
/// list ([`names`]) or [`STRINGS`].
fn value(b: &mut Bytes, key: &str, depth: u8) -> Value {
    let tag = b.next();
    match tag % 8 {
        0 => Value::Null,
        1 => Value::Bool(tag & 0x80 != 0),
        2 => json!(b.pick(INTS)),
        3 => json!(b.pick(FLOATS)),
        4 => json!(b.pick(names(key).unwrap_or(STRINGS))),
        5 => json!(b.pick(STRINGS)),
        6 if depth < 4 => {
            let items = b.next() % 4;
            Value::Array((0..items).map(|_| value(b, key, depth + 1)).collect())
        }
        7 if depth < 4 => object(b, KEYS, depth),
        _ => Value::Null,
    }
}

/// What an operation byte asks for (bits 0-2; bit 7: the body is JSON text).
#[derive(Clone, Copy, PartialEq)]
enum Call {
    UpdateFlow,
    UpdateFlowSource(usize),
    UpdateFlowOutput,
    UpdateLiveChannel,
    UpdateOriginEndpoint,
    UpdatePackageChannel,
}

impl Call {
    /// The request members of the operation (as the AWS models name them,
    /// onair implements some), for the top level of a generated body.
    fn members(self) -> &'static [&'static str] {
        match self {
            Call::UpdateFlow => &[
                "sourceFailoverConfig",
                "flowSize",
                "maintenance",
                "sourceMonitoringConfig",
                "ndiConfig",
                "encodingConfig",
            ],
            Call::UpdateFlowSource(_) => &[
                "protocol",
                "ingestPort",
                "whitelistCidr",
                "maxBitrate",
                "description",
                "minLatency",
                "maxLatency",
                "streamId",
                "decryption",
                "name",
                "senderIpAddress",
                "sourceListenerPort",
            ],
            Call::UpdateFlowOutput => &[
                "protocol",
                "port",
                "destination",
                "cidrAllowList",
                "description",
                "outputStatus",
                "remoteId",
                "smoothingLatency",
                "minLatency",
                "streamId",
                "encryption",
                "name",
            ],
            Call::UpdateLiveChannel => &[
                "name",
                "inputAttachments",
                "encoderSettings",
                "destinations",
                "channelClass",
                "logLevel",
                "roleArn",
                "inputSpecification",
                "maintenance",
                "tags",
            ],
            Call::UpdateOriginEndpoint => &[
                "description",
                "hlsPackage",
                "manifestName",
                "startoverWindowSeconds",
                "timeDelaySeconds",
                "whitelist",
                "origination",
                "dashPackage",
                "authorization",
            ],
            Call::UpdatePackageChannel => &["description", "tags", "id"],
        }
    }

    fn of(op: u8) -> Call {
        match op & 0x07 {
            0 => Call::UpdateFlow,
            1 | 7 => Call::UpdateFlowSource(0),
            2 => Call::UpdateFlowSource(1),
            3 => Call::UpdateFlowOutput,
            4 => Call::UpdateLiveChannel,
            5 => Call::UpdateOriginEndpoint,
            _ => Call::UpdatePackageChannel,
        }
    }
}

/// The resources a run starts from: those of the services its calls use.
struct World {
    cp: Arc<ControlPlane>,
    flow: Option<FlowParts>,
    live_channel: Option<String>,
    /// The packaging channel `live` and its endpoint `e`.
    packaging: bool,
}

struct FlowParts {
    arn: String,
    sources: Vec<String>,
    output: String,
}

fn flow_body(protocol: &str, port: u16) -> Value {
    json!({
        "name": "f",
        "sources": [
            {"name": "a", "protocol": protocol, "ingestPort": port, "whitelistCidr": "10.0.0.0/8"},
            {"name": "b", "protocol": "rtp", "ingestPort": 6000},
        ],
        "sourceFailoverConfig": {"state": "ENABLED", "failoverMode": "FAILOVER",
            "sourcePriority": {"primarySource": "a"}},
        "outputs": [{"name": "o", "protocol": protocol, "destination": "127.0.0.1", "port": port}],
    })
}

fn live_channel_body(primary: &str, backup: &str) -> Value {
    json!({
        "name": "ch",
        "roleArn": "arn:aws:iam::000000000000:role/ml",
        "channelClass": "SINGLE_PIPELINE",
        "inputAttachments": [
            {"inputAttachmentName": "primary", "inputId": primary,
             "automaticInputFailoverSettings": {"secondaryInputId": backup},
             "inputSettings": {"audioSelectors": [{"name": "default"}]}},
            {"inputAttachmentName": "backup", "inputId": backup,
             "inputSettings": {"audioSelectors": [{"name": "default"}]}}
        ],
        "destinations": [{"id": "mp", "mediaPackageSettings": [{"channelId": "live"}]}],
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

fn text(v: &Value, pointer: &str) -> String {
    let found = v.pointer(pointer).and_then(Value::as_str);
    found
        .unwrap_or_else(|| panic!("no {pointer} in {v}"))
        .to_string()
}

/// The starting resources; a failure here is the target's own bug.
fn world(start: u8, flows: bool, live: bool, packaging: bool) -> World {
    let store = control::Store::in_memory().expect("in-memory store");
    let cp = ControlPlane::with_store(store, control::Settings::default());
    let flow = flows.then(|| {
        let port = PORTS[usize::from(start) % PORTS.len()];
        let protocol = PROTOCOLS[usize::from(start / 4) % PROTOCOLS.len()];
        // rtp-fec above 65531 and rist on an odd port or 65535 are refused
        // at creation: that flow starts as rtp.
        let flow = cp
            .create_flow(REGION, &flow_body(protocol, port))
            .or_else(|_| cp.create_flow(REGION, &flow_body("rtp", port)))
            .expect("the starting flow is valid");
        FlowParts {
            arn: text(&flow, "/flow/flowArn"),
            sources: (0..2)
                .map(|i| text(&flow, &format!("/flow/sources/{i}/sourceArn")))
                .collect(),
            output: text(&flow, "/flow/outputs/0/outputArn"),
        }
    });
    let live_channel = live.then(|| {
        // The channel's roleArn must name a role, as on MediaLive.
        let trust = r#"{"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": "medialive.amazonaws.com"}}}"#;
        cp.iam_create_role(&control::iam::model::NewRole::new("ml", trust))
            .expect("the starting role is valid");
        let input = |name: &str| {
            let made = cp.create_input(REGION, &json!({"name": name, "type": "RTP_PUSH"}));
            text(&made.expect("the starting input is valid"), "/input/id")
        };
        let (primary, backup) = (input("in-a"), input("in-b"));
        let made = cp.create_channel(REGION, &live_channel_body(&primary, &backup));
        let id = text(&made.expect("the starting channel is valid"), "/channel/id");
        cp.channel_reached(&id, ChannelState::Creating, ChannelState::Idle, None);
        id
    });
    if packaging {
        cp.create_package_channel(REGION, &json!({"id": "live"}))
            .expect("the starting packaging channel is valid");
        let endpoint = json!({"channelId": "live", "id": "e", "manifestName": "index",
            "hlsPackage": {"segmentDurationSeconds": 2, "playlistWindowSeconds": 30}});
        cp.create_origin_endpoint(REGION, &endpoint)
            .expect("the starting endpoint is valid");
    }
    World {
        cp,
        flow,
        live_channel,
        packaging,
    }
}

/// The UDP ports a part of a flow uses, computed without wrapping.
fn ports(protocol: Protocol, port: u16) -> Vec<u32> {
    let port = u32::from(port);
    match protocol {
        Protocol::RtpFec => vec![port, port + 2, port + 4],
        Protocol::Rtp | Protocol::Udp | Protocol::SrtListener => vec![port],
        // RTP on an even port, RTCP on the next.
        Protocol::Rist => vec![port, port + 1],
        // A caller listens on no port (its ingestPort is 0, not serialized).
        Protocol::SrtCaller => Vec::new(),
    }
}

fn check(w: &World) {
    if let Some(f) = &w.flow {
        let rec: FlowRecord = w.cp.flow_record(&f.arn).expect("the flow is still there");
        for s in rec.flow.all_sources() {
            let used = ports(s.transport.protocol, s.ingest_port);
            assert!(
                used.iter().all(|p| (1..=65535).contains(p)),
                "source {} listens on {used:?} ({})",
                s.name,
                s.transport.protocol.as_str()
            );
            assert!(
                s.transport.protocol != Protocol::Rist || s.ingest_port & 1 == 0,
                "rist source {} on odd port {}",
                s.name,
                s.ingest_port
            );
            // The port rules run on what is stored: no overflow there either.
            let _ = control::flow::rules::source_ports(s);
        }
        for o in &rec.flow.outputs {
            let used = ports(o.transport.protocol, o.port);
            assert!(
                used.iter().all(|p| (1..=65535).contains(p)),
                "output {} sends to {used:?} ({})",
                o.name,
                o.transport.protocol.as_str()
            );
        }
        w.cp.describe_flow(&f.arn).expect("the flow renders");
    }
    if let Some(id) = &w.live_channel {
        let live =
            w.cp.live_channel_record(id)
                .expect("the channel is still there");
        if let Err(p) = control::medialive::plan::plan(&live.settings) {
            panic!("a stored channel does not plan: {p:?}");
        }
        w.cp.describe_channel(id).expect("the channel renders");
    }
    if w.packaging {
        let ep =
            w.cp.origin_endpoint("e")
                .expect("the endpoint is still there");
        let _ = control::packaging::endpoint_config(&ep);
        w.cp.describe_origin_endpoint("e")
            .expect("the endpoint renders");
        w.cp.describe_package_channel("live")
            .expect("the packaging channel renders");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&start, rest)) = data.split_first() else {
        return;
    };
    let calls: Vec<(Call, Value)> = rest
        .split(|&b| b == 0xFF)
        .take(8)
        .filter_map(|call| {
            let (&op, body) = call.split_first()?;
            let body = if op & 0x80 != 0 {
                serde_json::from_slice(body).ok()?
            } else {
                object(&mut Bytes(body), Call::of(op).members(), 0)
            };
            Some((Call::of(op), body))
        })
        .collect();
    if calls.is_empty() {
        return;
    }
    let uses = |which: &[Call]| calls.iter().any(|(c, _)| which.contains(c));
    let w = world(
        start,
        uses(&[
            Call::UpdateFlow,
            Call::UpdateFlowSource(0),
            Call::UpdateFlowSource(1),
            Call::UpdateFlowOutput,
        ]),
        uses(&[Call::UpdateLiveChannel]),
        uses(&[Call::UpdateOriginEndpoint, Call::UpdatePackageChannel]),
    );
    let cp = &w.cp;
    for (call, body) in &calls {
        match (call, &w.flow, &w.live_channel) {
            (Call::UpdateFlow, Some(f), _) => {
                let _ = cp.update_flow(&f.arn, body);
            }
            (Call::UpdateFlowSource(i), Some(f), _) => {
                let _ = cp.update_flow_source(&f.arn, &f.sources[*i], body);
            }
            (Call::UpdateFlowOutput, Some(f), _) => {
                let _ = cp.update_flow_output(&f.arn, &f.output, body);
            }
            (Call::UpdateLiveChannel, _, Some(id)) => {
                let _ = cp.update_channel(id, body);
            }
            (Call::UpdateOriginEndpoint, _, _) => {
                let _ = cp.update_origin_endpoint("e", body);
            }
            (Call::UpdatePackageChannel, _, _) => {
                let _ = cp.update_package_channel("live", body);
            }
            _ => unreachable!("every call's service was set up"),
        }
        check(&w);
    }
});
