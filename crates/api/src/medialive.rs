//! MediaLive routes (restJson1, `/prod/…`).

use axum::response::Response;
use control::ControlPlane;

use crate::{ApiError, ApiRequest};

pub async fn handle(_cp: &ControlPlane, req: &ApiRequest) -> Result<Response, ApiError> {
    Err(crate::unknown_operation(req))
}
