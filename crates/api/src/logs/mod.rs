//! CloudWatch Logs (awsJson 1.1, `X-Amz-Target: Logs_20140328.<Op>`).
//!
//! Every call is `POST /` with a JSON body of camelCase members and answers
//! `application/x-amz-json-1.1`; errors are `{"__type": code, "message": …}`
//! with status 400 (500 for a storage fault):
//!
//! | control-plane error | code |
//! |---|---|
//! | bad member | InvalidParameterException |
//! | no such group / stream | ResourceNotFoundException |
//! | name taken | ResourceAlreadyExistsException (TooManyTagsException for tags) |
//!
//! Operations: CreateLogGroup, DeleteLogGroup, DescribeLogGroups,
//! PutRetentionPolicy, DeleteRetentionPolicy, CreateLogStream,
//! DeleteLogStream, DescribeLogStreams, PutLogEvents, GetLogEvents,
//! FilterLogEvents, TagResource, UntagResource, ListTagsForResource and the
//! older TagLogGroup, UntagLogGroup, ListTagsLogGroup. The storage and the
//! rules live in [`control::logs`]; this module reads members and writes
//! responses. Calls run on the blocking pool: a large delete or a filter
//! scan never stalls the HTTP workers.

mod events;
mod groups;
pub(crate) mod members;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use control::logs::{check_group_name, check_stream_name, constraint, group_name_of};
use control::{ControlError, ControlPlane};
use serde_json::{json, Value};

use crate::{ApiError, ApiRequest, AppState, ErrorShape};
use members::Members;

/// The `X-Amz-Target` prefix of CloudWatch Logs.
pub const TARGET_PREFIX: &str = "Logs_20140328";

type Result<T> = std::result::Result<T, ControlError>;

/// What every operation knows besides its body.
struct Call<'a> {
    cp: &'a ControlPlane,
    region: &'a str,
    now_ms: i64,
}

pub async fn handle(
    state: &AppState,
    req: &ApiRequest,
    operation: &str,
) -> std::result::Result<Response, ApiError> {
    let body = if req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&req.body).map_err(|e| {
            error(
                "InvalidParameterException",
                format!("request body is not valid JSON: {e}"),
            )
        })?
    };
    let cp = state.cp.clone();
    let region = req.region.clone();
    let operation = operation.to_string();
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let answer = tokio::task::spawn_blocking(move || {
        let call = Call {
            cp: &cp,
            region: &region,
            now_ms,
        };
        run(&call, &operation, &body)
    })
    .await
    .map_err(|e| {
        error(
            "ServiceUnavailableException",
            format!("the call failed: {e}"),
        )
    })??;
    let mut resp = (StatusCode::OK, axum::Json(answer)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    Ok(resp)
}

fn error(code: &'static str, message: impl Into<String>) -> ApiError {
    let status = if code == "ServiceUnavailableException" {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(status, code, message).with_shape(ErrorShape::AwsJson)
}

fn run(call: &Call, operation: &str, body: &Value) -> std::result::Result<Value, ApiError> {
    let result = match operation {
        "CreateLogGroup" => groups::create_log_group(call, body),
        "DeleteLogGroup" => groups::delete_log_group(call, body),
        "DescribeLogGroups" => groups::describe_log_groups(call, body),
        "PutRetentionPolicy" => groups::retention(call, body, true),
        "DeleteRetentionPolicy" => groups::retention(call, body, false),
        "CreateLogStream" => events::create_log_stream(call, body),
        "DeleteLogStream" => events::delete_log_stream(call, body),
        "DescribeLogStreams" => events::describe_log_streams(call, body),
        "PutLogEvents" => events::put_log_events(call, body),
        "GetLogEvents" => events::get_log_events(call, body),
        "FilterLogEvents" => events::filter_log_events(call, body),
        "TagResource" | "TagLogGroup" => groups::tag(call, body, operation == "TagResource"),
        "UntagResource" | "UntagLogGroup" => {
            groups::untag(call, body, operation == "UntagResource")
        }
        "ListTagsForResource" | "ListTagsLogGroup" => {
            groups::list_tags(call, body, operation == "ListTagsForResource")
        }
        _ => {
            return Err(error(
                "UnknownOperationException",
                format!("onair does not implement CloudWatch Logs {operation}"),
            ))
        }
    };
    let taken = if operation.contains("Tag") {
        "TooManyTagsException"
    } else {
        "ResourceAlreadyExistsException"
    };
    result.map_err(|e| match e {
        ControlError::BadRequest(m) => error("InvalidParameterException", m),
        ControlError::NotFound(m) => error("ResourceNotFoundException", m),
        ControlError::Conflict(m) => error(taken, m),
        ControlError::Internal(m) => {
            tracing::error!("logs: {m}");
            error("ServiceUnavailableException", m)
        }
    })
}

fn bad(message: impl Into<String>) -> ControlError {
    ControlError::BadRequest(message.into())
}

/// A required `logGroupName`, checked against the model.
fn group_name<'a>(m: &mut Members<'a>) -> Result<&'a str> {
    let name = m.required_string("logGroupName")?;
    check_group_name("logGroupName", name)?;
    Ok(name)
}

/// `logGroupName` or `logGroupIdentifier` (a name or ARN), exactly one.
fn group_or_identifier(m: &mut Members) -> Result<String> {
    match (m.string("logGroupName")?, m.string("logGroupIdentifier")?) {
        (Some(name), None) => {
            check_group_name("logGroupName", name)?;
            Ok(name.to_string())
        }
        (None, Some(id)) => group_name_of(id).map(str::to_string).ok_or_else(|| {
            bad(format!(
                "logGroupIdentifier: '{id}' is neither a log group name nor a log group ARN"
            ))
        }),
        _ => Err(bad(
            "logGroupName, logGroupIdentifier: include either logGroupIdentifier or logGroupName, but not both",
        )),
    }
}

fn stream_name<'a>(m: &mut Members<'a>) -> Result<&'a str> {
    let name = m.required_string("logStreamName")?;
    check_stream_name("logStreamName", name)?;
    Ok(name)
}

fn next_token(m: &mut Members) -> Result<Option<String>> {
    match m.string("nextToken")? {
        Some("") => Err(constraint(
            "nextToken",
            "",
            "have length greater than or equal to 1",
        )),
        t => Ok(t.map(str::to_string)),
    }
}

#[cfg(test)]
mod tests;
