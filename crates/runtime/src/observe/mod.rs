//! What the engines report, turned into what operators read: CloudWatch
//! metrics with AWS's names and dimensions, MediaLive alerts, and events.
//!
//! # Model
//!
//! [`Observer`] is sans-IO. Once a second the driver ([`run`]) hands it the
//! flows and channels with their latest engine reports; it compares them
//! with what it saw the second before and returns an [`Observation`]: one
//! datapoint per metric (counters become per-second deltas, gauges are read
//! as they are), the alerts that were set or cleared, and events for people
//! (a source lost or back, a failover, an engine restart). The driver writes
//! them to the [`monitor::Hub`] (and the event log).
//!
//! Metrics (see `docs/USER_GUIDE.md` for the full table):
//!
//! * `AWS/MediaConnect`, per running flow: every `Source…` metric with
//!   `[FlowARN, SourceARN]` for each source, and with `[FlowARN]` and
//!   `[FlowName]` for the source on air (the selected source of a FAILOVER
//!   flow; the fullest contributing source of a MERGE flow);
//!   `OutputBitrate` / `OutputTotalPackets` with `[FlowARN, OutputARN]`;
//!   `ConnectedOutputs` with `[FlowARN]`. `SourceConnectionErrors` is not an
//!   AWS metric: onair publishes it because the recipe alarms on it
//!   (refused datagrams + malformed datagrams + disconnections).
//! * `AWS/MediaLive`, per running channel, with `[ChannelId, Pipeline=0]` and
//!   `[ChannelId]`: `InputVideoFrameRate`, `NetworkIn` / `NetworkOut`
//!   (megabits per second), `DroppedFrames`, `FillMsec`, `InputLossSeconds`,
//!   `PrimaryInputActive` (channels with two inputs), `ActiveAlerts`,
//!   `ActiveOutputs`, `Output4xxErrors` / `Output5xxErrors`, and onair's
//!   `EncoderSpeed` (media seconds the engine processes per second of work:
//!   above 1 it keeps up, with that much headroom) and
//!   `RefusedInputDatagrams` (datagrams dropped because their sender is
//!   outside the input's security groups, per second).
//!
//! # Invariants
//!
//! * A counter that went backwards (an engine restarted) counts from zero,
//!   never negative.
//! * A resource that stops running publishes nothing more; its alerts are
//!   cleared.
//! * Every alert set is cleared exactly once.

mod channels;
mod flows;
mod packaging;
#[cfg(test)]
mod tests;

pub use packaging::TrafficView;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use control::medialive::model::{ChannelRecord, ChannelState};
use control::reports::ChannelReport;
use control::ControlPlane;
use monitor::hub::feed::Severity;
use monitor::series::MetricId;
use monitor::{Dimension, Hub, StatisticSet, Timestamp};
use transport::FlowStats;

/// One datapoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub id: MetricId,
    pub value: f64,
    pub unit: &'static str,
}

/// An event for people.
#[derive(Clone, Debug, PartialEq)]
pub struct Happening {
    /// `mediaconnect`, `medialive`.
    pub service: &'static str,
    /// ARN (flows) or id (channels).
    pub resource: String,
    pub name: String,
    pub severity: Severity,
    pub message: String,
}

/// An alert set or cleared on a channel.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertChange {
    pub channel_id: String,
    pub alert_type: &'static str,
    /// The message when set; `None` when cleared.
    pub set: Option<String>,
}

/// What one look found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    pub points: Vec<Point>,
    pub happenings: Vec<Happening>,
    pub alerts: Vec<AlertChange>,
}

impl Observation {
    fn point(&mut self, id: Option<MetricId>, value: f64, unit: &'static str) {
        if let Some(id) = id {
            if value.is_finite() {
                self.points.push(Point { id, value, unit });
            }
        }
    }
}

/// A running flow as the observer sees it.
pub struct FlowView<'a> {
    pub record: &'a control::flow::model::FlowRecord,
    pub stats: &'a FlowStats,
}

/// A running channel as the observer sees it.
pub struct ChannelView<'a> {
    pub record: &'a ChannelRecord,
    pub report: &'a ChannelReport,
}

/// See the [module docs](self).
#[derive(Default)]
pub struct Observer {
    flows: HashMap<String, flows::Seen>,
    channels: HashMap<String, channels::Seen>,
    packaging: packaging::Seen,
    last: Option<Timestamp>,
}

pub(crate) fn metric(namespace: &str, name: &str, dims: &[(&str, &str)]) -> Option<MetricId> {
    MetricId::new(
        namespace,
        name,
        dims.iter()
            .map(|(n, v)| Dimension {
                name: (*n).to_owned(),
                value: (*v).to_owned(),
            })
            .collect(),
    )
    .ok()
}

