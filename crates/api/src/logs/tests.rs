use std::sync::Arc;

use serde_json::{json, Value};

use super::*;

const NOW: i64 = 1_750_000_000_000;

fn plane() -> Arc<ControlPlane> {
    let settings = control::Settings {
        account_id: "111122223333".into(),
        ..control::Settings::default()
    };
    ControlPlane::with_store(control::Store::in_memory().unwrap(), settings)
}

fn call(cp: &ControlPlane, op: &str, body: Value) -> std::result::Result<Value, ApiError> {
    let c = Call {
        cp,
        region: "eu-west-1",
        now_ms: NOW,
    };
    run(&c, op, &body)
}

/// The error's code and message.
fn fails(cp: &ControlPlane, op: &str, body: Value) -> (&'static str, String) {
    let e = call(cp, op, body).expect_err("the call should fail");
    assert_eq!(e.shape, ErrorShape::AwsJson);
    (e.code, e.message)
}

#[test]
fn validation_errors_name_the_member() {
    let cp = plane();
    call(
        &cp,
        "CreateLogGroup",
        json!({"logGroupName": "/aws/mediaconnect/show"}),
    )
    .unwrap();
    let cases = [
        (
            "CreateLogGroup",
            json!({"logGroupName": "bad name"}),
            "'logGroupName'",
        ),
        ("CreateLogGroup", json!({}), "logGroupName: is required"),
        (
            "CreateLogGroup",
            json!({"logGroupName": "g", "kmsKeyId": "k"}),
            "kmsKeyId",
        ),
        (
            "CreateLogGroup",
            json!({"logGroupName": "g", "logGroupClass": "CHEAP"}),
            "'logGroupClass'",
        ),
        (
            "CreateLogGroup",
            json!({"logGroupName": "g", "tags": {"aws:x": "y"}}),
            "tags.aws:x",
        ),
        (
            "PutRetentionPolicy",
            json!({"logGroupName": "/aws/mediaconnect/show", "retentionInDays": 2}),
            "'retentionInDays'",
        ),
        ("DescribeLogGroups", json!({"limit": 0}), "'limit'"),
        (
            "DescribeLogGroups",
            json!({"limit": 51}),
            "less than or equal to 50",
        ),
        (
            "DescribeLogGroups",
            json!({"logGroupNamePrefix": "/a", "logGroupNamePattern": "b"}),
            "logGroupNamePrefix, logGroupNamePattern",
        ),
        ("DescribeLogGroups", json!({"nextToken": ""}), "'nextToken'"),
        (
            "DescribeLogGroups",
            json!({"nextToken": "zzz"}),
            "nextToken:",
        ),
        (
            "GetLogEvents",
            json!({"logGroupName": "a", "logGroupIdentifier": "a", "logStreamName": "s"}),
            "logGroupName, logGroupIdentifier",
        ),
        (
            "GetLogEvents",
            json!({"logGroupName": "a", "logStreamName": "s:1"}),
            "'logStreamName'",
        ),
        (
            "GetLogEvents",
            json!({"logGroupName": "a", "logStreamName": "s", "startTime": -1}),
            "'startTime'",
        ),
        (
            "FilterLogEvents",
            json!({"logGroupName": "a", "filterPattern": "{ $.level = \"error\" }"}),
            "filterPattern: JSON",
        ),
        (
            "FilterLogEvents",
            json!({"logGroupName": "a", "filterPattern": "[ip, user]"}),
            "filterPattern: space-delimited",
        ),
        (
            "FilterLogEvents",
            json!({"logGroupName": "a", "logStreamNames": ["x"], "logStreamNamePrefix": "x"}),
            "logStreamNames, logStreamNamePrefix",
        ),
        (
            "DescribeLogStreams",
            json!({"logGroupName": "a", "orderBy": "LastEventTime", "logStreamNamePrefix": "x"}),
            "logStreamNamePrefix",
        ),
        (
            "PutLogEvents",
            json!({"logGroupName": "a", "logStreamName": "s", "logEvents": [{"timestamp": NOW}]}),
            "logEvents[0].message: is required",
        ),
        (
            "PutLogEvents",
            json!({"logGroupName": "a", "logStreamName": "s", "logEvents": [{"timestamp": NOW, "message": "m", "x": 1}]}),
            "logEvents[0].x",
        ),
        (
            "TagResource",
            json!({"resourceArn": "arn:aws:logs:r:1:destination:d", "tags": {"a": "b"}}),
            "resourceArn",
        ),
    ];
    for (op, body, needle) in cases {
        let (code, message) = fails(&cp, op, body.clone());
        assert_eq!(code, "InvalidParameterException", "{op} {body}: {message}");
        assert!(
            message.contains(needle),
            "{op} {body}: {message:?} lacks {needle:?}"
        );
    }
}

#[test]
fn missing_and_duplicate_resources_have_their_codes() {
    let cp = plane();
    let group = json!({"logGroupName": "/g"});
    call(&cp, "CreateLogGroup", group.clone()).unwrap();
    assert_eq!(
        fails(&cp, "CreateLogGroup", group.clone()).0,
        "ResourceAlreadyExistsException"
    );
    let stream = json!({"logGroupName": "/g", "logStreamName": "s"});
    call(&cp, "CreateLogStream", stream.clone()).unwrap();
    assert_eq!(
        fails(&cp, "CreateLogStream", stream).0,
        "ResourceAlreadyExistsException"
    );
    for (op, body) in [
        ("DeleteLogGroup", json!({"logGroupName": "/nope"})),
        (
            "PutRetentionPolicy",
            json!({"logGroupName": "/nope", "retentionInDays": 1}),
        ),
        ("DescribeLogStreams", json!({"logGroupName": "/nope"})),
        (
            "GetLogEvents",
            json!({"logGroupName": "/g", "logStreamName": "nope"}),
        ),
        (
            "FilterLogEvents",
            json!({"logGroupIdentifier": "arn:aws:logs:eu-west-1:111122223333:log-group:/nope:*"}),
        ),
        ("ListTagsLogGroup", json!({"logGroupName": "/nope"})),
    ] {
        assert_eq!(fails(&cp, op, body).0, "ResourceNotFoundException", "{op}");
    }
    assert_eq!(
        fails(&cp, "PutSubscriptionFilter", json!({})).0,
        "UnknownOperationException"
    );
}

