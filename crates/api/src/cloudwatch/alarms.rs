//! The alarm operations: PutMetricAlarm, DescribeAlarms,
//! DescribeAlarmsForMetric, DescribeAlarmHistory, DeleteAlarms,
//! SetAlarmState, Enable/DisableAlarmActions and the tag operations.

use monitor::hub::alarms::{AlarmExtras, AlarmView};
use monitor::{
    AlarmDefinition, AlarmState, ComparisonOperator, Identity, MonitorError, TreatMissingData,
};
use serde_json::{json, Value};

use super::metrics::{check_unit, page_of, page_start, statistic};
use super::{
    combination, dimensions_json, epoch, invalid, missing, not_found, now, validation, Members,
};
use crate::{set_member, ApiError, ApiRequest, AppState};

/// DescribeAlarms pages: 50 by default, at most 100.
const DEFAULT_RECORDS: usize = 50;
const MAX_RECORDS: usize = 100;
/// The most tags an alarm holds.
const MAX_TAGS: usize = 50;
/// StateReason and StateReasonData of SetAlarmState: at most this many characters.
const MAX_STATE_REASON: usize = 1023;
const MAX_STATE_REASON_DATA: usize = 4000;

/// Alarm actions onair can run: SNS topics. Others are refused by name.
fn check_actions(member: &str, actions: &[String]) -> Result<(), ApiError> {
    if actions.len() > 5 {
        return Err(validation(format!("{member}: at most 5 actions")));
    }
    for a in actions {
        if !a.starts_with("arn:aws:sns:") {
            return Err(validation(format!(
                "{member}: '{a}' is not an SNS topic ARN; onair runs SNS notification actions only"
            )));
        }
    }
    Ok(())
}

fn monitor_error(e: MonitorError) -> ApiError {
    match e {
        MonitorError::Invalid { .. } => validation(e.to_string()),
        other => super::from_monitor(other),
    }
}

fn tag_list(member: &str, tags: &[Value]) -> Result<Vec<(String, String)>, ApiError> {
    tags.iter()
        .zip(1usize..)
        .map(|(t, n)| {
            let key = t.get("Key").and_then(Value::as_str);
            let value = t.get("Value").and_then(Value::as_str);
            match (key, value) {
                (Some(k), Some(v)) if !k.is_empty() && k.len() <= 128 && v.len() <= 256 => {
                    Ok((k.to_owned(), v.to_owned()))
                }
                (Some(_), Some(_)) => Err(invalid(format!(
                    "{member}.member.{n}: keys are 1 to 128 characters, values at most 256"
                ))),
                (None, _) => Err(missing(&format!("{member}.member.{n}.Key"))),
                (_, None) => Err(missing(&format!("{member}.member.{n}.Value"))),
            }
        })
        .collect()
}

