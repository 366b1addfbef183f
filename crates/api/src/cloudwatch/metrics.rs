//! PutMetricData, GetMetricStatistics, GetMetricData, ListMetrics.

use std::io::Read;

use monitor::series::{DimensionFilter, MetricFilter, MetricId, Resolution};
use monitor::{MetricStatistic, Percentile, Statistic, StatisticSet, Timestamp};
use serde_json::{json, Value};

use super::{combination, dimensions_json, epoch, from_monitor, invalid, missing, now, Members};
use crate::{set_member, ApiError, ApiRequest, AppState};

/// The most a gzipped PutMetricData body may inflate to.
const MAX_INFLATED: u64 = 16 * 1024 * 1024;
/// PutMetricData: at most 1 000 datums a call, 150 values a datum.
const MAX_DATUMS: usize = 1000;
const MAX_VALUES: usize = 150;
/// GetMetricStatistics returns at most 1 440 datapoints.
const MAX_DATAPOINTS: u64 = 1440;
/// ListMetrics pages hold 500 metrics.
const LIST_PAGE: usize = 500;
/// The largest offset a page token may hold: far past any list this server
/// keeps, so a larger one was not given by it.
const MAX_PAGE_OFFSET: usize = u32::MAX as usize;

/// The units PutMetricData accepts (`StandardUnit`).
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The JSON body, inflated first when the CLI gzipped it (bodies of 10 KiB
/// and more arrive with `Content-Encoding: gzip`).
pub(super) fn request_body(req: &ApiRequest) -> Result<Value, ApiError> {
    let gzipped = req
        .content_encoding
        .as_deref()
        .is_some_and(|e| e.split(',').any(|p| p.trim().eq_ignore_ascii_case("gzip")));
    if !gzipped {
        return req.json();
    }
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&req.body[..])
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut inflated)
        .map_err(|e| {
            invalid(format!(
                "Content-Encoding gzip: the body does not inflate: {e}"
            ))
        })?;
    if inflated.len() as u64 > MAX_INFLATED {
        return Err(invalid(format!(
            "Content-Encoding gzip: the body inflates to more than {MAX_INFLATED} bytes"
        )));
    }
    serde_json::from_slice(&inflated)
        .map_err(|e| invalid(format!("request body is not valid JSON: {e}")))
}

pub(crate) fn check_unit(member: &str, unit: Option<&str>) -> Result<(), ApiError> {
    match unit {
        Some(u) if !UNITS.contains(&u) => Err(invalid(format!(
            "{member}: '{u}' is not a CloudWatch unit (Seconds, Bytes, Bits/Second, Count, Percent, None, …)"
        ))),
        _ => Ok(()),
    }
}

