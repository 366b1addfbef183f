//! MediaConnect routes (restJson1, `/v1/…` and `/tags/{arn}`).
//!
//! Route table (labels are percent-decoded ARNs):
//!
//! | method | path | operation |
//! |---|---|---|
//! | POST | /v1/flows | CreateFlow |
//! | GET | /v1/flows | ListFlows |
//! | GET, PUT, DELETE | /v1/flows/{flowArn} | DescribeFlow, UpdateFlow, DeleteFlow |
//! | POST | /v1/flows/start/{flowArn}, /v1/flows/stop/{flowArn} | StartFlow, StopFlow |
//! | POST | /v1/flows/{flowArn}/outputs | AddFlowOutputs |
//! | PUT, DELETE | /v1/flows/{flowArn}/outputs/{outputArn} | UpdateFlowOutput, RemoveFlowOutput |
//! | POST | /v1/flows/{flowArn}/source | AddFlowSources |
//! | PUT, DELETE | /v1/flows/{flowArn}/source/{sourceArn} | UpdateFlowSource, RemoveFlowSource |
//! | POST, GET, DELETE | /tags/{resourceArn} | TagResource, ListTagsForResource, UntagResource |

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use control::ControlPlane;
use serde_json::{json, Value};

use crate::{ApiError, ApiRequest};

fn reply(status: StatusCode, body: Value) -> Result<Response, ApiError> {
    Ok((status, axum::Json(body)).into_response())
}

pub async fn handle(cp: &ControlPlane, req: &ApiRequest) -> Result<Response, ApiError> {
    let seg: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let m = &req.method;
    match (m, seg.as_slice()) {
        (&Method::POST, ["v1", "flows"]) => reply(
            StatusCode::CREATED,
            cp.create_flow(&req.region, &req.json()?)?,
        ),
        (&Method::GET, ["v1", "flows"]) => reply(
            StatusCode::OK,
            cp.list_flows(req.query("maxResults"), req.query("nextToken"))?,
        ),
        (&Method::POST, ["v1", "flows", "start", arn]) => {
            reply(StatusCode::ACCEPTED, cp.start_flow(arn)?)
        }
        (&Method::POST, ["v1", "flows", "stop", arn]) => {
            reply(StatusCode::ACCEPTED, cp.stop_flow(arn)?)
        }
        (&Method::GET, ["v1", "flows", arn]) => reply(StatusCode::OK, cp.describe_flow(arn)?),
        (&Method::PUT, ["v1", "flows", arn]) => {
            reply(StatusCode::ACCEPTED, cp.update_flow(arn, &req.json()?)?)
        }
        (&Method::DELETE, ["v1", "flows", arn]) => {
            reply(StatusCode::ACCEPTED, cp.delete_flow(arn)?)
        }
        (&Method::POST, ["v1", "flows", arn, "outputs"]) => {
            reply(StatusCode::CREATED, cp.add_flow_outputs(arn, &req.json()?)?)
        }
        (&Method::PUT, ["v1", "flows", arn, "outputs", out]) => reply(
            StatusCode::ACCEPTED,
            cp.update_flow_output(arn, out, &req.json()?)?,
        ),
        (&Method::DELETE, ["v1", "flows", arn, "outputs", out]) => {
            reply(StatusCode::ACCEPTED, cp.remove_flow_output(arn, out)?)
        }
        (&Method::POST, ["v1", "flows", arn, "source"]) => {
            reply(StatusCode::CREATED, cp.add_flow_sources(arn, &req.json()?)?)
        }
        (&Method::PUT, ["v1", "flows", arn, "source", src]) => reply(
            StatusCode::ACCEPTED,
            cp.update_flow_source(arn, src, &req.json()?)?,
        ),
        (&Method::DELETE, ["v1", "flows", arn, "source", src]) => {
            reply(StatusCode::ACCEPTED, cp.remove_flow_source(arn, src)?)
        }
        (&Method::GET, ["v1", "entitlements"]) => {
            reply(StatusCode::OK, json!({ "entitlements": [] }))
        }
        (&Method::POST, ["v1", "flows", _, "entitlements"]) => Err(ApiError::bad_request(
            "entitlements: onair does not support entitlements yet",
        )),
        (&Method::GET, ["tags", arn]) => {
            reply(StatusCode::OK, json!({ "tags": cp.flow_tags(arn)? }))
        }
        (&Method::POST, ["tags", arn]) => {
            let pairs = req.tag_pairs()?;
            cp.change_flow_tags(arn, |t| t.extend(pairs.iter().cloned()))?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (&Method::DELETE, ["tags", arn]) => {
            let keys = req.query_all("tagKeys");
            if keys.is_empty() {
                return Err(ApiError::bad_request("tagKeys: is required"));
            }
            cp.change_flow_tags(arn, |t| t.retain(|k, _| !keys.contains(&k.as_str())))?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(ApiError::bad_request(format!(
            "onair does not implement MediaConnect operation {m} /{}",
            seg.join("/")
        ))),
    }
}
