//! `StateReason`, `StateReasonData` and alarm history, written the way
//! CloudWatch writes them, e.g. (DescribeAlarms / DescribeAlarmHistory):
//!
//! ```text
//! Threshold Crossed: 1 out of the last 1 datapoints [0.0 (29/11/26 10:20:00)] was less than the threshold (100.0) (minimum 1 datapoint for OK -> ALARM transition).
//! {"version":"1.0","queryDate":"2026-11-29T10:21:00.000+0000","startDate":"2026-11-29T10:20:00.000+0000","statistic":"Average","period":60,"recentDatapoints":[0.0],"threshold":100.0,"evaluatedDatapoints":[{"timestamp":"2026-11-29T10:20:00.000+0000","sampleCount":5.0,"value":0.0}]}
//! ```
//!
//! Numbers follow Java's `Double.toString` (`100.0`, `1.0E7`) as AWS prints
//! them; dates in the reason are `dd/MM/yy HH:mm:ss` UTC.

use serde::Serialize;

use super::definition::{AlarmDefinition, TreatMissingData};
use super::evaluate::{Datapoint, Decision};
use super::statistics::MetricStatistic;
use super::AlarmState;
use crate::Timestamp;

/// The reason of a new alarm, before its first evaluation.
pub(crate) const INITIAL_REASON: &str = "Unchecked: Initial alarm creation";

/// `value` as Java's `Double.toString` prints it.
pub fn java_double(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        // Rust's shortest round-trip form, with ".0" on whole numbers.
        return format!("{value:?}");
    }
    let sci = format!("{value:e}"); // e.g. "1.5e7", "1e-5"
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    if mantissa.contains('.') {
        format!("{mantissa}E{exponent}")
    } else {
        format!("{mantissa}.0E{exponent}")
    }
}

fn plural(count: u32, one: &'static str, many: &'static str) -> &'static str {
    if count == 1 {
        one
    } else {
        many
    }
}

