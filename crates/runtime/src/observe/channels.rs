//! `AWS/MediaLive` metrics, alerts and channel events.

use std::collections::{BTreeSet, HashMap};

use control::reports::{ChannelCounters, ChannelReport};
use monitor::hub::feed::Severity;

use super::{delta, metric, AlertChange, ChannelView, Happening, Observation};

const NS: &str = "AWS/MediaLive";

/// What the observer remembers of a channel between looks.
#[derive(Default)]
pub(super) struct Seen {
    name: String,
    report: Option<ChannelReport>,
    /// The rates last computed, published again while the engine's report
    /// has not been renewed.
    rates: Vec<(&'static str, f64, &'static str)>,
    /// Alerts set now, by type.
    alerts: BTreeSet<&'static str>,
}

/// The alerts a report calls for, with their messages.
fn wanted_alerts(
    report: &ChannelReport,
    before: Option<&ChannelCounters>,
) -> Vec<(&'static str, String)> {
    let mut alerts = Vec::new();
    let primary = report.inputs.first();
    if report.input_loss {
        alerts.push((
            "Input Loss",
            format!(
                "No usable input on {}: the channel is filling its output (inputLossBehavior)",
                report.active_input
            ),
        ));
    }
    if let Some(p) = primary {
        if report.inputs.len() > 1 && report.active_input != p.name {
            alerts.push((
                "Input Failover",
                format!(
                    "Automatic input failover: the channel is on {} because {} failed",
                    report.active_input, p.name
                ),
            ));
        }
    }
    for input in &report.inputs {
        if input.name == report.active_input && input.black {
            alerts.push(("Video Black", format!("Input {} is black", input.name)));
        }
        if input.name == report.active_input && input.silent {
            alerts.push(("Audio Silence", format!("Input {} is silent", input.name)));
        }
    }
    let c = &report.counters;
    let errors = delta(c.http_4xx, before.map(|b| b.http_4xx))
        + delta(c.http_5xx, before.map(|b| b.http_5xx));
    if errors > 0 {
        alerts.push((
            "Output Delivery Failed",
            format!(
                "{errors} HLS PUTs failed in the last second (4xx: {}, 5xx: {})",
                c.http_4xx, c.http_5xx
            ),
        ));
    }
    alerts
}

/// Datagrams the channel's inputs refused (their security groups), in all.
fn refused(report: &ChannelReport) -> u64 {
    report.inputs.iter().map(|i| i.refused).sum()
}

