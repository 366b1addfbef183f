//! CloudWatch as the current CLI and boto3 speak it: awsJson 1.0, `POST`
//! with `X-Amz-Target: GraniteServiceVersion20100801.<Operation>`, PascalCase
//! members, timestamps as epoch seconds; errors carry the query error code in
//! `x-amzn-query-error` so botocore raises the modelled exceptions
//! (`ResourceNotFound`, `InvalidParameterValue`, …).
//!
//! | operation | module |
//! |---|---|
//! | PutMetricData (gzip bodies too), GetMetricStatistics, GetMetricData, ListMetrics | [`metrics`] |
//! | PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric, DescribeAlarmHistory, DeleteAlarms, SetAlarmState, Enable/DisableAlarmActions, Tag/Untag/ListTagsForResource | [`alarms`] |
//!
//! Everything reads and writes the shared [`monitor::Hub`]; nothing here
//! evaluates alarms (the driver in `onair serve` does, every second).

pub mod alarms;
mod metric_math;
pub mod metrics;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use monitor::{Dimension, MonitorError, Timestamp};
use serde_json::{Map, Value};

use crate::{ApiError, ApiRequest, AppState, ErrorShape};

/// The `X-Amz-Target` prefix of CloudWatch.
pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";

/// CloudWatch's error shape: `__type` with the shape namespace, and the
/// query error code botocore matches in `x-amzn-query-error`.
pub const SHAPE: ErrorShape = ErrorShape::QueryCompatible {
    namespace: "com.amazonaws.cloudwatch",
};

pub async fn handle(
    state: &AppState,
    req: &ApiRequest,
    operation: &str,
) -> Result<Response, ApiError> {
    let body = metrics::request_body(req)?;
    let result = match operation {
        "PutMetricData" => metrics::put_metric_data(state, &body),
        "GetMetricStatistics" => metrics::get_metric_statistics(state, &body),
        "GetMetricData" => metrics::get_metric_data(state, &body),
        "ListMetrics" => metrics::list_metrics(state, &body),
        "PutMetricAlarm" => alarms::put_metric_alarm(state, req, &body),
        "DescribeAlarms" => alarms::describe_alarms(state, &body),
        "DescribeAlarmsForMetric" => alarms::describe_alarms_for_metric(state, &body),
        "DescribeAlarmHistory" => alarms::describe_alarm_history(state, &body),
        "DeleteAlarms" => alarms::delete_alarms(state, &body),
        "SetAlarmState" => alarms::set_alarm_state(state, &body),
        "EnableAlarmActions" => alarms::set_actions(state, &body, true),
        "DisableAlarmActions" => alarms::set_actions(state, &body, false),
        "TagResource" => alarms::tag_resource(state, &body),
        "UntagResource" => alarms::untag_resource(state, &body),
        "ListTagsForResource" => alarms::list_tags(state, &body),
        other => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            format!("onair does not implement the CloudWatch operation '{other}'"),
        )),
    };
    result.map(ok).map_err(|e| e.with_shape(SHAPE))
}

/// A 200 with an awsJson 1.0 body.
fn ok(body: Value) -> Response {
    let mut resp = axum::Json(body).into_response();
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    resp
}

// ------------------------------------------------------------------ errors

pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "InvalidParameterValue", message)
}

pub(crate) fn missing(member: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "MissingParameter",
        format!("The parameter {member} is required."),
    )
}

pub(crate) fn combination(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "InvalidParameterCombination",
        message,
    )
}

pub(crate) fn validation(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "ValidationError", message)
}

pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "ResourceNotFound", message)
}

pub(crate) fn bad_token(token: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "InvalidNextToken",
        format!("The NextToken '{token}' is not valid."),
    )
}

/// A monitor refusal as the API reports it.
pub(crate) fn from_monitor(e: MonitorError) -> ApiError {
    match e {
        MonitorError::MetricLimit { .. } => {
            ApiError::new(StatusCode::BAD_REQUEST, "LimitExceeded", e.to_string())
        }
        other => invalid(other.to_string()),
    }
}