/// `PutMetricData`.
pub(super) fn put_metric_data(state: &AppState, body: &Value) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    let namespace = m.req_str("Namespace")?;
    if namespace.starts_with("AWS/") {
        return Err(invalid(format!(
            "The value {namespace} for parameter Namespace is invalid: the AWS/ namespaces are reserved for the services' own metrics."
        )));
    }
    let data = m.list("MetricData")?;
    if data.is_empty() {
        return Err(missing("MetricData"));
    }
    if data.len() > MAX_DATUMS {
        return Err(invalid(format!(
            "MetricData: at most {MAX_DATUMS} datums per call, got {}",
            data.len()
        )));
    }
    if m.get("EntityMetricData")
        .is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))
    {
        return Err(invalid(
            "EntityMetricData: onair does not support entity-associated metrics",
        ));
    }
    let now = now();
    // Check every datum before writing any: a bad call stores nothing.
    let mut points = Vec::with_capacity(data.len());
    for (datum, n) in data.iter().zip(1usize..) {
        let at = |member: &str| format!("MetricData.member.{n}.{member}");
        let d = Members::of(datum)?;
        let name = d
            .str("MetricName")?
            .ok_or_else(|| missing(&at("MetricName")))?;
        let id = MetricId::new(
            namespace,
            name,
            d.dimensions_at("Dimensions", &at("Dimensions"))?,
        )
        .map_err(from_monitor)?;
        let timestamp = d.timestamp("Timestamp")?.unwrap_or(now);
        let unit = d.str("Unit")?;
        check_unit(&at("Unit"), unit)?;
        if let Some(r) = d.u32("StorageResolution")? {
            if r != 1 && r != 60 {
                return Err(invalid(format!(
                    "{}: must be 1 or 60",
                    at("StorageResolution")
                )));
            }
        }
        let value = d.f64("Value")?;
        let stats = d.get("StatisticValues");
        let values = d.list("Values")?;
        let given = [value.is_some(), stats.is_some(), !values.is_empty()];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(combination(format!(
                "{}: give one of Value, StatisticValues and Values",
                at("Value")
            )));
        }
        let mut sets = Vec::new();
        if let Some(v) = value {
            sets.push(StatisticSet::value(v).map_err(from_monitor)?);
        } else if let Some(stats) = stats {
            let s = Members::of(stats)?;
            let member = |n: &str| -> Result<f64, ApiError> {
                s.f64(n)?
                    .ok_or_else(|| missing(&at(&format!("StatisticValues.{n}"))))
            };
            sets.push(
                StatisticSet::new(
                    member("SampleCount")?,
                    member("Sum")?,
                    member("Minimum")?,
                    member("Maximum")?,
                )
                .map_err(|e| invalid(format!("{}: {e}", at("StatisticValues"))))?,
            );
        } else if !values.is_empty() {
            if values.len() > MAX_VALUES {
                return Err(invalid(format!(
                    "{}: at most {MAX_VALUES} values",
                    at("Values")
                )));
            }
            let counts = d.list("Counts")?;
            if !counts.is_empty() && counts.len() != values.len() {
                return Err(combination(format!(
                    "{}: Counts must have as many entries as Values",
                    at("Counts")
                )));
            }
            // Counts, when given, has one entry per value; without, each counts 1.
            let counts = counts.iter().map(Some).chain(std::iter::repeat(None));
            for ((v, count), n) in values.iter().zip(counts).zip(1usize..) {
                let v = v.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
                    invalid(format!(
                        "{}.member.{n}: must be a finite number",
                        at("Values")
                    ))
                })?;
                let count = count.map_or(Some(1.0), Value::as_f64).unwrap_or(1.0);
                if !(count.is_finite() && count > 0.0) {
                    continue; // a zero count adds nothing
                }
                sets.push(
                    StatisticSet::new(count, v * count, v, v)
                        .map_err(|e| invalid(format!("{}: {e}", at("Values"))))?,
                );
            }
        } else {
            return Err(missing(&at("Value")));
        }
        points.push((id, timestamp, unit, sets));
    }
    for (id, timestamp, unit, sets) in points {
        for set in sets {
            state
                .monitor
                .put(now, &id, timestamp, set)
                .map_err(from_monitor)?;
        }
        if let Some(unit) = unit {
            state.monitor.set_unit(&id, unit);
        }
    }
    Ok(json!({}))
}

/// A GetMetricStatistics / GetMetricData period: 1, 5, 10, 20, 30 or a multiple of 60.
fn check_period(member: &str, period: u32) -> Result<(), ApiError> {
    if matches!(period, 1 | 5 | 10 | 20 | 30) || (period >= 60 && period.is_multiple_of(60)) {
        Ok(())
    } else {
        Err(invalid(format!(
            "The parameter {member} must be 1, 5, 10, 20, 30 or a multiple of 60 (got {period})."
        )))
    }
}

/// A statistic by name: `Average`, `p99`, …
pub(crate) fn statistic(member: &str, name: &str) -> Result<MetricStatistic, ApiError> {
    if let Ok(s) = name.parse::<Statistic>() {
        return Ok(MetricStatistic::Statistic(s));
    }
    name.parse::<Percentile>()
        .map(MetricStatistic::ExtendedStatistic)
        .map_err(|_| {
            invalid(format!(
                "{member}: '{name}' is not SampleCount, Average, Sum, Minimum, Maximum or a percentile p0 to p100"
            ))
        })
}

