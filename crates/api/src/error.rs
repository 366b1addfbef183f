//! One error shape for every AWS-compatible response.
//!
//! rest-json clients (botocore, the CLI, the SDKs) read the error code from
//! the `x-amzn-ErrorType` header and the message from the body's `message`;
//! MediaLive's 422 adds `validationErrors`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use control::ControlError;
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra body members (e.g. `validationErrors`).
    pub extra: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequestException", message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFoundException", message)
    }
}

/// The MediaConnect mapping of control-plane errors.
impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::BadRequest(m) => ApiError::bad_request(m),
            ControlError::NotFound(m) => ApiError::not_found(m),
            ControlError::Conflict(m) => {
                ApiError::new(StatusCode::CONFLICT, "ConflictException", m)
            }
            ControlError::Internal(m) => {
                tracing::error!("internal error: {m}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerErrorException",
                    m,
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "message": self.message });
        if let (Some(Value::Object(extra)), Value::Object(map)) = (self.extra, &mut body) {
            map.extend(extra);
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(self.code) {
            resp.headers_mut().insert("x-amzn-ErrorType", v);
        }
        resp
    }
}
