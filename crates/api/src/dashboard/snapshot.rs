//! What the dashboard shows, as one JSON document: every flow, MediaLive
//! channel, origin endpoint and alarm, with the engines' live reports, the
//! latest metrics, and the recent events. Built from the control plane's
//! records, [`control::reports::Reports`] and the [`monitor::Hub`], each read
//! as a copy; the build waits for no engine.
//!
//! Health is decided here, not in the browser, so the rules are tested once:
//!
//! | what | `error` (red) | `warning` (amber) | `ok` (green) | `idle` (grey) |
//! |---|---|---|---|---|
//! | flow | `ERROR`, or running with no source on air delivering | a source not delivering, a TS problem, starting / stopping, no report yet | running, every source delivering | `STANDBY` |
//! | source | not delivering (nothing within the last second) | TS sync, PAT or PMT missing | delivering | flow not running |
//! | channel | `CREATE_FAILED`, or running in input loss | an input not connected, black, silent; a set alert; starting / stopping | running clean | `IDLE` |
//!
//! Nothing secret is in it: no ingest credentials, no allow-lists.

use std::collections::BTreeMap;

use control::flow::model::{FailoverMode, FlowRecord, FlowStatus};
use control::medialive::ChannelState;
use control::reports::{ChannelReport, InputState};
use control::ControlPlane;
use monitor::hub::feed::{Alert, Event};
use monitor::{Hub, Timestamp};
use serde::Serialize;
use serde_json::Value;
use transport::FlowStats;

use super::metrics;

/// Events in a snapshot (newest first).
pub const EVENTS: usize = 100;
/// Alarm state changes in a snapshot (newest first).
pub const ALARM_CHANGES: usize = 20;
/// Alerts per channel in a snapshot (set ones first).
pub const ALERTS: usize = 10;

