//! Stream and event operations: CreateLogStream, DeleteLogStream,
//! DescribeLogStreams, PutLogEvents, GetLogEvents, FilterLogEvents.

use control::logs::{
    check_stream_name, constraint, group_arn, FilterPattern, FilterQuery, GetQuery, InputEvent,
    LogStream, StreamOrder, StreamQuery, StreamSelect,
};
use serde_json::{json, Map, Value};

use super::members::Members;
use super::{bad, group_name, group_or_identifier, next_token, stream_name, Call, Result};
use crate::set_member;

pub(super) fn create_log_stream(call: &Call, body: &Value) -> Result<Value> {
    let mut m = Members::new(body)?;
    let group = group_name(&mut m)?;
    let stream = stream_name(&mut m)?;
    m.finish()?;
    call.cp.logs().create_stream(group, stream, call.now_ms)?;
    Ok(json!({}))
}

pub(super) fn delete_log_stream(call: &Call, body: &Value) -> Result<Value> {
    let mut m = Members::new(body)?;
    let group = group_name(&mut m)?;
    let stream = stream_name(&mut m)?;
    m.finish()?;
    call.cp.logs().delete_stream(group, stream)?;
    Ok(json!({}))
}

fn stream_json(call: &Call, group: &str, s: &LogStream) -> Value {
    let arn = group_arn(call.region, &call.cp.settings.account_id, group);
    let mut v = Map::new();
    v.insert("logStreamName".into(), json!(s.name));
    v.insert("creationTime".into(), json!(s.created_ms));
    for (key, value) in [
        ("firstEventTimestamp", s.first_event_ms),
        ("lastEventTimestamp", s.last_event_ms),
        ("lastIngestionTime", s.last_ingestion_ms),
    ] {
        if let Some(ms) = value {
            v.insert(key.into(), json!(ms));
        }
    }
    if s.uploads > 0 {
        v.insert(
            "uploadSequenceToken".into(),
            json!(format!("{:056}", s.uploads)),
        );
    }
    v.insert("arn".into(), json!(format!("{arn}:log-stream:{}", s.name)));
    v.insert("storedBytes".into(), json!(0));
    Value::Object(v)
}

pub(super) fn describe_log_streams(call: &Call, body: &Value) -> Result<Value> {
    let mut m = Members::new(body)?;
    let group = group_or_identifier(&mut m)?;
    let prefix = m.string("logStreamNamePrefix")?;
    if let Some(p) = prefix {
        check_stream_name("logStreamNamePrefix", p)?;
    }
    let order = match m.enumeration("orderBy", &["LogStreamName", "LastEventTime"])? {
        Some("LastEventTime") => StreamOrder::LastEventTime,
        _ => StreamOrder::Name,
    };
    if order == StreamOrder::LastEventTime && prefix.is_some() {
        return Err(bad(
            "logStreamNamePrefix: cannot be specified when orderBy is LastEventTime",
        ));
    }
    let q = StreamQuery {
        prefix: prefix.map(str::to_string),
        order,
        descending: m.boolean("descending")?.unwrap_or(false),
        token: next_token(&mut m)?,
        limit: m.int_in("limit", 1, 50)?.unwrap_or(50) as usize,
    };
    m.finish()?;
    let page = call.cp.logs().describe_streams(&group, &q)?;
    let streams: Vec<Value> = page
        .items
        .iter()
        .map(|s| stream_json(call, &group, s))
        .collect();
    let mut out = json!({ "logStreams": streams });
    if let Some(t) = page.next_token {
        set_member(&mut out, "nextToken", json!(t));
    }
    Ok(out)
}

