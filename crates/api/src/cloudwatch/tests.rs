//! CloudWatch operations inside the process: the range checks of the numbers
//! a client sends, and paging.

use axum::body::to_bytes;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::*;

fn state() -> AppState {
    let store = control::store::Store::in_memory().unwrap();
    let cp = control::ControlPlane::with_store(store, control::Settings::default());
    AppState::standalone(cp, 64)
}

/// The answer to `operation` with `body`: the JSON of a 200, or the error.
async fn call(state: &AppState, operation: &str, body: Value) -> Result<Value, ApiError> {
    let req = ApiRequest {
        method: Method::POST,
        segments: Vec::new(),
        query: Vec::new(),
        body: bytes::Bytes::from(body.to_string()),
        region: "us-west-2".into(),
        service: "monitoring".into(),
        target: Some(format!("{TARGET_PREFIX}.{operation}")),
        content_type: Some("application/x-amz-json-1.0".into()),
        content_encoding: None,
    };
    let resp = handle(state, &req, operation).await?;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    Ok(serde_json::from_slice(&body).unwrap())
}

/// The error of a call that must fail: a 400 in CloudWatch's shape.
async fn refused(state: &AppState, operation: &str, body: Value) -> ApiError {
    let e = call(state, operation, body).await.unwrap_err();
    assert_eq!(e.status, StatusCode::BAD_REQUEST, "{e:?}");
    assert_eq!(e.shape, SHAPE);
    e
}