// ------------------------------------------------------------- members

/// Reads members of a JSON request body; errors name the member.
pub(crate) struct Members<'a>(pub &'a Map<String, Value>);

impl<'a> Members<'a> {
    pub(crate) fn of(body: &'a Value) -> Result<Self, ApiError> {
        body.as_object()
            .map(Members)
            .ok_or_else(|| invalid("the request body must be a JSON object"))
    }

    pub(crate) fn get(&self, member: &str) -> Option<&'a Value> {
        self.0.get(member).filter(|v| !v.is_null())
    }

    pub(crate) fn str(&self, member: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(format!("{member}: must be a string"))),
        }
    }

    pub(crate) fn req_str(&self, member: &str) -> Result<&'a str, ApiError> {
        self.str(member)?.ok_or_else(|| missing(member))
    }

    pub(crate) fn f64(&self, member: &str) -> Result<Option<f64>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or_else(|| invalid(format!("{member}: must be a finite number"))),
        }
    }

    pub(crate) fn u32(&self, member: &str) -> Result<Option<u32>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    invalid(format!(
                        "{member}: must be a whole number from 0 to 4294967295"
                    ))
                }),
        }
    }

    pub(crate) fn bool(&self, member: &str) -> Result<Option<bool>, ApiError> {
        match self.get(member) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(invalid(format!("{member}: must be true or false"))),
        }
    }

    pub(crate) fn list(&self, member: &str) -> Result<&'a [Value], ApiError> {
        match self.get(member) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(invalid(format!("{member}: must be a list"))),
        }
    }

    pub(crate) fn strings(&self, member: &str) -> Result<Vec<String>, ApiError> {
        self.list(member)?
            .iter()
            .zip(1usize..)
            .map(|(v, n)| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("{member}.member.{n}: must be a string")))
            })
            .collect()
    }

    /// A timestamp: epoch seconds (what botocore sends) or ISO 8601.
    pub(crate) fn timestamp(&self, member: &str) -> Result<Option<Timestamp>, ApiError> {
        let Some(v) = self.get(member) else {
            return Ok(None);
        };
        let bad = || {
            invalid(format!(
                "{member}: must be a timestamp (epoch seconds or ISO 8601)"
            ))
        };
        if let Some(secs) = v.as_f64() {
            if !(0.0..=253_402_300_799.0).contains(&secs) {
                return Err(bad());
            }
            return Ok(Some(Timestamp::from_unix_millis(
                (secs * 1000.0).round() as u64
            )));
        }
        let text = v.as_str().ok_or_else(bad)?;
        let parsed =
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .or_else(|_| {
                    // The CLI's help shows `2026-11-29T10:20:00` (no zone): UTC.
                    time::PrimitiveDateTime::parse(
                        text,
                        time::macros::format_description!(
                            "[year]-[month]-[day]T[hour]:[minute]:[second]"
                        ),
                    )
                    .map(time::PrimitiveDateTime::assume_utc)
                })
                .map_err(|_| bad())?;
        let millis = parsed.unix_timestamp_nanos() / 1_000_000;
        u64::try_from(millis)
            .map(|m| Some(Timestamp::from_unix_millis(m)))
            .map_err(|_| bad())
    }

    pub(crate) fn req_timestamp(&self, member: &str) -> Result<Timestamp, ApiError> {
        self.timestamp(member)?.ok_or_else(|| missing(member))
    }

    /// `Dimensions`: `[{Name, Value}]`, values required.
    pub(crate) fn dimensions(&self, member: &str) -> Result<Vec<Dimension>, ApiError> {
        self.dimensions_at("Dimensions", member)
    }

    /// `key`'s dimensions; errors name them `member` (the path to them).
    pub(crate) fn dimensions_at(
        &self,
        key: &str,
        member: &str,
    ) -> Result<Vec<Dimension>, ApiError> {
        self.list(key)?
            .iter()
            .zip(1usize..)
            .map(|(d, n)| {
                let name = d.get("Name").and_then(Value::as_str);
                let value = d.get("Value").and_then(Value::as_str);
                match (name, value) {
                    (Some(name), Some(value)) => Ok(Dimension {
                        name: name.to_owned(),
                        value: value.to_owned(),
                    }),
                    (None, _) => Err(missing(&format!("{member}.member.{n}.Name"))),
                    (_, None) => Err(missing(&format!("{member}.member.{n}.Value"))),
                }
            })
            .collect()
    }
}