fn listing(points: &[Datapoint]) -> String {
    points
        .iter()
        .map(|d| {
            format!(
                "{} ({})",
                java_double(d.value),
                d.timestamp.to_aws_reason_date()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Datapoints needed for a transition: M for `OK -> ALARM`, N - M + 1 for
/// `ALARM -> OK` (the fewest good datapoints that leave fewer than M bad).
fn minimum(def: &AlarmDefinition, to_alarm: bool) -> u32 {
    let m = def.datapoints_to_alarm();
    if to_alarm {
        m
    } else {
        def.evaluation_periods.saturating_sub(m) + 1
    }
}

/// The real datapoints that support `to` (breaching for ALARM, not breaching
/// for OK), most recent first.
fn supporting(def: &AlarmDefinition, decision: &Decision, to_alarm: bool) -> Vec<Datapoint> {
    let op = def.comparison_operator;
    decision
        .evaluated
        .iter()
        .copied()
        .filter(|d| op.breaches(d.value, def.threshold) == to_alarm)
        .collect()
}

/// The reason for a state reached by evaluation. Shapes, as CloudWatch
/// writes them:
///
/// * `Insufficient Data: 1 datapoint was unknown.`
/// * `Threshold Crossed: no datapoints were received for 1 period and 1
///   missing datapoint was treated as [Breaching].`
/// * with `DatapointsToAlarm` set: `Threshold Crossed: 2 out of the last 3
///   datapoints [5.0 (29/11/26 10:29:00), …] were greater than the threshold
///   (1.0) (minimum 2 datapoints for OK -> ALARM transition).` The
///   transition is always written `OK -> ALARM` or `ALARM -> OK`, whatever
///   the previous state;
/// * without it: `Threshold Crossed: 1 datapoint [3.0 (26/10/24 18:59:00)]
///   was greater than or equal to the threshold (1.0).`
///
/// Filled-in datapoints add ` and 1 missing datapoint was treated as
/// [Breaching]` after the threshold.
pub(crate) fn evaluation_reason(
    def: &AlarmDefinition,
    decision: &Decision,
    to: AlarmState,
) -> String {
    let f = decision.filled;
    if to == AlarmState::InsufficientData {
        return format!(
            "Insufficient Data: {f} {} {} unknown.",
            plural(f, "datapoint", "datapoints"),
            plural(f, "was", "were")
        );
    }
    let label = match def.treat_missing_data {
        TreatMissingData::Breaching => Some("Breaching"),
        TreatMissingData::NotBreaching => Some("NonBreaching"),
        TreatMissingData::Missing | TreatMissingData::Ignore => None,
    };
    let fills = match label {
        Some(label) if f > 0 => format!(
            " and {f} missing {} {} treated as [{label}]",
            plural(f, "datapoint", "datapoints"),
            plural(f, "was", "were")
        ),
        _ => String::new(),
    };
    if decision.evaluated.is_empty() {
        return format!(
            "Threshold Crossed: no datapoints were received for {f} {}{fills}.",
            plural(f, "period", "periods"),
        );
    }
    let to_alarm = to == AlarmState::Alarm;
    let matching = supporting(def, decision, to_alarm);
    let count = matching.len() as u32;
    let crossed = format!(
        "[{}] {} {}{} the threshold ({}){fills}",
        listing(&matching),
        plural(count, "was", "were"),
        if to_alarm { "" } else { "not " },
        def.comparison_operator.phrase(),
        java_double(def.threshold),
    );
    if def.datapoints_to_alarm.is_none() {
        return format!(
            "Threshold Crossed: {count} {} {crossed}.",
            plural(count, "datapoint", "datapoints")
        );
    }
    let minimum = minimum(def, to_alarm);
    format!(
        "Threshold Crossed: {count} out of the last {} datapoints {crossed} (minimum {minimum} {} for {}).",
        def.evaluation_periods,
        plural(minimum, "datapoint", "datapoints"),
        if to_alarm { "OK -> ALARM transition" } else { "ALARM -> OK transition" },
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReasonData<'a> {
    version: &'static str,
    query_date: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statistic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extended_statistic: Option<&'a str>,
    period: u32,
    recent_datapoints: Vec<f64>,
    threshold: f64,
    evaluated_datapoints: Vec<EvaluatedDatapoint>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EvaluatedDatapoint {
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sample_count: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
}

/// The `StateReasonData` JSON document of an evaluation at `query_date`
/// that reached `to`. As CloudWatch writes it: `recentDatapoints` are the
/// evaluated values oldest first and `startDate` the oldest one's period;
/// `evaluatedDatapoints` are, most recent first, the datapoints the
/// transition needed (M breaching, or N - M + 1 good), or the unknown
/// periods (timestamp only) when no datapoint was received.
pub(crate) fn reason_data(
    def: &AlarmDefinition,
    query_date: Timestamp,
    decision: &Decision,
    to: AlarmState,
) -> String {
    let (statistic, extended_statistic) = match &def.statistic {
        MetricStatistic::Statistic(s) => (Some(s.as_str()), None),
        MetricStatistic::ExtendedStatistic(p) => (None, Some(p.as_str())),
    };
    let evaluated_datapoints = if decision.evaluated.is_empty() {
        (1..=u64::from(decision.filled))
            .map(|age| EvaluatedDatapoint {
                timestamp: query_date
                    .minus_secs(u64::from(def.period) * age)
                    .to_aws_iso(),
                sample_count: None,
                value: None,
            })
            .collect()
    } else {
        let to_alarm = to == AlarmState::Alarm;
        supporting(def, decision, to_alarm)
            .into_iter()
            .take(minimum(def, to_alarm) as usize)
            .map(|d| EvaluatedDatapoint {
                timestamp: d.timestamp.to_aws_iso(),
                sample_count: Some(d.sample_count as f64),
                value: Some(d.value),
            })
            .collect()
    };
    let data = ReasonData {
        version: "1.0",
        query_date: query_date.to_aws_iso(),
        start_date: decision.evaluated.last().map(|d| d.timestamp.to_aws_iso()),
        statistic,
        extended_statistic,
        period: def.period,
        recent_datapoints: decision.evaluated.iter().rev().map(|d| d.value).collect(),
        threshold: def.threshold,
        evaluated_datapoints,
    };
    serde_json::to_string(&data).unwrap_or_default()
}

/// One `DescribeAlarmHistory` item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryItem {
    pub timestamp: Timestamp,
    pub alarm_name: String,
    /// Always `StateUpdate` here.
    pub history_item_type: &'static str,
    /// `Alarm updated from OK to ALARM`.
    pub history_summary: String,
    /// JSON: `{"version":"1.0","oldState":{…},"newState":{…}}`.
    pub history_data: String,
}

fn state_json(state: AlarmState, reason: &str, data: Option<&str>) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    let data = data
        .map(|d| format!(",\"stateReasonData\":{d}"))
        .unwrap_or_default();
    format!(
        "{{\"stateValue\":{},\"stateReason\":{}{data}}}",
        quote(state.as_str()),
        quote(reason)
    )
}

/// The history item of a state change. `new_data` must be a JSON document.
pub(crate) fn state_update(
    alarm_name: &str,
    at: Timestamp,
    old: (AlarmState, &str),
    new: (AlarmState, &str, Option<&str>),
) -> HistoryItem {
    HistoryItem {
        timestamp: at,
        alarm_name: alarm_name.to_owned(),
        history_item_type: "StateUpdate",
        history_summary: format!(
            "Alarm updated from {} to {}",
            old.0.as_str(),
            new.0.as_str()
        ),
        history_data: format!(
            "{{\"version\":\"1.0\",\"oldState\":{},\"newState\":{}}}",
            state_json(old.0, old.1, None),
            state_json(new.0, new.1, new.2)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_doubles() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(100.0), "100.0");
        assert_eq!(java_double(32.6), "32.6");
        assert_eq!(java_double(-2.5), "-2.5");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1.5e7), "1.5E7");
        assert_eq!(java_double(1e-4), "1.0E-4");
        assert_eq!(java_double(f64::NAN), "NaN");
        assert_eq!(java_double(f64::NEG_INFINITY), "-Infinity");
    }
}
