//! CloudWatch Logs (awsJson 1.1, `X-Amz-Target: Logs_20140328.<Op>`).

use axum::response::Response;

use crate::{ApiError, ApiRequest, AppState, ErrorShape};

/// The `X-Amz-Target` prefix of CloudWatch Logs.
pub const TARGET_PREFIX: &str = "Logs_20140328";

pub async fn handle(
    _state: &AppState,
    _req: &ApiRequest,
    operation: &str,
) -> Result<Response, ApiError> {
    Err(ApiError::bad_request(format!(
        "onair does not implement CloudWatch Logs {operation} yet"
    ))
    .with_shape(ErrorShape::AwsJson))
}