/// A resource's colour on the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Ok,
    Warning,
    Error,
    Idle,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub flows: Vec<FlowView>,
    pub channels: Vec<ChannelView>,
    pub endpoints: Vec<EndpointView>,
    pub alarms: Vec<AlarmRow>,
    /// `StateUpdate` items, newest first.
    pub alarm_history: Vec<AlarmChange>,
    /// The event feed, newest first.
    pub events: Vec<Event>,
    /// What could not be read (a store error), for the operator.
    pub problems: Vec<String>,
    /// `onair demo`'s controls and SNS subscriber (only in the demo).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo: Option<crate::demo::View>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowView {
    pub arn: String,
    pub name: String,
    pub status: &'static str,
    pub health: Health,
    /// `FAILOVER` or `MERGE` with two sources.
    pub failover_mode: Option<&'static str>,
    pub active_source: Option<String>,
    /// What the flow carries on air (the selected sources' bitrate), while running.
    pub bitrate_bps: Option<u64>,
    pub failover_switches: u64,
    /// Packets the 2022-7 merge gave up on (MERGE only).
    pub merge_lost: Option<u64>,
    pub sources: Vec<SourceView>,
    pub outputs: Vec<OutputView>,
    /// DescribeFlow `messages`: what is wrong, in words.
    pub messages: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceView {
    pub name: String,
    pub arn: String,
    pub protocol: &'static str,
    /// `ip:port` encoders send to.
    pub ingest: String,
    pub health: Health,
    /// The engine's counters, while the flow runs.
    pub live: Option<SourceLive>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceLive {
    pub connected: bool,
    pub selected: bool,
    pub bitrate_bps: u64,
    pub packets: u64,
    pub fec_recovered: u64,
    pub not_recovered: u64,
    pub continuity_errors: u64,
    pub dropped: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputView {
    pub name: String,
    pub protocol: &'static str,
    pub destination: String,
    pub enabled: bool,
    pub bitrate_bps: Option<u64>,
    pub send_errors: Option<u64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub state: &'static str,
    pub health: Health,
    pub active_input: Option<String>,
    pub input_loss: bool,
    pub inputs: Vec<InputView>,
    pub renditions: Vec<Rendition>,
    /// `InputVideoFrameRate`, the latest second.
    pub fps: Option<f64>,
    /// `EncoderSpeed` (1.0 is real time), the latest second.
    pub encoder_speed: Option<f64>,
    pub engine_restarts: u64,
    pub active_alerts: usize,
    /// Set alerts first (oldest first), then cleared ones (latest first).
    pub alerts: Vec<AlertView>,
    /// The MediaPackage channels it feeds.
    pub packaging_channels: Vec<String>,
}

/// A MediaLive alert (`ListAlerts`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    #[serde(rename = "type")]
    pub alert_type: String,
    pub message: String,
    /// `SET` or `CLEARED`.
    pub state: &'static str,
    pub set_at: u64,
    pub cleared_at: Option<u64>,
}

impl From<Alert> for AlertView {
    fn from(a: Alert) -> Self {
        AlertView {
            state: a.state(),
            alert_type: a.alert_type,
            message: a.message,
            set_at: a.set_at.as_unix_millis(),
            cleared_at: a.cleared_at.map(Timestamp::as_unix_millis),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputView {
    pub name: String,
    /// `CONNECTED`, `NO_DATA`, `WAITING`; none while the channel is not running.
    pub state: Option<&'static str>,
    pub reason: Option<String>,
    pub black: bool,
    pub silent: bool,
    pub losses: u64,
    /// Datagrams refused: their sender is outside the input's security groups.
    pub refused: u64,
}

/// One video description of a channel's encoder settings.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rendition {
    pub name: String,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub bitrate: Option<u64>,
    pub framerate: Option<f64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    pub id: String,
    pub channel_id: String,
    pub description: Option<String>,
    /// The playback URL as the API returns it.
    pub url: String,
    /// The same, relative to the server's root (`out/v1/…`): what the page
    /// plays, so that it works behind a proxy too.
    pub path: String,
    /// `EgressRequestCount` per second over the last 10 s.
    pub requests_per_second: Option<f64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmRow {
    pub name: String,
    pub arn: String,
    pub state: &'static str,
    pub reason: String,
    /// When the state last changed value (unix ms).
    pub changed: u64,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<monitor::Dimension>,
    pub statistic: String,
    pub comparison: &'static str,
    pub threshold: f64,
    pub period: u32,
    pub evaluation_periods: u32,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmChange {
    pub at: u64,
    pub name: String,
    pub summary: String,
}

/// Builds the snapshot at `now`.
pub fn build(cp: &ControlPlane, hub: &Hub, now: Timestamp) -> Snapshot {
    let mut problems = Vec::new();
    let flows = or_problem(&mut problems, "flows", cp.flow_records())
        .iter()
        .map(|rec| flow_view(rec, cp.reports.flow(&rec.flow.flow_arn).as_ref()))
        .collect();
    let recs = or_problem(&mut problems, "channels", cp.live_channel_records());
    let mut channels = channel_views(cp, hub, recs, now);
    let mut endpoints = match cp.packaging_view() {
        Ok(view) => endpoint_views(&cp.settings.base_url, &view),
        Err(e) => {
            problems.push(format!("cannot read origin endpoints: {e}"));
            Vec::new()
        }
    };
    hub.with_store(|store| {
        for c in &mut channels {
            let metric = |name| metrics::channel(name, &c.id);
            c.fps = metrics::latest(store, now, metric("InputVideoFrameRate").as_ref());
            c.encoder_speed = metrics::latest(store, now, metric("EncoderSpeed").as_ref());
        }
        for e in &mut endpoints {
            let metric = metrics::egress_requests(&e.channel_id, &e.id);
            e.requests_per_second = metrics::rate(store, now, metric.as_ref(), 10);
        }
    });
    let (alarms, alarm_history) = hub.with_alarms(|book| {
        let alarms = book.all().into_iter().map(alarm_row).collect();
        let history = book
            .history(None, Some("StateUpdate"), None, None)
            .into_iter()
            .take(ALARM_CHANGES)
            .map(|h| AlarmChange {
                at: h.timestamp.as_unix_millis(),
                name: h.alarm_name,
                summary: h.history_summary,
            })
            .collect();
        (alarms, history)
    });
    let events = hub.with_feed(|f| {
        let mut events = f.since(0, EVENTS);
        events.reverse();
        events
    });
    Snapshot {
        flows,
        channels,
        endpoints,
        alarms,
        alarm_history,
        events,
        problems,
        demo: None,
    }
}

/// The records read, or none and a line for the operator.
fn or_problem<T>(problems: &mut Vec<String>, what: &str, read: control::Result<Vec<T>>) -> Vec<T> {
    read.unwrap_or_else(|e| {
        problems.push(format!("cannot read {what}: {e}"));
        Vec::new()
    })
}

/// Channels that exist at `now` (deleted ones drop out), with their reports
/// and alerts; metrics are filled in by the caller.
fn channel_views(
    cp: &ControlPlane,
    hub: &Hub,
    recs: Vec<control::medialive::ChannelRecord>,
    now: Timestamp,
) -> Vec<ChannelView> {
    let now_ms = i64::try_from(now.as_unix_millis()).unwrap_or(i64::MAX);
    recs.iter()
        .filter_map(|rec| {
            let state = rec.state_at(now_ms);
            if state == ChannelState::Deleted {
                return None;
            }
            let report = (state == ChannelState::Running)
                .then(|| cp.reports.channel(&rec.id))
                .flatten();
            let (alerts, set) = hub.with_feed(|f| {
                let all = f.alerts(&rec.id);
                let set = all.iter().filter(|a| a.cleared_at.is_none()).count();
                let shown = all.into_iter().take(ALERTS).map(AlertView::from);
                (shown.collect(), set)
            });
            Some(channel_view(rec, state, report.as_ref(), alerts, set))
        })
        .collect()
}

/// Origin endpoints, oldest first.
fn endpoint_views(base_url: &str, view: &control::packaging::PackagingView) -> Vec<EndpointView> {
    let mut recs: Vec<_> = view.endpoints.values().collect();
    recs.sort_by(|a, b| (a.created_ms, &a.endpoint.id).cmp(&(b.created_ms, &b.endpoint.id)));
    recs.into_iter()
        .map(|rec| {
            let e = control::packaging::render_endpoint(base_url, &rec.endpoint);
            EndpointView {
                path: format!("out/v1/{}/{}/{}.m3u8", e.channel_id, e.id, e.manifest_name),
                url: e.url.unwrap_or_default(),
                id: e.id,
                channel_id: e.channel_id,
                description: e.description,
                requests_per_second: None,
            }
        })
        .collect()
}

fn alarm_row(a: monitor::hub::alarms::AlarmView) -> AlarmRow {
    let def = a.definition;
    AlarmRow {
        arn: a.arn,
        state: a.state.as_str(),
        reason: a.state_reason,
        changed: a.state_transitioned.as_unix_millis(),
        statistic: def.statistic.name().to_owned(),
        comparison: def.comparison_operator.as_str(),
        threshold: def.threshold,
        period: def.period,
        evaluation_periods: def.evaluation_periods,
        name: def.alarm_name,
        namespace: def.namespace,
        metric_name: def.metric_name,
        dimensions: def.dimensions,
    }
}

fn flow_view(rec: &FlowRecord, stats: Option<&FlowStats>) -> FlowView {
    let flow = &rec.flow;
    let running = flow.status == FlowStatus::Active;
    let stats = stats.filter(|_| running);
    let sources: Vec<SourceView> = flow
        .all_sources()
        .into_iter()
        .map(|s| {
            let live = stats
                .and_then(|st| st.sources.iter().find(|x| x.name == s.name))
                .map(|x| SourceLive {
                    connected: x.connected,
                    selected: x.selected,
                    bitrate_bps: x.bitrate_bps,
                    packets: x.packets,
                    fec_recovered: x.fec_recovered,
                    not_recovered: x.not_recovered,
                    continuity_errors: x.ts.continuity_errors,
                    dropped: x
                        .dropped_not_allowed
                        .saturating_add(x.dropped_over_bitrate)
                        .saturating_add(x.malformed),
                });
            let ts_ok = stats
                .and_then(|st| st.sources.iter().find(|x| x.name == s.name))
                .is_none_or(|x| x.ts.in_sync && x.ts.pat_present && x.ts.pmt_present);
            SourceView {
                name: s.name.clone(),
                arn: s.source_arn.clone(),
                protocol: protocol_label(&s.transport),
                // An srt-caller source calls out instead of listening.
                ingest: match (
                    &s.transport.source_listener_address,
                    s.transport.source_listener_port,
                ) {
                    (Some(a), Some(p)) => format!("calls {a}:{p}"),
                    _ => format!("{}:{}", s.ingest_ip, s.ingest_port),
                },
                health: source_health(running, live.as_ref(), ts_ok),
                live,
            }
        })
        .collect();
    let outputs = flow
        .outputs
        .iter()
        .map(|o| {
            let live = stats.and_then(|st| st.outputs.iter().find(|x| x.id == o.output_arn));
            OutputView {
                name: o.name.clone(),
                protocol: protocol_label(&o.transport),
                // An srt-listener output waits on its port for a receiver.
                destination: if o.destination.is_empty() {
                    format!("listens on {}", o.port)
                } else {
                    format!("{}:{}", o.destination, o.port)
                },
                enabled: o.output_status == control::flow::model::EnabledState::Enabled,
                bitrate_bps: live.map(|x| x.bitrate_bps),
                send_errors: live.map(|x| x.send_errors),
            }
        })
        .collect();
    let failover_mode = flow
        .source_failover_config
        .as_ref()
        .filter(|_| flow.sources.len() > 1)
        .map(|c| match c.failover_mode {
            FailoverMode::Failover => "FAILOVER",
            FailoverMode::Merge => "MERGE",
        });
    FlowView {
        arn: flow.flow_arn.clone(),
        name: flow.name.clone(),
        status: flow.status.as_str(),
        health: flow_health(flow.status, stats.is_some(), &sources),
        failover_mode,
        active_source: stats.and_then(|s| s.active_source.clone()),
        bitrate_bps: stats.map(|st| {
            st.sources
                .iter()
                .filter(|s| s.selected)
                .map(|s| s.bitrate_bps)
                .max()
                .unwrap_or(0)
        }),
        failover_switches: stats.map_or(0, |s| s.failover_switches),
        merge_lost: stats.and_then(|s| s.merge.as_ref()).map(|m| m.lost),
        messages: control::flow::health::messages(rec, stats),
        sources,
        outputs,
    }
}

/// A source's colour: see the [module docs](self).
pub fn source_health(running: bool, live: Option<&SourceLive>, ts_ok: bool) -> Health {
    match live {
        _ if !running => Health::Idle,
        None => Health::Warning,
        Some(l) if !l.connected => Health::Error,
        Some(_) if !ts_ok => Health::Warning,
        Some(_) => Health::Ok,
    }
}

/// A flow's colour: see the [module docs](self).
pub fn flow_health(status: FlowStatus, reporting: bool, sources: &[SourceView]) -> Health {
    match status {
        FlowStatus::Error => return Health::Error,
        FlowStatus::Standby => return Health::Idle,
        FlowStatus::Active if reporting => {}
        _ => return Health::Warning,
    }
    let on_air = sources
        .iter()
        .any(|s| s.live.as_ref().is_some_and(|l| l.selected && l.connected));
    if !on_air {
        Health::Error
    } else if sources.iter().any(|s| s.health != Health::Ok) {
        Health::Warning
    } else {
        Health::Ok
    }
}

fn channel_view(
    rec: &control::medialive::ChannelRecord,
    state: ChannelState,
    report: Option<&ChannelReport>,
    alerts: Vec<AlertView>,
    active_alerts: usize,
) -> ChannelView {
    let settings = Value::Object(rec.settings.clone());
    let attachments: Vec<String> = settings
        .get("inputAttachments")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|a| a.get("inputAttachmentName").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let inputs = match report {
        Some(r) if !r.inputs.is_empty() => r
            .inputs
            .iter()
            .map(|i| InputView {
                name: i.name.clone(),
                state: Some(i.state.as_str()),
                reason: i.reason.clone(),
                black: i.black,
                silent: i.silent,
                losses: i.losses,
                refused: i.refused,
            })
            .collect(),
        _ => attachments
            .iter()
            .map(|name| InputView {
                name: name.clone(),
                state: None,
                reason: None,
                black: false,
                silent: false,
                losses: 0,
                refused: 0,
            })
            .collect(),
    };
    let packaging_channels: Vec<String> = settings
        .get("destinations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("mediaPackageSettings").and_then(Value::as_array))
        .flatten()
        .filter_map(|m| m.get("channelId").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    ChannelView {
        id: rec.id.clone(),
        arn: rec.arn.clone(),
        name: settings
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        state: state.as_str(),
        health: channel_health(state, report, active_alerts),
        active_input: report
            .map(|r| r.active_input.clone())
            .filter(|a| !a.is_empty())
            .or_else(|| rec.active_input.clone()),
        input_loss: report.is_some_and(|r| r.input_loss),
        inputs,
        renditions: renditions(&settings),
        fps: None,
        encoder_speed: None,
        engine_restarts: report.map_or(0, |r| r.engine_restarts),
        active_alerts,
        alerts,
        packaging_channels,
    }
}

/// A channel's colour: see the [module docs](self).
pub fn channel_health(
    state: ChannelState,
    report: Option<&ChannelReport>,
    active_alerts: usize,
) -> Health {
    match state {
        ChannelState::CreateFailed => Health::Error,
        ChannelState::Idle | ChannelState::Deleting | ChannelState::Deleted => Health::Idle,
        ChannelState::Running => match report {
            None => Health::Warning,
            Some(r) if r.input_loss => Health::Error,
            Some(r)
                if active_alerts > 0
                    || r.inputs
                        .iter()
                        .any(|i| i.state != InputState::Connected || i.black || i.silent) =>
            {
                Health::Warning
            }
            Some(_) => Health::Ok,
        },
        _ => Health::Warning,
    }
}

/// The video descriptions of a channel's `encoderSettings`.
pub fn renditions(settings: &Value) -> Vec<Rendition> {
    let Some(list) = settings
        .pointer("/encoderSettings/videoDescriptions")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .map(|v| {
            // `codecSettings` holds one member: `h264Settings`, `h265Settings`, …
            let codec = v
                .get("codecSettings")
                .and_then(Value::as_object)
                .and_then(|m| m.values().next());
            let codec_member = |key: &str| codec.and_then(|c| c.get(key));
            let framerate = match (
                codec_member("framerateNumerator").and_then(Value::as_f64),
                codec_member("framerateDenominator").and_then(Value::as_f64),
            ) {
                (Some(n), Some(d)) if d > 0.0 => Some(n / d),
                _ => None,
            };
            Rendition {
                name: v
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                width: v.get("width").and_then(Value::as_u64),
                height: v.get("height").and_then(Value::as_u64),
                bitrate: codec_member("bitrate").and_then(Value::as_u64),
                framerate,
            }
        })
        .collect()
}

/// Flows, by ARN, with their sources' ARNs: what the history reads.
pub fn flow_sources(cp: &ControlPlane) -> BTreeMap<String, Vec<(String, String)>> {
    cp.flow_records()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let sources = r
                .flow
                .all_sources()
                .into_iter()
                .map(|s| (s.name.clone(), s.source_arn.clone()))
                .collect();
            (r.flow.flow_arn, sources)
        })
        .collect()
}

/// The protocol as the flow view prints it: a RIST part in the main profile
/// (`streamId` `main`) says so, since both ends must agree on it.
fn protocol_label(t: &control::flow::model::Transport) -> &'static str {
    match (t.protocol, t.stream_id.as_deref()) {
        (control::flow::model::Protocol::Rist, Some("main")) => "rist (main profile)",
        (p, _) => p.as_str(),
    }
}
