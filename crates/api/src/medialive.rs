//! MediaLive routes (restJson1, `/prod/…`).
//!
//! | method | path | operation |
//! |---|---|---|
//! | POST, GET | /prod/inputs | CreateInput, ListInputs |
//! | GET, PUT, DELETE | /prod/inputs/{inputId} | DescribeInput, UpdateInput, DeleteInput |
//! | POST, GET | /prod/inputSecurityGroups | CreateInputSecurityGroup, ListInputSecurityGroups |
//! | GET, PUT, DELETE | /prod/inputSecurityGroups/{inputSecurityGroupId} | DescribeInputSecurityGroup, UpdateInputSecurityGroup, DeleteInputSecurityGroup |
//! | POST, GET | /prod/channels | CreateChannel, ListChannels |
//! | GET, PUT, DELETE | /prod/channels/{channelId} | DescribeChannel, UpdateChannel, DeleteChannel |
//! | POST | /prod/channels/{channelId}/start, /stop | StartChannel, StopChannel |
//! | POST | /prod/batch/start, /prod/batch/stop | BatchStart, BatchStop |
//! | POST, GET, DELETE | /prod/tags/{resource-arn} | CreateTags, ListTagsForResource, DeleteTags |
//! | GET | /prod/channels/{channelId}/alerts | ListAlerts ([`list_alerts`]) |
//!
//! Create/UpdateChannel validation failures are 422
//! `UnprocessableEntityException` with `validationErrors`.

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use control::medialive::LiveError;
use control::ControlPlane;
use serde_json::{json, Value};

use crate::{ApiError, ApiRequest};

fn reply(status: StatusCode, body: Value) -> Result<Response, ApiError> {
    Ok((status, axum::Json(body)).into_response())
}

/// A 422 UnprocessableEntityException (or the control error's mapping).
pub fn live_error(e: LiveError) -> ApiError {
    match e {
        LiveError::Control(c) => c.into(),
        LiveError::Unprocessable(errors) => {
            let mut err = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UnprocessableEntityException",
                LiveError::message(&errors),
            );
            err.extra = Some(json!({ "validationErrors": errors }));
            err
        }
    }
}

