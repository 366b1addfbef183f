//! CloudWatch (awsJson 1.0, `X-Amz-Target: GraniteServiceVersion20100801.<Op>`).

use axum::response::Response;

use crate::{ApiError, ApiRequest, AppState, ErrorShape};

/// The `X-Amz-Target` prefix of CloudWatch.
pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801";

/// CloudWatch's error shape: `__type` with the shape namespace, and the
/// query error code botocore matches in `x-amzn-query-error`.
pub const SHAPE: ErrorShape = ErrorShape::QueryCompatible {
    namespace: "com.amazonaws.cloudwatch",
};

pub async fn handle(
    _state: &AppState,
    _req: &ApiRequest,
    operation: &str,
) -> Result<Response, ApiError> {
    Err(ApiError::bad_request(format!(
        "onair does not implement CloudWatch {operation} yet"
    ))
    .with_shape(SHAPE))
}
