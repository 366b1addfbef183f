//! Secrets Manager (awsJson 1.1, `X-Amz-Target: secretsmanager.<Op>`).
//!
//! Every call is `POST /` with a JSON body of PascalCase members and answers
//! `application/x-amz-json-1.1`; timestamps are seconds since 1970. Errors
//! are `{"__type": code, "message": …}`, and boto3 raises the modelled
//! exception of that code:
//!
//! | control-plane error | code (HTTP) |
//! |---|---|
//! | a member's value is not valid, or not implemented | InvalidParameterException (400) |
//! | not valid in the secret's state (scheduled for deletion) | InvalidRequestException (400) |
//! | no such secret or version | ResourceNotFoundException (400) |
//! | the name or version exists | ResourceExistsException (400) |
//! | a paging token onair did not give | InvalidNextTokenException (400) |
//! | a storage fault | InternalServiceError (500) |
//!
//! Operations: GetRandomPassword ([`control::secrets::password`]),
//! CreateSecret, PutSecretValue, GetSecretValue, DescribeSecret,
//! ListSecrets, DeleteSecret and RestoreSecret. Secrets and their rules live
//! in [`control::secrets`]; this module reads members and writes answers.
//! Values are never logged, and no error message carries one.

mod secrets;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use control::secrets::SecretsError;
use control::{ControlError, ControlPlane};
use serde_json::{json, Value};

use crate::logs::members::Members;
use crate::{ApiError, ApiRequest, AppState, ErrorShape};

/// The `X-Amz-Target` prefix of Secrets Manager.
pub const TARGET_PREFIX: &str = "secretsmanager";

/// Every operation this module answers.
pub const OPERATIONS: &[&str] = &[
    "GetRandomPassword",
    "CreateSecret",
    "PutSecretValue",
    "GetSecretValue",
    "DescribeSecret",
    "ListSecrets",
    "DeleteSecret",
    "RestoreSecret",
];

/// What every operation knows besides its body.
struct Call<'a> {
    cp: &'a ControlPlane,
    region: &'a str,
    now_ms: i64,
}

type Result<T> = std::result::Result<T, ApiError>;

/// A Secrets Manager error: 400, or 500 for a fault of ours.
fn error(code: &'static str, message: impl Into<String>) -> ApiError {
    let status = if code == "InternalServiceError" {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(status, code, message).with_shape(ErrorShape::AwsJson)
}

fn control_error(e: ControlError) -> ApiError {
    match e {
        ControlError::BadRequest(m) => error("InvalidParameterException", m),
        ControlError::NotFound(m) => error("ResourceNotFoundException", m),
        ControlError::Conflict(m) => error("InvalidRequestException", m),
        ControlError::Internal(m) => {
            tracing::error!("secretsmanager: {m}");
            error("InternalServiceError", m)
        }
    }
}

/// A Secrets Manager error as Secrets Manager answers it.
fn secrets_error(e: SecretsError) -> ApiError {
    match e {
        SecretsError::InvalidParameter(m) => error("InvalidParameterException", m),
        SecretsError::InvalidRequest(m) => error("InvalidRequestException", m),
        SecretsError::ResourceNotFound(m) => error("ResourceNotFoundException", m),
        SecretsError::ResourceExists(m) => error("ResourceExistsException", m),
        SecretsError::Control(c) => control_error(c),
    }
}

/// Answers a signed Secrets Manager call.
pub async fn handle(state: &AppState, req: &ApiRequest, operation: &str) -> Result<Response> {
    let body: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&req.body).map_err(|e| {
            error(
                "InvalidParameterException",
                format!("request body is not valid JSON: {e}"),
            )
        })?
    };
    let now_ms = i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(0);
    let call = Call {
        cp: &state.cp,
        region: &req.region,
        now_ms,
    };
    let answer = run(&call, operation, &body)?;
    let mut resp = (StatusCode::OK, axum::Json(answer)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    Ok(resp)
}

fn run(call: &Call, operation: &str, body: &Value) -> Result<Value> {
    let m = Members::new(body).map_err(control_error)?;
    match operation {
        "GetRandomPassword" => secrets::random_password(m),
        "CreateSecret" => secrets::create(call, m),
        "PutSecretValue" => secrets::put_value(call, m),
        "GetSecretValue" => secrets::get_value(call, m),
        "DescribeSecret" => secrets::describe(call, m),
        "ListSecrets" => secrets::list(call, m),
        "DeleteSecret" => secrets::delete(call, m),
        "RestoreSecret" => secrets::restore(call, m),
        _ => Err(error(
            "UnknownOperationException",
            format!("onair does not implement Secrets Manager {operation}"),
        )),
    }
}

/// Seconds since 1970, as the JSON protocols carry timestamps.
fn seconds(ms: i64) -> Value {
    // Milliseconds of a real clock are exact in an f64.
    json!(ms as f64 / 1000.0)
}

/// The body of the `iam_secrets` fuzz target's Secrets Manager half
/// (and of a property test): the first byte picks an operation, the rest is
/// its body. Whatever the bytes, the answer is JSON or an error in Secrets
/// Manager's shape, never a panic.
pub fn fuzz_operation(state: &AppState, data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let Some(operation) = usize::from(pick)
        .checked_rem(OPERATIONS.len())
        .and_then(|i| OPERATIONS.get(i))
    else {
        return;
    };
    let req = ApiRequest {
        method: axum::http::Method::POST,
        segments: Vec::new(),
        query: Vec::new(),
        body: bytes::Bytes::copy_from_slice(body),
        region: "us-west-2".into(),
        service: "secretsmanager".into(),
        target: Some(format!("{TARGET_PREFIX}.{operation}")),
        content_type: Some("application/x-amz-json-1.1".into()),
        content_encoding: None,
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    if let Err(e) = rt.block_on(handle(state, &req, operation)) {
        assert_eq!(e.shape, ErrorShape::AwsJson, "{e:?}");
        assert!(e.status.is_client_error(), "{e:?}");
    }
}

#[cfg(test)]
mod tests;