pub(super) fn observe(
    seen: &mut HashMap<String, Seen>,
    channels: &[ChannelView<'_>],
    elapsed: f64,
    out: &mut Observation,
) {
    // Channels that stopped: their alerts are cleared.
    let gone: Vec<String> = seen
        .keys()
        .filter(|id| !channels.iter().any(|c| c.record.id == **id))
        .cloned()
        .collect();
    for id in gone {
        if let Some(s) = seen.remove(&id) {
            out.happenings.push(Happening {
                service: "medialive",
                resource: id.clone(),
                name: s.name.clone(),
                severity: Severity::Info,
                message: "channel stopped".to_owned(),
            });
            for alert_type in s.alerts {
                out.alerts.push(AlertChange {
                    channel_id: id.clone(),
                    alert_type,
                    set: None,
                });
            }
        }
    }
    for c in channels {
        let id = c.record.id.as_str();
        let name = c
            .record
            .settings
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or(id)
            .to_owned();
        if !seen.contains_key(id) {
            out.happenings.push(Happening {
                service: "medialive",
                resource: id.to_owned(),
                name: name.clone(),
                severity: Severity::Info,
                message: "channel running".to_owned(),
            });
        }
        let state = seen.entry(id.to_owned()).or_default();
        state.name = name.clone();
        let report = c.report;
        let before = state
            .report
            .as_ref()
            .filter(|b| b.engine_restarts == report.engine_restarts);
        let bc = before.map(|b| &b.counters);
        let now = &report.counters;
        let d = |f: fn(&ChannelCounters) -> u64| delta(f(now), bc.map(f)) as f64;

        // Alerts.
        let wanted = wanted_alerts(report, bc);
        let wanted_types: BTreeSet<&'static str> = wanted.iter().map(|(t, _)| *t).collect();
        for (alert_type, message) in &wanted {
            if state.alerts.insert(alert_type) {
                out.alerts.push(AlertChange {
                    channel_id: id.to_owned(),
                    alert_type,
                    set: Some(message.clone()),
                });
                out.happenings.push(Happening {
                    service: "medialive",
                    resource: id.to_owned(),
                    name: name.clone(),
                    severity: Severity::Warning,
                    message: format!("alert set: {alert_type}: {message}"),
                });
            }
        }
        let cleared: Vec<&'static str> = state.alerts.difference(&wanted_types).copied().collect();
        for alert_type in cleared {
            state.alerts.remove(alert_type);
            out.alerts.push(AlertChange {
                channel_id: id.to_owned(),
                alert_type,
                set: None,
            });
            out.happenings.push(Happening {
                service: "medialive",
                resource: id.to_owned(),
                name: name.clone(),
                severity: Severity::Info,
                message: format!("alert cleared: {alert_type}"),
            });
        }

        // Events.
        if let Some(b) = state.report.as_ref() {
            if b.active_input != report.active_input && !b.active_input.is_empty() {
                out.happenings.push(Happening {
                    service: "medialive",
                    resource: id.to_owned(),
                    name: name.clone(),
                    severity: Severity::Warning,
                    message: format!("input switched: {} is on air", report.active_input),
                });
            }
            for input in &report.inputs {
                let was = b.inputs.iter().find(|i| i.name == input.name);
                if input.refused > 0 && was.is_some_and(|w| w.refused == 0) {
                    out.happenings.push(Happening {
                        service: "medialive",
                        resource: id.to_owned(),
                        name: name.clone(),
                        severity: Severity::Warning,
                        message: format!(
                            "input {}: refusing datagrams from senders outside its input security groups",
                            input.name
                        ),
                    });
                }
            }
            if report.engine_restarts > b.engine_restarts {
                out.happenings.push(Happening {
                    service: "medialive",
                    resource: id.to_owned(),
                    name: name.clone(),
                    severity: Severity::Error,
                    message: format!(
                        "engine restarted ({} restarts so far)",
                        report.engine_restarts
                    ),
                });
            }
        }

        // Metrics. Rates are over the report's own clock; a report not
        // renewed since the last look repeats the last rates.
        let renewed = bc.is_none_or(|b| b.sampled_ms != now.sampled_ms);
        let elapsed = match bc {
            Some(b) if now.sampled_ms > b.sampled_ms => {
                (now.sampled_ms - b.sampled_ms) as f64 / 1000.0
            }
            _ => elapsed,
        };
        let (num, den) = now.frame_rate;
        let fps = if den > 0 {
            f64::from(num) / f64::from(den)
        } else {
            0.0
        };
        let decoded = d(|c| c.decoded_frames);
        let fill = d(|c| c.fill_frames);
        let busy = d(|c| c.busy_nanos) / 1e9;
        let primary_active = report
            .inputs
            .first()
            .is_some_and(|p| p.name == report.active_input);
        if renewed {
            state.rates = vec![
                ("InputVideoFrameRate", decoded / elapsed, "Count/Second"),
                (
                    "NetworkIn",
                    d(|c| c.input_bytes) * 8.0 / 1e6 / elapsed,
                    "Megabits/Second",
                ),
                (
                    "NetworkOut",
                    d(|c| c.output_bytes) * 8.0 / 1e6 / elapsed,
                    "Megabits/Second",
                ),
            ];
            if busy > 0.0 && fps > 0.0 {
                state
                    .rates
                    .push(("EncoderSpeed", (decoded + fill) / fps / busy, "None"));
            }
        }
        let mut rows: Vec<(&str, f64, &'static str)> = state.rates.clone();
        rows.extend([
            ("DroppedFrames", d(|c| c.dropped_frames), "Count"),
            (
                "FillMsec",
                if fps > 0.0 { fill * 1000.0 / fps } else { 0.0 },
                "Milliseconds",
            ),
            (
                "InputLossSeconds",
                if report.input_loss { 1.0 } else { 0.0 },
                "Seconds",
            ),
            ("ActiveAlerts", state.alerts.len() as f64, "Count"),
            ("ActiveOutputs", f64::from(now.outputs), "Count"),
            ("Output4xxErrors", d(|c| c.http_4xx), "Count"),
            ("Output5xxErrors", d(|c| c.http_5xx), "Count"),
            (
                "RefusedInputDatagrams",
                delta(refused(report), before.map(refused)) as f64,
                "Count",
            ),
        ]);
        if report.inputs.len() > 1 {
            rows.push((
                "PrimaryInputActive",
                if primary_active { 1.0 } else { 0.0 },
                "None",
            ));
        }
        for (metric_name, value, unit) in rows {
            out.point(
                metric(NS, metric_name, &[("ChannelId", id), ("Pipeline", "0")]),
                value,
                unit,
            );
            out.point(metric(NS, metric_name, &[("ChannelId", id)]), value, unit);
        }
        state.report = Some(report.clone());
    }
}