pub(super) fn put_log_events(call: &Call, body: &Value) -> Result<Value> {
    let mut m = Members::new(body)?;
    let group = group_name(&mut m)?;
    let stream = stream_name(&mut m)?;
    let items = m
        .list("logEvents")?
        .ok_or_else(|| bad("logEvents: is required"))?;
    let events = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut e = Members::new(item)
                .map_err(|_| bad(format!("logEvents[{i}]: expected an object")))?;
            let timestamp = e
                .int("timestamp")
                .map_err(|_| bad(format!("logEvents[{i}].timestamp: expected an integer")))?
                .ok_or_else(|| bad(format!("logEvents[{i}].timestamp: is required")))?;
            let message = e
                .string("message")
                .map_err(|_| bad(format!("logEvents[{i}].message: expected a string")))?
                .ok_or_else(|| bad(format!("logEvents[{i}].message: is required")))?;
            e.finish()
                .map_err(|err| bad(format!("logEvents[{i}].{err}")))?;
            Ok(InputEvent {
                timestamp,
                message: message.to_string(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // Sequence tokens are ignored (as AWS now does); entity metadata has no
    // use without AWS's service map.
    m.ignore("sequenceToken");
    m.ignore("entity");
    m.finish()?;
    let out = call
        .cp
        .logs()
        .put_events(group, stream, &events, call.now_ms)?;
    let mut answer = json!({ "nextSequenceToken": out.sequence_token });
    let v = &out.verdict;
    let mut rejected = Map::new();
    for (key, index) in [
        ("tooNewLogEventStartIndex", v.too_new_start),
        ("tooOldLogEventEndIndex", v.too_old_end),
        ("expiredLogEventEndIndex", v.expired_end),
    ] {
        if let Some(i) = index {
            rejected.insert(key.into(), json!(i));
        }
    }
    if !rejected.is_empty() {
        set_member(
            &mut answer,
            "rejectedLogEventsInfo",
            Value::Object(rejected),
        );
    }
    Ok(answer)
}

pub(super) fn get_log_events(call: &Call, body: &Value) -> Result<Value> {
    let mut m = Members::new(body)?;
    let group = group_or_identifier(&mut m)?;
    let stream = stream_name(&mut m)?;
    let q = GetQuery {
        start: m.timestamp("startTime")?,
        end: m.timestamp("endTime")?,
        token: next_token(&mut m)?,
        limit: m.int_in("limit", 1, 10_000)?.map(|l| l as usize),
        from_head: m.boolean("startFromHead")?.unwrap_or(false),
    };
    // Nothing is masked in onair, so every event is already unmasked.
    m.ignore("unmask");
    m.finish()?;
    let page = call.cp.logs().get_events(&group, stream, &q)?;
    let events: Vec<Value> = page
        .events
        .iter()
        .map(|e| json!({"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time}))
        .collect();
    Ok(json!({
        "events": events,
        "nextForwardToken": page.forward,
        "nextBackwardToken": page.backward,
    }))
}

pub(super) fn filter_log_events(call: &Call, body: &Value) -> Result<Value> {
    let mut m = Members::new(body)?;
    let group = group_or_identifier(&mut m)?;
    let names = m.string_list("logStreamNames", 1, 100)?;
    for (i, n) in names.iter().flatten().enumerate() {
        check_stream_name(&format!("logStreamNames[{i}]"), n)?;
    }
    let prefix = m.string("logStreamNamePrefix")?;
    if let Some(p) = prefix {
        check_stream_name("logStreamNamePrefix", p)?;
    }
    let streams = match (names, prefix) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "logStreamNames, logStreamNamePrefix: specify one of them, not both",
            ))
        }
        (Some(n), None) => StreamSelect::Names(n),
        (None, Some(p)) => StreamSelect::Prefix(p.to_string()),
        (None, None) => StreamSelect::All,
    };
    let text = m.string("filterPattern")?.unwrap_or("");
    if text.chars().count() > 1024 {
        return Err(constraint(
            "filterPattern",
            text,
            "have length less than or equal to 1024",
        ));
    }
    let pattern = FilterPattern::parse(text).map_err(|e| bad(format!("filterPattern: {e}")))?;
    let q = FilterQuery {
        streams,
        start: m.timestamp("startTime")?,
        end: m.timestamp("endTime")?,
        pattern,
        token: next_token(&mut m)?,
        limit: m.int_in("limit", 1, 10_000)?.map(|l| l as usize),
        descending: !m.boolean("startFromHead")?.unwrap_or(true),
    };
    // Deprecated (always interleaved), and nothing is masked.
    m.ignore("interleaved");
    m.ignore("unmask");
    m.finish()?;
    let page = call.cp.logs().filter_events(&group, &q)?;
    let events: Vec<Value> = page
        .items
        .iter()
        .map(|e| {
            json!({
                "logStreamName": e.stream,
                "timestamp": e.timestamp,
                "message": e.message,
                "ingestionTime": e.ingestion_time,
                "eventId": format!("{:020}", e.id),
            })
        })
        .collect();
    let mut out = json!({ "events": events, "searchedLogStreams": [] });
    if let Some(t) = page.next_token {
        set_member(&mut out, "nextToken", json!(t));
    }
    Ok(out)
}