#[test]
fn groups_show_both_arns_and_their_retention() {
    let cp = plane();
    call(
        &cp,
        "CreateLogGroup",
        json!({"logGroupName": "/aws/mediaconnect/show"}),
    )
    .unwrap();
    call(
        &cp,
        "PutRetentionPolicy",
        json!({"logGroupName": "/aws/mediaconnect/show", "retentionInDays": 14}),
    )
    .unwrap();
    let out = call(
        &cp,
        "DescribeLogGroups",
        json!({"logGroupNamePrefix": "/aws/"}),
    )
    .unwrap();
    let g = &out["logGroups"][0];
    let arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/mediaconnect/show";
    assert_eq!(g["logGroupArn"], arn);
    assert_eq!(g["arn"], format!("{arn}:*"));
    assert_eq!(g["retentionInDays"], 14);
    assert_eq!(g["creationTime"], NOW);
    assert!(out.get("nextToken").is_none());
    call(
        &cp,
        "DeleteRetentionPolicy",
        json!({"logGroupName": "/aws/mediaconnect/show"}),
    )
    .unwrap();
    let out = call(
        &cp,
        "DescribeLogGroups",
        json!({"logGroupNamePattern": "connect"}),
    )
    .unwrap();
    let g = &out["logGroups"][0];
    assert!(
        g.get("retentionInDays").is_none() && g.get("storedBytes").is_none(),
        "{g}"
    );
}

#[test]
fn events_round_trip_with_rejections_reported() {
    let cp = plane();
    call(&cp, "CreateLogGroup", json!({"logGroupName": "/g"})).unwrap();
    call(
        &cp,
        "CreateLogStream",
        json!({"logGroupName": "/g", "logStreamName": "s"}),
    )
    .unwrap();
    let out = call(
        &cp,
        "PutLogEvents",
        json!({"logGroupName": "/g", "logStreamName": "s", "sequenceToken": "whatever", "logEvents": [
            {"timestamp": NOW - 1, "message": "flow started"},
            {"timestamp": NOW, "message": "flow stopped"},
            {"timestamp": NOW + 10 * 3_600_000, "message": "from the future"},
        ]}),
    )
    .unwrap();
    assert_eq!(
        out["rejectedLogEventsInfo"],
        json!({"tooNewLogEventStartIndex": 2})
    );
    assert!(out["nextSequenceToken"].as_str().is_some());
    let out = call(
        &cp,
        "GetLogEvents",
        json!({"logGroupName": "/g", "logStreamName": "s", "startFromHead": true}),
    )
    .unwrap();
    assert_eq!(out["events"].as_array().unwrap().len(), 2);
    assert_eq!(out["events"][0]["message"], "flow started");
    assert_eq!(out["events"][0]["ingestionTime"], NOW);
    let out = call(
        &cp,
        "FilterLogEvents",
        json!({"logGroupName": "/g", "filterPattern": "stopped", "interleaved": true}),
    )
    .unwrap();
    assert_eq!(out["events"][0]["message"], "flow stopped");
    assert_eq!(out["events"][0]["logStreamName"], "s");
    assert!(out.get("nextToken").is_none());
    let streams = call(&cp, "DescribeLogStreams", json!({"logGroupName": "/g"})).unwrap();
    let s = &streams["logStreams"][0];
    assert_eq!(s["lastEventTimestamp"], NOW);
    assert_eq!(
        s["arn"],
        "arn:aws:logs:eu-west-1:111122223333:log-group:/g:log-stream:s"
    );
}

#[test]
fn tags_by_arn_and_by_name() {
    let cp = plane();
    call(
        &cp,
        "CreateLogGroup",
        json!({"logGroupName": "/g", "tags": {"team": "news"}}),
    )
    .unwrap();
    let arn = "arn:aws:logs:eu-west-1:111122223333:log-group:/g";
    call(
        &cp,
        "TagResource",
        json!({"resourceArn": arn, "tags": {"env": "prod"}}),
    )
    .unwrap();
    call(
        &cp,
        "UntagLogGroup",
        json!({"logGroupName": "/g", "tags": ["team"]}),
    )
    .unwrap();
    let out = call(&cp, "ListTagsForResource", json!({"resourceArn": arn})).unwrap();
    assert_eq!(out, json!({"tags": {"env": "prod"}}));
    call(
        &cp,
        "UntagResource",
        json!({"resourceArn": arn, "tagKeys": ["env"]}),
    )
    .unwrap();
    let out = call(&cp, "ListTagsLogGroup", json!({"logGroupName": "/g"})).unwrap();
    assert_eq!(out, json!({"tags": {}}));
    let many: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
    call(
        &cp,
        "TagResource",
        json!({"resourceArn": arn, "tags": many}),
    )
    .unwrap();
    let (code, _) = fails(
        &cp,
        "TagLogGroup",
        json!({"logGroupName": "/g", "tags": {"one": "more"}}),
    );
    assert_eq!(code, "TooManyTagsException");
}