/// `ListAlerts`: a channel's alerts as the metrics observer set and cleared
/// them (set ones first), filtered by `stateFilter` (`SET`, `CLEARED`,
/// `ALL`), in pages of `maxResults` (1 to 1000, default 100).
pub fn list_alerts(
    cp: &ControlPlane,
    hub: &monitor::Hub,
    req: &ApiRequest,
    channel_id: &str,
) -> Result<Response, ApiError> {
    let record = cp.live_channel_record(channel_id)?;
    let filter = req.query("stateFilter").unwrap_or("ALL");
    if !matches!(filter, "SET" | "CLEARED" | "ALL") {
        return Err(ApiError::bad_request(format!(
            "stateFilter: '{filter}' is not SET, CLEARED or ALL"
        )));
    }
    let max = match req.query("maxResults") {
        None => 100,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "maxResults: '{v}' is not a number from 1 to 1000"
                )))
            }
        },
    };
    let skip = match req.query("nextToken") {
        None | Some("") => 0,
        Some(t) => t.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!("nextToken: '{t}' is not a token onair gave"))
        })?,
    };
    let alerts: Vec<monitor::hub::feed::Alert> = hub
        .with_feed(|f| f.alerts(&record.id))
        .into_iter()
        .filter(|a| filter == "ALL" || a.state() == filter)
        .collect();
    let iso = |t: monitor::Timestamp| {
        i128::from(t.as_unix_millis())
            .checked_mul(1_000_000)
            .and_then(|nanos| time::OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
            .and_then(|d| {
                d.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
    };
    // Cut as MediaLive's other List operations cut theirs: a token past the
    // end is an empty last page.
    let (page, next) = control::page::Page { start: skip, max }.of(&alerts);
    let items: Vec<Value> = page
        .iter()
        .map(|a| {
            let mut v = json!({
                "alertType": a.alert_type,
                "id": a.id,
                "message": a.message,
                "pipelineId": a.pipeline_id,
                "setTimestamp": iso(a.set_at),
                "state": a.state(),
            });
            if let Some(c) = a.cleared_at {
                crate::set_member(&mut v, "clearedTimestamp", json!(iso(c)));
            }
            v
        })
        .collect();
    reply(
        StatusCode::OK,
        control::page::listing("alerts", items, next),
    )
}

pub async fn handle(cp: &ControlPlane, req: &ApiRequest) -> Result<Response, ApiError> {
    let seg: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let m = &req.method;
    match (m, seg.as_slice()) {
        (&Method::POST, ["prod", "inputs"]) => reply(
            StatusCode::CREATED,
            cp.create_input(&req.region, &req.json()?)?,
        ),
        (&Method::GET, ["prod", "inputs"]) => reply(
            StatusCode::OK,
            cp.list_inputs(req.query("maxResults"), req.query("nextToken"))?,
        ),
        (&Method::GET, ["prod", "inputs", id]) => reply(StatusCode::OK, cp.describe_input(id)?),
        (&Method::PUT, ["prod", "inputs", id]) => {
            reply(StatusCode::OK, cp.update_input(id, &req.json()?)?)
        }
        (&Method::DELETE, ["prod", "inputs", id]) => reply(StatusCode::OK, cp.delete_input(id)?),
        (&Method::POST, ["prod", "inputSecurityGroups"]) => reply(
            StatusCode::OK,
            cp.create_input_security_group(&req.region, &req.json()?)?,
        ),
        (&Method::GET, ["prod", "inputSecurityGroups"]) => reply(
            StatusCode::OK,
            cp.list_input_security_groups(req.query("maxResults"), req.query("nextToken"))?,
        ),
        (&Method::GET, ["prod", "inputSecurityGroups", id]) => {
            reply(StatusCode::OK, cp.describe_input_security_group(id)?)
        }
        (&Method::PUT, ["prod", "inputSecurityGroups", id]) => reply(
            StatusCode::OK,
            cp.update_input_security_group(id, &req.json()?)?,
        ),
        (&Method::DELETE, ["prod", "inputSecurityGroups", id]) => {
            reply(StatusCode::OK, cp.delete_input_security_group(id)?)
        }
        (&Method::POST, ["prod", "channels"]) => reply(
            StatusCode::CREATED,
            cp.create_channel(&req.region, &req.json()?)
                .map_err(live_error)?,
        ),
        (&Method::GET, ["prod", "channels"]) => reply(
            StatusCode::OK,
            cp.list_channels(req.query("maxResults"), req.query("nextToken"))?,
        ),
        (&Method::GET, ["prod", "channels", id]) => reply(StatusCode::OK, cp.describe_channel(id)?),
        (&Method::PUT, ["prod", "channels", id]) => reply(
            StatusCode::OK,
            cp.update_channel(id, &req.json()?).map_err(live_error)?,
        ),
        (&Method::DELETE, ["prod", "channels", id]) => {
            reply(StatusCode::OK, cp.delete_channel(id)?)
        }
        (&Method::POST, ["prod", "channels", id, "start"]) => {
            reply(StatusCode::OK, cp.start_channel(id)?)
        }
        (&Method::POST, ["prod", "channels", id, "stop"]) => {
            reply(StatusCode::OK, cp.stop_channel(id)?)
        }
        (&Method::POST, ["prod", "batch", "start"]) => {
            reply(StatusCode::OK, cp.batch_channels(&req.json()?, true)?)
        }
        (&Method::POST, ["prod", "batch", "stop"]) => {
            reply(StatusCode::OK, cp.batch_channels(&req.json()?, false)?)
        }
        (&Method::GET, ["prod", "tags", arn]) => reply(
            StatusCode::OK,
            json!({ "tags": cp.change_live_tags(arn, |_| {})? }),
        ),
        (&Method::POST, ["prod", "tags", arn]) => {
            let pairs = req.tag_pairs()?;
            cp.change_live_tags(arn, |t| t.extend(pairs.iter().cloned()))?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (&Method::DELETE, ["prod", "tags", arn]) => {
            let keys = req.query_all("tagKeys");
            if keys.is_empty() {
                return Err(ApiError::bad_request("tagKeys: is required"));
            }
            cp.change_live_tags(arn, |t| t.retain(|k, _| !keys.contains(&k.as_str())))?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(ApiError::bad_request(format!(
            "onair does not implement MediaLive operation {m} /{}",
            seg.join("/")
        ))),
    }
}
