//! What IAM and STS share of the awsQuery protocol: the form body (read
//! with SNS's [`Form`], every error re-coded for the service), its `Action`
//! and `Version`, and the XML answer in the service's namespace.

use axum::http::StatusCode;
use axum::response::Response;

use crate::sns::Form;
use crate::xml::{self, Xml};
use crate::{ApiError, ErrorShape};

/// An awsQuery service as its clients see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protocol {
    /// The XML namespace of its answers and errors.
    pub namespace: &'static str,
    /// The API version every request names.
    pub version: &'static str,
    /// The code of a member that does not read (the form's own errors).
    pub invalid: &'static str,
    /// The service's name in messages (`IAM`).
    pub name: &'static str,
}

impl Protocol {
    /// The service's error shape.
    pub const fn shape(self) -> ErrorShape {
        ErrorShape::Query {
            namespace: self.namespace,
        }
    }

    /// An error of this service.
    pub fn error(
        self,
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError::new(status, code, message).with_shape(self.shape())
    }

    /// An error of the form reader (SNS's codes), in this service's code and
    /// shape.
    pub fn reshape(self, e: ApiError) -> ApiError {
        self.error(e.status, self.invalid, e.message)
    }

    /// The form of a request body, and its `Action`; a `Version` other than
    /// the service's is refused.
    pub fn parse(self, body: &[u8]) -> Result<(String, Form), ApiError> {
        let mut form = Form::parse(body).map_err(|e| self.reshape(e))?;
        let action = form
            .optional("Action")
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                self.error(
                    StatusCode::BAD_REQUEST,
                    "MissingAction",
                    "Action: is required",
                )
            })?;
        match form.optional("Version") {
            Some(v) if v != self.version => Err(self.error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValue",
                format!(
                    "Version: onair speaks {} {}, not '{v}'",
                    self.name, self.version
                ),
            )),
            _ => Ok((action, form)),
        }
    }

    /// `InvalidAction` (400) for an action onair does not implement.
    pub fn unknown_action(self, action: &str) -> ApiError {
        self.error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            format!(
                "Action: onair does not implement the {} action '{action}'",
                self.name
            ),
        )
    }

    /// The answer of `action`, its result written by `result` (none when the
    /// action has no output).
    pub fn answer<F>(self, action: &str, result: Option<F>) -> Result<Response, ApiError>
    where
        F: FnOnce(&mut Xml) -> std::io::Result<()>,
    {
        let request_id = crate::request_id();
        let body =
            xml::query_response(self.namespace, action, &request_id, result).map_err(|e| {
                self.error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServiceFailure",
                    format!("cannot write the answer: {e}"),
                )
            })?;
        Ok(xml::ok(body, &request_id))
    }
}

/// A timestamp as awsQuery answers carry it (ISO 8601, UTC, in seconds:
/// `2026-11-29T12:00:05Z`).
pub fn timestamp(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Protocol = Protocol {
        namespace: "urn:test",
        version: "2010-05-08",
        invalid: "InvalidInput",
        name: "TEST",
    };

    #[test]
    fn action_and_version() {
        let (action, mut form) = P
            .parse(b"Action=GetRole&Version=2010-05-08&RoleName=r")
            .unwrap();
        assert_eq!(action, "GetRole");
        assert_eq!(form.required("RoleName").unwrap(), "r");
        form.finish(&action).unwrap();
        let e = P.parse(b"Version=2010-05-08").unwrap_err();
        assert_eq!((e.code, e.shape), ("MissingAction", P.shape()));
        let e = P.parse(b"Action=X&Version=2011-06-15").unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        assert!(e.message.contains("TEST 2010-05-08"), "{}", e.message);
        let e = P.parse(b"Action=X&Action=Y").unwrap_err();
        assert_eq!((e.code, e.shape), ("InvalidInput", P.shape()));
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(1_764_417_605_042), "2025-11-29T12:00:05Z");
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(i64::MAX), "1970-01-01T00:00:00Z");
    }
}
