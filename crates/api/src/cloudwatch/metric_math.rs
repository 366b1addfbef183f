//! `GetMetricData`: MetricStat queries read from the store; expression
//! queries are computed over them.

use std::collections::HashSet;

use monitor::{expr, Timestamp};
use serde_json::{json, Value};

use super::metrics::{metric_stat_series, page_start, page_token};
use super::{invalid, missing, validation, Members};
use crate::{set_member, ApiError, AppState};

/// At most 500 queries a call.
const MAX_QUERIES: usize = 500;
/// `MaxDatapoints` default.
const DEFAULT_MAX_DATAPOINTS: usize = 100_800;

/// One query's result, oldest point first.
pub(crate) struct QueryResult {
    pub id: String,
    pub label: String,
    pub points: Vec<(Timestamp, f64)>,
    pub messages: Vec<(String, String)>,
}

pub(super) fn get_metric_data(state: &AppState, body: &Value) -> Result<Value, ApiError> {
    let m = Members::of(body)?;
    let queries = m.list("MetricDataQueries")?;
    if queries.is_empty() {
        return Err(missing("MetricDataQueries"));
    }
    if queries.len() > MAX_QUERIES {
        return Err(invalid(format!(
            "MetricDataQueries: at most {MAX_QUERIES} queries, got {}",
            queries.len()
        )));
    }
    let start = m.req_timestamp("StartTime")?;
    let end = m.req_timestamp("EndTime")?;
    if start >= end {
        return Err(validation(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    let descending = match m.str("ScanBy")? {
        None | Some("TimestampDescending") => true,
        Some("TimestampAscending") => false,
        Some(other) => {
            return Err(invalid(format!(
                "ScanBy: '{other}' is not TimestampDescending or TimestampAscending"
            )))
        }
    };
    // A page of no datapoints would hand back the token it was given.
    let max_points = match m.u32("MaxDatapoints")? {
        None => DEFAULT_MAX_DATAPOINTS,
        Some(0) => return Err(invalid("The parameter MaxDatapoints must be at least 1.")),
        Some(n) => n as usize,
    };

    let mut ids = HashSet::new();
    let mut parsed = Vec::new();
    for (q, n) in queries.iter().zip(1usize..) {
        let member = format!("MetricDataQueries.member.{n}");
        let q = Members::of(q)?;
        let id = q
            .str("Id")?
            .ok_or_else(|| missing(&format!("{member}.Id")))?;
        let valid_id = id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && id.len() <= 255;
        if !valid_id {
            return Err(validation(format!(
                "{member}.Id: '{id}' must start with a lowercase letter and hold only letters, digits and underscores"
            )));
        }
        if !ids.insert(id.to_owned()) {
            return Err(validation(format!(
                "{member}.Id: '{id}' is used by more than one query"
            )));
        }
        let stat = q.get("MetricStat");
        let expression = q.str("Expression")?;
        if q.get("AccountId").is_some() {
            return Err(validation(format!("{member}.AccountId: onair has one account; cross-account queries are not supported")));
        }
        if stat.is_some() == expression.is_some() {
            return Err(validation(format!(
                "{member}: give exactly one of MetricStat and Expression"
            )));
        }
        parsed.push((member, q, id.to_owned(), stat, expression));
    }
    if !parsed
        .iter()
        .any(|(_, q, ..)| q.bool("ReturnData").ok().flatten().unwrap_or(true))
    {
        return Err(validation(
            "MetricDataQueries: at least one query must have ReturnData true",
        ));
    }

    let mut queries = Vec::with_capacity(parsed.len());
    for (member, q, id, stat, expression) in &parsed {
        let return_data = q.bool("ReturnData")?.unwrap_or(true);
        let label = q.str("Label")?.map(str::to_owned);
        let mut query = match (stat, expression) {
            (Some(stat), _) => {
                let stat = Members::of(stat)?;
                let member = format!("{member}.MetricStat");
                let period = stat.u32("Period")?.or(q.u32("Period")?);
                let (name, points) = metric_stat_series(state, &stat, &member, start, end, period)?;
                expr::Query::metric(
                    id.clone(),
                    expr::Series {
                        label: name,
                        period: period.unwrap_or(60),
                        points,
                    },
                )
            }
            (None, Some(e)) => {
                if e.chars().count() > expr::MAX_EXPRESSION_CHARS {
                    return Err(validation(format!(
                        "{member}.Expression: at most {} characters",
                        expr::MAX_EXPRESSION_CHARS
                    )));
                }
                expr::Query::expression(id.clone(), *e)
            }
            (None, None) => continue,
        };
        query.return_data = return_data;
        query.label = label;
        queries.push(query);
    }
    let results: Vec<QueryResult> = expr::evaluate(&queries, expr::Window { start, end })
        .map_err(|e| validation(format!("MetricDataQueries: {e}")))?
        .into_iter()
        .map(|r| QueryResult {
            id: r.id,
            label: r.label,
            points: r.points,
            messages: r.messages.into_iter().map(|m| (m.code, m.value)).collect(),
        })
        .collect();

    let skip = page_start(m.str("NextToken")?)?;
    let mut budget = max_points;
    let mut remaining = false;
    let mut out = Vec::new();
    let mut offset = 0usize;
    for r in results {
        let mut points = r.points;
        if descending {
            points.reverse();
        }
        // Skip what earlier pages returned (points are counted across queries).
        let from = skip.saturating_sub(offset);
        offset = offset.saturating_add(points.len());
        let unsent = points.get(from..).unwrap_or_default();
        let (slice, rest) = unsent
            .split_at_checked(budget.min(unsent.len()))
            .unwrap_or((unsent, &[]));
        budget = budget.saturating_sub(slice.len());
        let partial = !rest.is_empty();
        remaining |= partial;
        out.push(json!({
            "Id": r.id,
            "Label": r.label,
            "Timestamps": slice.iter().map(|(t, _)| super::epoch(*t)).collect::<Vec<_>>(),
            "Values": slice.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
            "StatusCode": if partial { "PartialData" } else { "Complete" },
            "Messages": r.messages.iter().map(|(c, v)| json!({"Code": c, "Value": v})).collect::<Vec<_>>(),
        }));
    }
    let mut body = json!({ "MetricDataResults": out, "Messages": [] });
    if remaining {
        // A full page was sent: the next starts `max_points` on (both at most
        // u32::MAX, so the sum does not saturate).
        set_member(
            &mut body,
            "NextToken",
            json!(page_token(skip.saturating_add(max_points))),
        );
    }
    Ok(body)
}