/// `PutMetricAlarm`.
pub(super) fn put_metric_alarm(
    state: &AppState,
    req: &ApiRequest,
    body: &Value,
) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    for unsupported in [
        "Metrics",
        "ThresholdMetricId",
        "EvaluationCriteria",
        "EvaluationWindow",
        "WarmUpConfiguration",
        "ActionConfiguration",
    ] {
        let given = m.get(unsupported).is_some_and(|v| match v {
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        });
        if given {
            return Err(validation(format!(
                "{unsupported}: onair evaluates single-metric alarms only (MetricName, Namespace, Dimensions, Statistic); metric math and anomaly-detection alarms are not supported"
            )));
        }
    }
    let name = m.req_str("AlarmName")?;
    let namespace = m.str("Namespace")?.ok_or_else(|| missing("Namespace"))?;
    let metric_name = m.str("MetricName")?.ok_or_else(|| missing("MetricName"))?;
    let statistic = match (m.str("Statistic")?, m.str("ExtendedStatistic")?) {
        (Some(_), Some(_)) => {
            return Err(combination(
                "Statistic and ExtendedStatistic: give one, not both",
            ))
        }
        (None, None) => {
            return Err(missing("Statistic"));
        }
        (Some(s), None) => {
            let st = statistic("Statistic", s)?;
            if matches!(st, monitor::MetricStatistic::ExtendedStatistic(_)) {
                return Err(validation(format!(
                    "Statistic: '{s}' is a percentile; give it as ExtendedStatistic"
                )));
            }
            st
        }
        (None, Some(p)) => statistic("ExtendedStatistic", p)?,
    };
    let period = m.u32("Period")?.ok_or_else(|| missing("Period"))?;
    let evaluation_periods = m
        .u32("EvaluationPeriods")?
        .ok_or_else(|| missing("EvaluationPeriods"))?;
    let threshold = m.f64("Threshold")?.ok_or_else(|| missing("Threshold"))?;
    let operator: ComparisonOperator = m
        .req_str("ComparisonOperator")?
        .parse()
        .map_err(monitor_error)?;
    let mut def = AlarmDefinition::new(
        name,
        namespace,
        metric_name,
        statistic,
        period,
        evaluation_periods,
        threshold,
        operator,
    );
    def.dimensions = m.dimensions("Dimensions")?;
    def.datapoints_to_alarm = m.u32("DatapointsToAlarm")?;
    if let Some(t) = m.str("TreatMissingData")? {
        def.treat_missing_data = t.parse::<TreatMissingData>().map_err(monitor_error)?;
    }
    def.actions_enabled = m.bool("ActionsEnabled")?.unwrap_or(true);
    def.alarm_actions = m.strings("AlarmActions")?;
    def.ok_actions = m.strings("OKActions")?;
    def.insufficient_data_actions = m.strings("InsufficientDataActions")?;
    check_actions("AlarmActions", &def.alarm_actions)?;
    check_actions("OKActions", &def.ok_actions)?;
    check_actions("InsufficientDataActions", &def.insufficient_data_actions)?;
    let unit = m.str("Unit")?;
    check_unit("Unit", unit)?;
    let description = m.str("AlarmDescription")?;
    if description.is_some_and(|d| d.chars().count() > 1024) {
        return Err(validation("AlarmDescription: at most 1024 characters"));
    }
    let low_sample = m.str("EvaluateLowSampleCountPercentile")?;
    if let Some(l) = low_sample {
        if l != "evaluate" && l != "ignore" {
            return Err(validation(
                "EvaluateLowSampleCountPercentile: must be 'evaluate' or 'ignore'",
            ));
        }
    }
    let tags = tag_list("Tags", m.list("Tags")?)?;
    // Checked here, before the alarms' lock is taken (the book checks it again).
    def.validate().map_err(monitor_error)?;
    let identity = Identity {
        account_id: state.cp.settings.account_id.clone(),
        region: req.region.clone(),
    };
    let now = now();
    state
        .monitor
        .with_alarms_mut(|book, _| {
            // Tags given on an update are ignored, as CloudWatch ignores them.
            let tags = book.get(name).map_or(tags, |a| a.extras.tags);
            let extras = AlarmExtras {
                description: description.map(str::to_owned),
                unit: unit.map(str::to_owned),
                evaluate_low_sample_count_percentile: low_sample.map(str::to_owned),
                tags,
            };
            book.put(now, &identity, def, extras)
        })
        .map_err(monitor_error)?;
    Ok(json!({}))
}

/// A `MetricAlarm` as DescribeAlarms writes it.
fn alarm_json(a: &AlarmView) -> Value {
    let d = &a.definition;
    let mut v = json!({
        "AlarmName": d.alarm_name,
        "AlarmArn": a.arn,
        "AlarmConfigurationUpdatedTimestamp": epoch(a.configuration_updated),
        "ActionsEnabled": d.actions_enabled,
        "OKActions": d.ok_actions,
        "AlarmActions": d.alarm_actions,
        "InsufficientDataActions": d.insufficient_data_actions,
        "StateValue": a.state.as_str(),
        "StateReason": a.state_reason,
        "StateUpdatedTimestamp": epoch(a.state_updated),
        "StateTransitionedTimestamp": epoch(a.state_transitioned),
        "MetricName": d.metric_name,
        "Namespace": d.namespace,
        "Dimensions": dimensions_json(&d.dimensions),
        "Period": d.period,
        "EvaluationPeriods": d.evaluation_periods,
        "Threshold": d.threshold,
        "ComparisonOperator": d.comparison_operator.as_str(),
        "TreatMissingData": d.treat_missing_data.as_str(),
    });
    match &d.statistic {
        monitor::MetricStatistic::Statistic(s) => {
            set_member(&mut v, "Statistic", json!(s.as_str()))
        }
        monitor::MetricStatistic::ExtendedStatistic(p) => {
            set_member(&mut v, "ExtendedStatistic", json!(p.as_str()))
        }
    }
    if let Some(m) = d.datapoints_to_alarm {
        set_member(&mut v, "DatapointsToAlarm", json!(m));
    }
    if let Some(desc) = &a.extras.description {
        set_member(&mut v, "AlarmDescription", json!(desc));
    }
    if let Some(unit) = &a.extras.unit {
        set_member(&mut v, "Unit", json!(unit));
    }
    if let Some(l) = &a.extras.evaluate_low_sample_count_percentile {
        set_member(&mut v, "EvaluateLowSampleCountPercentile", json!(l));
    }
    if let Some(data) = &a.state_reason_data {
        set_member(&mut v, "StateReasonData", json!(data));
    }
    v
}