/// Epoch seconds, as CloudWatch's JSON protocol writes timestamps.
pub(crate) fn epoch(t: Timestamp) -> Value {
    let millis = t.as_unix_millis();
    if millis.is_multiple_of(1000) {
        Value::from(millis / 1000)
    } else {
        Value::from(millis as f64 / 1000.0)
    }
}

/// `[{Name, Value}]`.
pub(crate) fn dimensions_json(dims: &[Dimension]) -> Value {
    Value::Array(
        dims.iter()
            .map(|d| serde_json::json!({ "Name": d.name, "Value": d.value }))
            .collect(),
    )
}

/// The current time.
pub(crate) fn now() -> Timestamp {
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    Timestamp::from_unix_millis(u64::try_from(millis).unwrap_or(0))
}

/// Every operation this module answers.
pub const OPERATIONS: &[&str] = &[
    "PutMetricData",
    "GetMetricStatistics",
    "GetMetricData",
    "ListMetrics",
    "PutMetricAlarm",
    "DescribeAlarms",
    "DescribeAlarmsForMetric",
    "DescribeAlarmHistory",
    "DeleteAlarms",
    "SetAlarmState",
    "EnableAlarmActions",
    "DisableAlarmActions",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

/// The body of the `cloudwatch_request` fuzz target (and of a property test):
/// the first byte picks an operation, the rest is its body, plain or, when the
/// second byte is odd, announced as gzip. Whatever the bytes, the answer is a
/// response or an error in CloudWatch's shape, never a panic.
pub fn fuzz_request(data: &[u8]) {
    static STATE: std::sync::OnceLock<Option<AppState>> = std::sync::OnceLock::new();
    let state = STATE.get_or_init(|| {
        let store = control::store::Store::in_memory().ok()?;
        let cp = control::ControlPlane::with_store(store, control::Settings::default());
        Some(AppState::standalone(cp, 64))
    });
    let Some(state) = state else { return };
    let (Some(&op), Some(&flags)) = (data.first(), data.get(1)) else {
        return;
    };
    let Some(operation) = usize::from(op)
        .checked_rem(OPERATIONS.len())
        .and_then(|i| OPERATIONS.get(i))
    else {
        return;
    };
    let req = ApiRequest {
        method: axum::http::Method::POST,
        segments: Vec::new(),
        query: Vec::new(),
        body: bytes::Bytes::copy_from_slice(data.get(2..).unwrap_or_default()),
        region: "us-west-2".into(),
        service: "monitoring".into(),
        target: Some(format!("{TARGET_PREFIX}.{operation}")),
        content_type: Some("application/x-amz-json-1.0".into()),
        content_encoding: (flags & 1 == 1).then(|| "gzip".into()),
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let _ = rt.block_on(handle(state, &req, operation));
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fuzz_tests {
    use proptest::prelude::*;

    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            // JSON shaped like the requests, with wrong types and values.
            "\\{(\"(Namespace|MetricName|MetricData|Dimensions|StartTime|EndTime|Period|Statistics|AlarmName|AlarmNames|Threshold|Expression|MetricDataQueries|Id|Value|Values|Counts|StatisticValues|ComparisonOperator|EvaluationPeriods|MaxRecords|NextToken)\":(1e308|-1|\"x\"|\\[\\]|\\{\\}|null|\\[\\{\\}\\]|\"p99\"|0),?){0,6}\\}"
                .prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #[test]
        fn no_request_body_panics(op in any::<u8>(), gz in any::<bool>(), body in body()) {
            let mut data = vec![op, u8::from(gz)];
            data.extend(body);
            super::fuzz_request(&data);
        }
    }
}