async fn put_alarm(state: &AppState, name: &str) {
    call(
        state,
        "PutMetricAlarm",
        json!({
            "AlarmName": name,
            "Namespace": "onair",
            "MetricName": "m",
            "Statistic": "Average",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanThreshold",
        }),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn page_tokens_past_any_list_are_invalid_next_tokens() {
    let state = state();
    put_alarm(&state, "a").await;
    for operation in ["DescribeAlarms", "DescribeAlarmHistory", "ListMetrics"] {
        // The largest offset a token may hold is an empty last page.
        let last = call(
            &state,
            operation,
            json!({ "NextToken": "onair-4294967295" }),
        )
        .await
        .unwrap();
        assert!(last.get("NextToken").is_none(), "{operation}: {last}");
        for token in ["onair-4294967296", "onair-18446744073709551615"] {
            let e = refused(&state, operation, json!({ "NextToken": token })).await;
            assert_eq!(e.code, "InvalidNextToken", "{operation}");
            assert!(e.message.contains("NextToken"), "{}", e.message);
        }
    }
}

#[tokio::test]
async fn describe_alarms_pages_by_max_records() {
    let state = state();
    for name in ["a", "b", "c"] {
        put_alarm(&state, name).await;
    }
    let names = |v: &Value| -> Vec<String> {
        v["MetricAlarms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["AlarmName"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = call(&state, "DescribeAlarms", json!({ "MaxRecords": 2 }))
        .await
        .unwrap();
    assert_eq!(names(&first), ["a", "b"]);
    assert_eq!(first["NextToken"], "onair-2");
    let second = call(
        &state,
        "DescribeAlarms",
        json!({ "MaxRecords": 2, "NextToken": "onair-2" }),
    )
    .await
    .unwrap();
    assert_eq!(names(&second), ["c"]);
    assert!(second.get("NextToken").is_none());
}

#[tokio::test]
async fn max_datapoints_is_at_least_one_and_pages_by_points() {
    let state = state();
    let now = now().as_unix_millis() / 1000;
    call(
        &state,
        "PutMetricData",
        json!({
            "Namespace": "onair",
            "MetricData": [
                { "MetricName": "m", "Value": 1.0, "Timestamp": now - 180 },
                { "MetricName": "m", "Value": 2.0, "Timestamp": now - 120 },
            ],
        }),
    )
    .await
    .unwrap();
    let query = |max: u32, token: Option<&str>| {
        let mut body = json!({
            "StartTime": now - 600,
            "EndTime": now,
            "MaxDatapoints": max,
            "MetricDataQueries": [{
                "Id": "m",
                "MetricStat": {
                    "Metric": { "Namespace": "onair", "MetricName": "m" },
                    "Period": 60,
                    "Stat": "Sum",
                },
            }],
        });
        if let Some(t) = token {
            body["NextToken"] = json!(t);
        }
        body
    };
    let e = refused(&state, "GetMetricData", query(0, None)).await;
    assert_eq!(e.code, "InvalidParameterValue");
    assert!(e.message.contains("MaxDatapoints"), "{}", e.message);
    // One point a page: the newest first, then the other, then no token.
    let first = call(&state, "GetMetricData", query(1, None)).await.unwrap();
    let result = &first["MetricDataResults"][0];
    assert_eq!(result["Values"], json!([2.0]));
    assert_eq!(result["StatusCode"], "PartialData");
    assert_eq!(first["NextToken"], "onair-1");
    let second = call(&state, "GetMetricData", query(1, Some("onair-1")))
        .await
        .unwrap();
    let result = &second["MetricDataResults"][0];
    assert_eq!(result["Values"], json!([1.0]));
    assert_eq!(result["StatusCode"], "Complete");
    assert!(second.get("NextToken").is_none());
    let e = refused(&state, "GetMetricData", query(1, Some("onair-4294967296"))).await;
    assert_eq!(e.code, "InvalidNextToken");
}

#[tokio::test]
async fn list_members_are_numbered_from_one() {
    let state = state();
    let put = |data: Value| json!({ "Namespace": "onair", "MetricData": data });
    let e = refused(
        &state,
        "PutMetricData",
        put(json!([{ "MetricName": "m", "Value": 1 }, { "Value": 1 }])),
    )
    .await;
    assert_eq!(
        e.message,
        "The parameter MetricData.member.2.MetricName is required."
    );
    let e = refused(
        &state,
        "PutMetricData",
        put(json!([{ "MetricName": "m", "Values": [1, "x"], "Counts": [1, 2] }])),
    )
    .await;
    assert_eq!(
        e.message,
        "MetricData.member.1.Values.member.2: must be a finite number"
    );
    let e = refused(
        &state,
        "PutMetricData",
        put(json!([{ "MetricName": "m", "Value": 1, "Dimensions": [{ "Name": "a" }] }])),
    )
    .await;
    assert_eq!(
        e.message,
        "The parameter MetricData.member.1.Dimensions.member.1.Value is required."
    );
    let e = refused(&state, "ListMetrics", json!({ "Dimensions": [{}] })).await;
    assert_eq!(
        e.message,
        "The parameter Dimensions.member.1.Name is required."
    );
}

#[tokio::test]
async fn a_tag_call_past_fifty_tags_is_refused_and_changes_nothing() {
    let state = state();
    put_alarm(&state, "a").await;
    let arn = "arn:aws:cloudwatch:us-west-2:000000000000:alarm:a";
    let tags = |keys: std::ops::Range<usize>| -> Value {
        keys.map(|k| json!({ "Key": format!("k{k}"), "Value": "v" }))
            .collect()
    };
    let tag = |tags: Value| json!({ "ResourceARN": arn, "Tags": tags });
    let count = || async {
        let listed = call(&state, "ListTagsForResource", json!({ "ResourceARN": arn }))
            .await
            .unwrap();
        listed["Tags"].as_array().unwrap().len()
    };
    // Fifty in one call, before any lock: refused past it.
    let e = refused(&state, "TagResource", tag(tags(0..51))).await;
    assert_eq!(e.code, "ValidationError");
    assert!(e.message.starts_with("Tags: "), "{}", e.message);
    assert_eq!(count().await, 0);
    call(&state, "TagResource", tag(tags(0..50))).await.unwrap();
    assert_eq!(count().await, 50);
    // At fifty, a new key is refused and nothing is merged; a known key is
    // overwritten.
    let e = refused(&state, "TagResource", tag(tags(49..51))).await;
    assert!(e.message.starts_with("Tags: "), "{}", e.message);
    assert_eq!(count().await, 50);
    call(
        &state,
        "TagResource",
        tag(json!([{ "Key": "k0", "Value": "w" }])),
    )
    .await
    .unwrap();
    assert_eq!(count().await, 50);
}

#[tokio::test]
async fn set_alarm_state_reason_lengths_are_checked() {
    let state = state();
    put_alarm(&state, "a").await;
    let set = |reason: String, data: Option<String>| {
        let mut body = json!({ "AlarmName": "a", "StateValue": "ALARM", "StateReason": reason });
        if let Some(d) = data {
            body["StateReasonData"] = json!(d);
        }
        body
    };
    // A JSON string document of `n` characters.
    let document = |n: usize| format!("\"{}\"", "x".repeat(n - 2));
    call(
        &state,
        "SetAlarmState",
        set("r".repeat(1023), Some(document(4000))),
    )
    .await
    .unwrap();
    let e = refused(&state, "SetAlarmState", set("r".repeat(1024), None)).await;
    assert_eq!(e.code, "ValidationError");
    assert!(e.message.starts_with("StateReason: "), "{}", e.message);
    let e = refused(
        &state,
        "SetAlarmState",
        set("r".into(), Some(document(4001))),
    )
    .await;
    assert_eq!(e.code, "ValidationError");
    assert!(e.message.starts_with("StateReasonData: "), "{}", e.message);
}

#[tokio::test]
async fn put_metric_alarm_names_the_invalid_member() {
    let state = state();
    let e = refused(
        &state,
        "PutMetricAlarm",
        json!({
            "AlarmName": "a",
            "Namespace": "onair",
            "MetricName": "m",
            "Statistic": "Average",
            "Period": 61,
            "EvaluationPeriods": 1,
            "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanThreshold",
        }),
    )
    .await;
    assert_eq!(e.code, "ValidationError");
    assert!(e.message.starts_with("Period: "), "{}", e.message);
}