fn records(m: &Members<'_>) -> Result<usize, ApiError> {
    match m.u32("MaxRecords")? {
        None => Ok(DEFAULT_RECORDS),
        Some(n) if (1..=MAX_RECORDS as u32).contains(&n) => Ok(n as usize),
        Some(n) => Err(invalid(format!(
            "MaxRecords: {n} is not between 1 and {MAX_RECORDS}"
        ))),
    }
}

/// `DescribeAlarms`.
pub(super) fn describe_alarms(state: &AppState, body: &Value) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    let names = m.strings("AlarmNames")?;
    let prefix = m.str("AlarmNamePrefix")?;
    if !names.is_empty() && prefix.is_some() {
        return Err(combination(
            "AlarmNames and AlarmNamePrefix: give one, not both",
        ));
    }
    if names.len() > 100 {
        return Err(invalid("AlarmNames: at most 100 names"));
    }
    let state_value = match m.str("StateValue")? {
        None => None,
        Some(s) => Some(
            s.parse::<AlarmState>()
                .map_err(|e| invalid(e.to_string()))?,
        ),
    };
    let action_prefix = m.str("ActionPrefix")?;
    let types = m.strings("AlarmTypes")?;
    for t in &types {
        if !matches!(t.as_str(), "MetricAlarm" | "CompositeAlarm" | "LogAlarm") {
            return Err(invalid(format!(
                "AlarmTypes: '{t}' is not MetricAlarm, CompositeAlarm or LogAlarm"
            )));
        }
    }
    if m.get("ChildrenOfAlarmName").is_some() || m.get("ParentsOfAlarmName").is_some() {
        return Err(invalid(
            "ChildrenOfAlarmName / ParentsOfAlarmName: onair has no composite alarms",
        ));
    }
    let metric_alarms = types.is_empty() || types.iter().any(|t| t == "MetricAlarm");
    let max = records(&m)?;
    let skip = page_start(m.str("NextToken")?)?;
    let alarms: Vec<AlarmView> = if metric_alarms {
        state.monitor.with_alarms(|book| book.all())
    } else {
        Vec::new()
    };
    let matching: Vec<&AlarmView> = alarms
        .iter()
        .filter(|a| names.is_empty() || names.contains(&a.definition.alarm_name))
        .filter(|a| prefix.is_none_or(|p| a.definition.alarm_name.starts_with(p)))
        .filter(|a| state_value.is_none_or(|s| a.state == s))
        .filter(|a| {
            action_prefix.is_none_or(|p| {
                let d = &a.definition;
                d.alarm_actions
                    .iter()
                    .chain(&d.ok_actions)
                    .chain(&d.insufficient_data_actions)
                    .any(|x| x.starts_with(p))
            })
        })
        .collect();
    let (page, next) = page_of(&matching, skip, max);
    let page: Vec<Value> = page.iter().map(|a| alarm_json(a)).collect();
    let mut out = json!({ "MetricAlarms": page, "CompositeAlarms": [] });
    if let Some(next) = next {
        set_member(&mut out, "NextToken", json!(next));
    }
    Ok(out)
}

/// `DescribeAlarmsForMetric`.
pub(super) fn describe_alarms_for_metric(
    state: &AppState,
    body: &Value,
) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    let namespace = m.req_str("Namespace")?;
    let name = m.req_str("MetricName")?;
    let mut dims = m.dimensions("Dimensions")?;
    dims.sort();
    let stat = m.str("Statistic")?;
    let ext = m.str("ExtendedStatistic")?;
    let period = m.u32("Period")?;
    let unit = m.str("Unit")?;
    let alarms = state.monitor.with_alarms(|book| book.all());
    let page: Vec<Value> = alarms
        .iter()
        .filter(|a| {
            let d = &a.definition;
            let mut ad = d.dimensions.clone();
            ad.sort();
            d.namespace == namespace
                && d.metric_name == name
                && (m.get("Dimensions").is_none() || ad == dims)
                && stat.is_none_or(|s| d.statistic.name() == s)
                && ext.is_none_or(|s| d.statistic.name() == s)
                && period.is_none_or(|p| d.period == p)
                && unit.is_none_or(|u| a.extras.unit.as_deref() == Some(u))
        })
        .map(alarm_json)
        .collect();
    Ok(json!({ "MetricAlarms": page }))
}

