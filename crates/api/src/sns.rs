//! SNS (awsQuery: form-encoded `Action=…` requests, XML responses).

use axum::response::Response;

use crate::{ApiError, ApiRequest, AppState};

/// Whether a POST is an SNS call: signed for service `sns`.
pub fn is_sns(req: &ApiRequest) -> bool {
    req.service == "sns"
}

pub async fn handle(_state: &AppState, _req: &ApiRequest) -> Result<Response, ApiError> {
    Err(ApiError::bad_request("onair does not implement SNS yet"))
}
