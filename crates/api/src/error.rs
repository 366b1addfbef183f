//! One error shape for every AWS-compatible response.
//!
//! rest-json clients (botocore, the CLI, the SDKs) read the error code from
//! the `x-amzn-ErrorType` header and the message from the body's `message`;
//! MediaLive's 422 adds `validationErrors`.

use axum::http::{header, HeaderValue, StatusCode};
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
    /// How the error is written: rest-json (the default) or an awsJson
    /// service's `__type` shape.
    pub shape: ErrorShape,
    /// Close the connection after the answer (`Connection: close`): the request's
    /// body was not read, or not all of it.
    pub close: bool,
}

/// The wire shape of an error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorShape {
    /// rest-json: `x-amzn-ErrorType` header, `{"message": …}`.
    #[default]
    RestJson,
    /// awsJson 1.1 (CloudWatch Logs, Secrets Manager): `{"__type": code, "message": …}`.
    AwsJson,
    /// awsJson 1.0 of an `awsQueryCompatible` service (CloudWatch): `__type`
    /// prefixed with the service's shape namespace, and the query error code
    /// in `x-amzn-query-error: Code;Sender` (or `;Receiver` for 5xx), which
    /// is how botocore finds the modelled exception.
    QueryCompatible { namespace: &'static str },
    /// awsQuery (SNS): `<ErrorResponse xmlns=namespace><Error><Type>Sender`
    /// (`Receiver` for 5xx)`</Type><Code/><Message/></Error><RequestId/>`,
    /// from which botocore raises the exception modelled with that code.
    /// The request id goes in the body and in `x-amzn-RequestId`.
    Query { namespace: &'static str },
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: None,
            shape: ErrorShape::RestJson,
            close: false,
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

    /// The same error written in `shape`.
    pub fn with_shape(mut self, shape: ErrorShape) -> Self {
        self.shape = shape;
        self
    }

    /// The same error, answered with `Connection: close`.
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
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

impl ApiError {
    /// `Sender` for a client's error, `Receiver` for ours (5xx).
    fn fault(&self) -> &'static str {
        if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        }
    }

    /// The awsQuery answer: the XML document, its request id in the header too.
    fn into_query_response(self, namespace: &str) -> Response {
        let request_id = crate::request_id();
        match crate::xml::error_response(
            namespace,
            self.fault(),
            self.code,
            &self.message,
            &request_id,
        ) {
            Ok(body) => {
                let mut resp = (self.status, body).into_response();
                let headers = resp.headers_mut();
                headers.insert("content-type", HeaderValue::from_static("text/xml"));
                if let Ok(v) = HeaderValue::from_str(&request_id) {
                    headers.insert("x-amzn-RequestId", v);
                }
                resp
            }
            Err(e) => {
                tracing::error!("cannot write an XML error: {e}");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let close = self.close;
        let mut resp = self.render();
        if close {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}

impl ApiError {
    fn render(self) -> Response {
        let (mut body, content_type) = match self.shape {
            ErrorShape::Query { namespace } => return self.into_query_response(namespace),
            ErrorShape::RestJson => (json!({ "message": self.message }), None),
            ErrorShape::AwsJson => (
                json!({ "__type": self.code, "message": self.message }),
                Some("application/x-amz-json-1.1"),
            ),
            ErrorShape::QueryCompatible { namespace } => (
                json!({ "__type": format!("{namespace}#{}", self.code), "message": self.message }),
                Some("application/x-amz-json-1.0"),
            ),
        };
        let query_error = format!("{};{}", self.code, self.fault());
        if let (Some(Value::Object(extra)), Value::Object(map)) = (self.extra, &mut body) {
            map.extend(extra);
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        let headers = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(self.code) {
            headers.insert("x-amzn-ErrorType", v);
        }
        if let ErrorShape::QueryCompatible { .. } = self.shape {
            if let Ok(v) = HeaderValue::from_str(&query_error) {
                headers.insert("x-amzn-query-error", v);
            }
        }
        if let Some(json) = content_type {
            headers.insert("content-type", HeaderValue::from_static(json));
        }
        resp
    }
}