/// `DescribeAlarmHistory`.
pub(super) fn describe_alarm_history(state: &AppState, body: &Value) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    let name = m.str("AlarmName")?;
    let item_type = m.str("HistoryItemType")?;
    if let Some(t) = item_type {
        if !matches!(
            t,
            "ConfigurationUpdate"
                | "StateUpdate"
                | "Action"
                | "AlarmContributorStateUpdate"
                | "AlarmContributorAction"
        ) {
            return Err(invalid(format!(
                "HistoryItemType: '{t}' is not a history item type"
            )));
        }
    }
    let start = m.timestamp("StartDate")?;
    let end = m.timestamp("EndDate")?;
    let ascending = match m.str("ScanBy")? {
        None | Some("TimestampDescending") => false,
        Some("TimestampAscending") => true,
        Some(other) => {
            return Err(invalid(format!(
                "ScanBy: '{other}' is not TimestampDescending or TimestampAscending"
            )))
        }
    };
    let types = m.strings("AlarmTypes")?;
    let max = match m.u32("MaxRecords")? {
        None => 100,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(n) => return Err(invalid(format!("MaxRecords: {n} is not between 1 and 100"))),
    };
    let skip = page_start(m.str("NextToken")?)?;
    let mut items = if types.is_empty() || types.iter().any(|t| t == "MetricAlarm") {
        state
            .monitor
            .with_alarms(|book| book.history(name, item_type, start, end))
    } else {
        Vec::new()
    };
    if ascending {
        items.reverse();
    }
    let (page, next) = page_of(&items, skip, max);
    let page: Vec<Value> = page
        .iter()
        .map(|h| {
            json!({
                "AlarmName": h.alarm_name,
                "AlarmType": "MetricAlarm",
                "Timestamp": epoch(h.timestamp),
                "HistoryItemType": h.history_item_type,
                "HistorySummary": h.history_summary,
                "HistoryData": h.history_data,
            })
        })
        .collect();
    let mut out = json!({ "AlarmHistoryItems": page });
    if let Some(next) = next {
        set_member(&mut out, "NextToken", json!(next));
    }
    Ok(out)
}

/// `DeleteAlarms`: all or nothing.
pub(super) fn delete_alarms(state: &AppState, body: &Value) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    let names = m.strings("AlarmNames")?;
    if names.is_empty() {
        return Err(missing("AlarmNames"));
    }
    if names.len() > 100 {
        return Err(invalid("AlarmNames: at most 100 names"));
    }
    let mut missing_name = None;
    let result = state.monitor.with_alarms_mut(|book, _| {
        book.delete(&names).map_err(|name| {
            missing_name = Some(name);
            MonitorError::invalid_member("AlarmNames", "not found")
        })
    });
    match (result, missing_name) {
        (Ok(()), _) => Ok(json!({})),
        (Err(_), Some(name)) => Err(not_found(format!(
            "An alarm named '{name}' does not exist."
        ))),
        (Err(e), None) => Err(monitor_error(e)),
    }
}

