//! MediaPackage v1 routes (restJson1, `/channels`, `/origin_endpoints`,
//! `/tags/{arn}` for MediaPackage ARNs).
//!
//! Route table:
//!
//! | method | path | operation |
//! |---|---|---|
//! | POST, GET | /channels | CreateChannel, ListChannels |
//! | GET, PUT, DELETE | /channels/{id} | DescribeChannel, UpdateChannel, DeleteChannel |
//! | PUT | /channels/{id}/ingest_endpoints/{ingest_endpoint_id}/credentials | RotateIngestEndpointCredentials |
//! | PUT | /channels/{id}/credentials | RotateChannelCredentials (deprecated) |
//! | POST, GET | /origin_endpoints | CreateOriginEndpoint, ListOriginEndpoints |
//! | GET, PUT, DELETE | /origin_endpoints/{id} | DescribeOriginEndpoint, UpdateOriginEndpoint, DeleteOriginEndpoint |
//! | POST, GET, DELETE | /tags/{resource-arn} | TagResource, ListTagsForResource, UntagResource |
//!
//! The model has no 400 or 409: every client error is
//! `UnprocessableEntityException` (422) with a `message` naming the member,
//! and a missing resource is `NotFoundException` (404).

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use control::{ControlError, ControlPlane};
use serde_json::Value;

use crate::{ApiError, ApiRequest};

fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "UnprocessableEntityException",
        message,
    )
}

/// The MediaPackage mapping of control-plane errors.
fn error(e: ControlError) -> ApiError {
    match e {
        ControlError::BadRequest(m) | ControlError::Conflict(m) => unprocessable(m),
        other => ApiError::from(other),
    }
}

fn reply(status: StatusCode, body: Result<Value, ControlError>) -> Result<Response, ApiError> {
    Ok((status, axum::Json(body.map_err(error)?)).into_response())
}

/// The body as JSON; a body that is not JSON is a 422 here.
fn body(req: &ApiRequest) -> Result<Value, ApiError> {
    req.json().map_err(|e| unprocessable(e.message))
}

pub async fn handle(cp: &ControlPlane, req: &ApiRequest) -> Result<Response, ApiError> {
    let seg: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let m = &req.method;
    let q = |k| req.query(k);
    match (m, seg.as_slice()) {
        (&Method::POST, ["channels"]) => reply(
            StatusCode::OK,
            cp.create_package_channel(&req.region, &body(req)?),
        ),
        (&Method::GET, ["channels"]) => reply(
            StatusCode::OK,
            cp.list_package_channels(q("maxResults"), q("nextToken")),
        ),
        (&Method::GET, ["channels", id]) => reply(StatusCode::OK, cp.describe_package_channel(id)),
        (&Method::PUT, ["channels", id]) => {
            reply(StatusCode::OK, cp.update_package_channel(id, &body(req)?))
        }
        (&Method::DELETE, ["channels", id]) => {
            reply(StatusCode::ACCEPTED, cp.delete_package_channel(id))
        }
        (&Method::PUT, ["channels", id, "ingest_endpoints", ep, "credentials"]) => {
            reply(StatusCode::OK, cp.rotate_ingest_credentials(id, Some(ep)))
        }
        (&Method::PUT, ["channels", id, "credentials"]) => {
            reply(StatusCode::OK, cp.rotate_ingest_credentials(id, None))
        }
        (&Method::PUT, ["channels", _, "configure_logs"]) => Err(unprocessable(
            "egressAccessLogs, ingressAccessLogs: onair does not implement access logs yet",
        )),
        (&Method::POST, ["origin_endpoints"]) => reply(
            StatusCode::OK,
            cp.create_origin_endpoint(&req.region, &body(req)?),
        ),
        (&Method::GET, ["origin_endpoints"]) => reply(
            StatusCode::OK,
            cp.list_origin_endpoints(q("channelId"), q("maxResults"), q("nextToken")),
        ),
        (&Method::GET, ["origin_endpoints", id]) => {
            reply(StatusCode::OK, cp.describe_origin_endpoint(id))
        }
        (&Method::PUT, ["origin_endpoints", id]) => {
            reply(StatusCode::OK, cp.update_origin_endpoint(id, &body(req)?))
        }
        (&Method::DELETE, ["origin_endpoints", id]) => {
            reply(StatusCode::ACCEPTED, cp.delete_origin_endpoint(id))
        }
        (&Method::GET, ["tags", arn]) => {
            let tags = cp.package_tags(arn).map_err(error)?;
            Ok(axum::Json(serde_json::json!({ "tags": tags })).into_response())
        }
        (&Method::POST, ["tags", arn]) => {
            let body = body(req)?;
            let mut f = control::fields::Fields::new("", &body).map_err(error)?;
            let tags = f
                .string_map("tags")
                .map_err(error)?
                .ok_or_else(|| unprocessable("tags: is required (a map of strings)"))?;
            f.finish().map_err(error)?;
            cp.change_package_tags(arn, |t| t.extend(tags))
                .map_err(error)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (&Method::DELETE, ["tags", arn]) => {
            let keys = req.query_all("tagKeys");
            if keys.is_empty() {
                return Err(unprocessable("tagKeys: is required"));
            }
            cp.change_package_tags(arn, |t| t.retain(|k, _| !keys.contains(&k.as_str())))
                .map_err(error)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(crate::unknown_operation(req)),
    }
}