/// `now - before` of a counter, from zero when it went backwards.
pub(crate) fn delta(now: u64, before: Option<u64>) -> u64 {
    match before {
        Some(b) if now >= b => now - b,
        Some(_) => now,
        None => 0,
    }
}

impl Observer {
    /// Look at every running flow and channel at `now`.
    pub fn observe(
        &mut self,
        now: Timestamp,
        flows: &[FlowView<'_>],
        channels: &[ChannelView<'_>],
        traffic: &TrafficView,
    ) -> Observation {
        let elapsed = self.last.map_or(1.0, |l| {
            (now.as_unix_millis().saturating_sub(l.as_unix_millis()) as f64 / 1000.0).max(0.001)
        });
        self.last = Some(now);
        let mut out = Observation::default();
        flows::observe(&mut self.flows, flows, elapsed, &mut out);
        channels::observe(&mut self.channels, channels, elapsed, &mut out);
        packaging::observe(&mut self.packaging, traffic, &mut out);
        out
    }
}

/// Where events go beside the feed (the CloudWatch Logs sink).
pub type LogSink = Arc<dyn Fn(&Happening, Timestamp) + Send + Sync>;

/// Runs the observer once a second until the process ends, writing into
/// `hub`; `log` receives every event (the CloudWatch Logs sink).
pub async fn run(
    cp: Arc<ControlPlane>,
    origin: package::origin::OriginStore,
    hub: Arc<Hub>,
    log: LogSink,
) {
    let mut observer = Observer::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = wall_clock();
        let records = cp.flow_records().unwrap_or_default();
        let stats: Vec<(usize, FlowStats)> = records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| cp.reports.flow(&r.flow.flow_arn).map(|s| (i, s)))
            .collect();
        let flow_views: Vec<FlowView<'_>> = stats
            .iter()
            .filter_map(|(i, s)| records.get(*i).map(|record| FlowView { record, stats: s }))
            .collect();
        let channel_records = cp.live_channel_records().unwrap_or_default();
        let reports: Vec<(usize, ChannelReport)> = channel_records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.entered == ChannelState::Running)
            .filter_map(|(i, r)| cp.reports.channel(&r.id).map(|rep| (i, rep)))
            .collect();
        let channel_views: Vec<ChannelView<'_>> = reports
            .iter()
            .filter_map(|(i, report)| {
                channel_records
                    .get(*i)
                    .map(|record| ChannelView { record, report })
            })
            .collect();
        let traffic = TrafficView {
            channels: cp
                .packaging_view()
                .map(|v| {
                    let mut channels: Vec<(String, Vec<String>)> =
                        v.channels.keys().map(|c| (c.clone(), Vec::new())).collect();
                    for e in v.endpoints.values() {
                        if let Some((_, eps)) = channels
                            .iter_mut()
                            .find(|(c, _)| *c == e.endpoint.channel_id)
                        {
                            eps.push(e.endpoint.id.clone());
                        }
                    }
                    channels
                })
                .unwrap_or_default(),
            egress: origin.traffic().egress_totals(),
            ingress: origin.traffic().ingress_totals(),
        };
        let observation = observer.observe(now, &flow_views, &channel_views, &traffic);
        apply(&hub, now, observation, log.as_ref());
    }
}

/// Writes an observation into the hub; events also go to `log`.
pub fn apply(
    hub: &Hub,
    now: Timestamp,
    observation: Observation,
    log: &(dyn Fn(&Happening, Timestamp) + Send + Sync),
) {
    // The datapoint of the second that just ended.
    let at = now.minus_secs(1).floor_to(1);
    for p in &observation.points {
        if let Ok(set) = StatisticSet::value(p.value) {
            if let Err(e) = hub.put(now, &p.id, at, set) {
                tracing::debug!("metric {} not stored: {e}", p.id.metric_name());
            }
            hub.set_unit(&p.id, p.unit);
        }
    }
    if observation.happenings.is_empty() && observation.alerts.is_empty() {
        return;
    }
    hub.with_feed_mut(|feed| {
        for a in &observation.alerts {
            match &a.set {
                Some(message) => {
                    feed.set_alert(now, &a.channel_id, "0", a.alert_type, message.clone());
                }
                None => {
                    feed.clear_alert(now, &a.channel_id, "0", a.alert_type);
                }
            }
        }
        for h in &observation.happenings {
            feed.post(
                now,
                h.service,
                &h.resource,
                &h.name,
                h.severity,
                h.message.clone(),
            );
        }
    });
    for h in &observation.happenings {
        log(h, now);
    }
}

/// The wall clock as a monitor timestamp.
pub fn wall_clock() -> Timestamp {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Timestamp::from_unix_millis(u64::try_from(millis).unwrap_or(0))
}