/// `SetAlarmState`.
pub(super) fn set_alarm_state(state: &AppState, body: &Value) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    let name = m.req_str("AlarmName")?;
    let value: AlarmState = m
        .req_str("StateValue")?
        .parse()
        .map_err(|e: MonitorError| invalid(e.to_string()))?;
    let reason = m.req_str("StateReason")?;
    let data = m.str("StateReasonData")?;
    // The lengths the alarm checks too, checked before its lock is taken.
    if reason.chars().count() > MAX_STATE_REASON {
        return Err(monitor_error(MonitorError::invalid_member(
            "StateReason",
            format!("must be at most {MAX_STATE_REASON} characters"),
        )));
    }
    if data.is_some_and(|d| d.chars().count() > MAX_STATE_REASON_DATA) {
        return Err(monitor_error(MonitorError::invalid_member(
            "StateReasonData",
            format!("must be at most {MAX_STATE_REASON_DATA} characters"),
        )));
    }
    if let Some(d) = data {
        if serde_json::from_str::<Value>(d).is_err() {
            return Err(super::ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "InvalidFormat",
                "StateReasonData: must be a JSON document",
            ));
        }
    }
    let now = now();
    let mut found = true;
    let result = state.monitor.with_alarms_mut(|book, _| {
        match book.set_state(now, name, value, reason, data) {
            Ok(t) => Ok(t),
            Err(None) => {
                found = false;
                Err(MonitorError::invalid_member("AlarmName", "not found"))
            }
            Err(Some(e)) => Err(e),
        }
    });
    match result {
        Ok(Some(transition)) => {
            state.monitor.queue_transition(transition);
            Ok(json!({}))
        }
        Ok(None) => Ok(json!({})),
        Err(_) if !found => Err(not_found(format!(
            "An alarm named '{name}' does not exist."
        ))),
        Err(e) => Err(monitor_error(e)),
    }
}

/// `EnableAlarmActions` / `DisableAlarmActions`.
pub(super) fn set_actions(
    state: &AppState,
    body: &Value,
    enabled: bool,
) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    let names = m.strings("AlarmNames")?;
    if names.is_empty() {
        return Err(missing("AlarmNames"));
    }
    state
        .monitor
        .with_alarms_mut(|book, _| {
            book.set_actions_enabled(&names, enabled);
            Ok(())
        })
        .map_err(monitor_error)?;
    Ok(json!({}))
}

/// The alarm an ARN names, for the tag operations.
fn alarm_of_arn(arn: &str) -> Result<&str, ApiError> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    match parts.as_slice() {
        ["arn", _, "cloudwatch", _, _, "alarm", name] if !name.is_empty() => Ok(name),
        _ => Err(invalid(format!(
            "ResourceARN: '{arn}' is not a CloudWatch alarm ARN (arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME)"
        ))),
    }
}

fn tag_not_found(arn: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        format!("No alarm exists for ResourceARN {arn}"),
    )
}

/// `TagResource`.
pub(super) fn tag_resource(state: &AppState, body: &Value) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    let arn = m.req_str("ResourceARN")?;
    let name = alarm_of_arn(arn)?;
    let tags = tag_list("Tags", m.list("Tags")?)?;
    let too_many =
        || MonitorError::invalid_member("Tags", format!("an alarm holds at most {MAX_TAGS} tags"));
    if tags.len() > MAX_TAGS {
        return Err(monitor_error(too_many()));
    }
    let mut found = false;
    state
        .monitor
        .with_alarms_mut(|book, _| {
            let Some(existing) = book.tags_mut(name) else {
                return Ok(());
            };
            found = true;
            // Merged aside: a call refused for the count leaves the tags as they were.
            let mut merged = existing.clone();
            for (k, v) in tags {
                match merged.iter_mut().find(|(ek, _)| *ek == k) {
                    Some(e) => e.1 = v,
                    None => merged.push((k, v)),
                }
            }
            if merged.len() > MAX_TAGS {
                return Err(too_many());
            }
            *existing = merged;
            Ok(())
        })
        .map_err(monitor_error)?;
    if !found {
        return Err(tag_not_found(arn));
    }
    Ok(json!({}))
}

/// `UntagResource`.
pub(super) fn untag_resource(state: &AppState, body: &Value) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    let arn = m.req_str("ResourceARN")?;
    let name = alarm_of_arn(arn)?;
    let keys = m.strings("TagKeys")?;
    let mut found = false;
    state
        .monitor
        .with_alarms_mut(|book, _| {
            if let Some(existing) = book.tags_mut(name) {
                found = true;
                existing.retain(|(k, _)| !keys.contains(k));
            }
            Ok(())
        })
        .map_err(monitor_error)?;
    if !found {
        return Err(tag_not_found(arn));
    }
    Ok(json!({}))
}

/// `ListTagsForResource`.
pub(super) fn list_tags(state: &AppState, body: &Value) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    let arn = m.req_str("ResourceARN")?;
    let name = alarm_of_arn(arn)?;
    let alarm = state
        .monitor
        .with_alarms(|book| book.get(name))
        .ok_or_else(|| tag_not_found(arn))?;
    let tags: Vec<Value> = alarm
        .extras
        .tags
        .iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect();
    Ok(json!({ "Tags": tags }))
}