/// `GetMetricStatistics`.
pub(super) fn get_metric_statistics(state: &AppState, body: &Value) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    let namespace = m.req_str("Namespace")?;
    let name = m.req_str("MetricName")?;
    let id = MetricId::new(namespace, name, m.dimensions("Dimensions")?).map_err(from_monitor)?;
    let start = m.req_timestamp("StartTime")?;
    let end = m.req_timestamp("EndTime")?;
    let period = m.u32("Period")?.ok_or_else(|| missing("Period"))?;
    check_period("Period", period)?;
    let unit = m.str("Unit")?;
    check_unit("Unit", unit)?;
    let statistics = m.strings("Statistics")?;
    let extended = m.strings("ExtendedStatistics")?;
    if statistics.is_empty() && extended.is_empty() {
        return Err(missing("Statistics"));
    }
    if statistics.len() > 5 || extended.len() > 10 {
        return Err(invalid(
            "Statistics: at most 5; ExtendedStatistics: at most 10",
        ));
    }
    let mut stats = Vec::new();
    for s in &statistics {
        stats.push(match s.parse::<Statistic>() {
            Ok(s) => MetricStatistic::Statistic(s),
            Err(_) => {
                return Err(invalid(format!(
                    "Statistics: '{s}' is not one of SampleCount, Average, Sum, Minimum, Maximum"
                )))
            }
        });
    }
    let mut percentiles = Vec::new();
    for p in &extended {
        percentiles.push(
            p.parse::<Percentile>()
                .map_err(|e| invalid(format!("ExtendedStatistics: {e}")))?,
        );
    }
    if start >= end {
        return Err(invalid(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    // StartTime < EndTime (just checked), so the difference does not saturate.
    let span = end
        .as_unix_millis()
        .saturating_sub(start.as_unix_millis())
        .div_ceil(1000);
    let requested = span.div_ceil(u64::from(period));
    if requested > MAX_DATAPOINTS {
        return Err(combination(format!(
            "You have requested up to {requested} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, or decreasing the time range."
        )));
    }
    let now = now();
    let stored_unit = state.monitor.unit(&id);
    if let (Some(asked), Some(stored)) = (unit, stored_unit.as_deref()) {
        if asked != stored {
            return Ok(json!({ "Label": name, "Datapoints": [] }));
        }
    }
    let unit_out = unit
        .map(str::to_owned)
        .or(stored_unit)
        .unwrap_or_else(|| "None".into());
    let periods = state
        .monitor
        .with_store(|s| s.periods(now, &id, start, end, period))
        .map_err(from_monitor)?;
    let datapoints: Vec<Value> = periods
        .iter()
        .map(|p| {
            let mut point = serde_json::Map::new();
            point.insert("Timestamp".into(), epoch(p.start));
            for s in &stats {
                if let Some(v) = s.compute_sets(&p.sets) {
                    point.insert(s.name().to_owned(), json!(v.value));
                }
            }
            if !percentiles.is_empty() {
                let mut ext = serde_json::Map::new();
                for p_ in &percentiles {
                    let s = MetricStatistic::ExtendedStatistic(p_.clone());
                    if let Some(v) = s.compute_sets(&p.sets) {
                        ext.insert(p_.as_str().to_owned(), json!(v.value));
                    }
                }
                point.insert("ExtendedStatistics".into(), Value::Object(ext));
            }
            point.insert("Unit".into(), json!(unit_out));
            Value::Object(point)
        })
        .collect();
    Ok(json!({ "Label": name, "Datapoints": datapoints }))
}

/// `ListMetrics`.
pub(super) fn list_metrics(state: &AppState, body: &Value) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    let mut filter = MetricFilter {
        namespace: m.str("Namespace")?.map(str::to_owned),
        metric_name: m.str("MetricName")?.map(str::to_owned),
        dimensions: Vec::new(),
    };
    for (d, n) in m.list("Dimensions")?.iter().zip(1usize..) {
        let name = d
            .get("Name")
            .and_then(Value::as_str)
            .ok_or_else(|| missing(&format!("Dimensions.member.{n}.Name")))?;
        filter.dimensions.push(DimensionFilter {
            name: name.to_owned(),
            value: d.get("Value").and_then(Value::as_str).map(str::to_owned),
        });
    }
    let recent = match m.str("RecentlyActive")? {
        None => false,
        Some("PT3H") => true,
        Some(other) => {
            return Err(invalid(format!(
                "RecentlyActive: '{other}' is not PT3H, the one value CloudWatch accepts"
            )))
        }
    };
    let skip = page_start(m.str("NextToken")?)?;
    let now = now();
    let ids: Vec<MetricId> = state.monitor.with_store(|s| {
        s.list(&filter)
            .into_iter()
            .filter(|id| {
                !recent
                    || !s
                        .read(
                            now,
                            id,
                            now.minus_secs(3 * 3600),
                            now.plus_secs(1),
                            Resolution::Minute,
                        )
                        .is_empty()
            })
            .cloned()
            .collect()
    });
    let (page, next) = page_of(&ids, skip, LIST_PAGE);
    let metrics: Vec<Value> = page
        .iter()
        .map(|id| {
            json!({
                "Namespace": id.namespace(),
                "MetricName": id.metric_name(),
                "Dimensions": dimensions_json(id.dimensions()),
            })
        })
        .collect();
    let mut out = json!({ "Metrics": metrics });
    if let Some(next) = next {
        set_member(&mut out, "NextToken", json!(next));
    }
    Ok(out)
}

/// A page token: the offset of the page's first item.
pub(crate) fn page_token(offset: usize) -> String {
    format!("onair-{offset}")
}

/// The offset a `NextToken` holds (0 without one): `onair-N` with N at most
/// [`MAX_PAGE_OFFSET`], else `InvalidNextToken`.
pub(crate) fn page_start(token: Option<&str>) -> Result<usize, ApiError> {
    match token {
        None | Some("") => Ok(0),
        Some(t) => t
            .strip_prefix("onair-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= MAX_PAGE_OFFSET)
            .ok_or_else(|| super::bad_token(t)),
    }
}

/// The items of `all` on the page that starts at `skip` and holds at most
/// `max`, and the token of the next page (`None` on the last). A start past
/// the end is an empty last page.
pub(crate) fn page_of<T>(all: &[T], skip: usize, max: usize) -> (&[T], Option<String>) {
    let start = skip.min(all.len());
    let end = start.saturating_add(max).min(all.len());
    let next = (end < all.len()).then(|| page_token(end));
    (all.get(start..end).unwrap_or_default(), next)
}

/// One MetricStat query's series: `(timestamps, values)` oldest first.
pub(crate) fn metric_stat_series(
    state: &AppState,
    stat: &Members<'_>,
    member: &str,
    start: Timestamp,
    end: Timestamp,
    default_period: Option<u32>,
) -> Result<(String, Vec<(Timestamp, f64)>), ApiError> {
    let metric = stat
        .get("Metric")
        .ok_or_else(|| missing(&format!("{member}.Metric")))?;
    let metric = Members::of(metric)?;
    let namespace = metric
        .str("Namespace")?
        .ok_or_else(|| missing(&format!("{member}.Metric.Namespace")))?;
    let name = metric
        .str("MetricName")?
        .ok_or_else(|| missing(&format!("{member}.Metric.MetricName")))?;
    let id = MetricId::new(
        namespace,
        name,
        metric.dimensions_at("Dimensions", &format!("{member}.Metric.Dimensions"))?,
    )
    .map_err(from_monitor)?;
    let period = stat
        .u32("Period")?
        .or(default_period)
        .ok_or_else(|| missing(&format!("{member}.Period")))?;
    check_period(&format!("{member}.Period"), period)?;
    let stat_name = stat
        .str("Stat")?
        .ok_or_else(|| missing(&format!("{member}.Stat")))?;
    let statistic = statistic(&format!("{member}.Stat"), stat_name)?;
    let now = now();
    let periods = state
        .monitor
        .with_store(|s| s.periods(now, &id, start, end, period))
        .map_err(from_monitor)?;
    let points = periods
        .iter()
        .filter_map(|p| statistic.compute_sets(&p.sets).map(|v| (p.start, v.value)))
        .collect();
    Ok((name.to_owned(), points))
}

/// `GetMetricData`.
pub(super) fn get_metric_data(state: &AppState, body: &Value) -> Result<Value, ApiError> {
    super::metric_math::get_metric_data(state, body)
}
