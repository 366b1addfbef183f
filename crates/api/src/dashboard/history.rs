//! `GET /dashboard/api/history`: what the page's charts start from — the last
//! [`SECONDS`] of each flow's and source's `SourceBitRate` and of each
//! channel's `InputVideoFrameRate` and `EncoderSpeed`, as `[unix ms, value]`
//! pairs per second. Metrics nobody published read as empty lists; the page
//! then draws from the live snapshots alone.

use serde_json::{json, Map, Value};

use super::metrics;
use crate::AppState;
use monitor::series::MetricId;
use monitor::Timestamp;

/// How far back the charts reach.
pub const SECONDS: u64 = 300;

pub fn build(state: &AppState, now: Timestamp) -> String {
    let flows = super::snapshot::flow_sources(&state.cp);
    let channels: Vec<String> = state
        .cp
        .live_channel_records()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let body = state.monitor.with_store(|store| {
        let series =
            |id: Option<MetricId>| json!(metrics::series(store, now, id.as_ref(), SECONDS));
        let flows: Map<String, Value> = flows
            .iter()
            .map(|(arn, sources)| {
                let per_source: Map<String, Value> = sources
                    .iter()
                    .map(|(name, source_arn)| {
                        let id = metrics::source_bitrate(arn, source_arn);
                        (name.clone(), series(id))
                    })
                    .collect();
                let on_air = metrics::flow_bitrate(arn);
                (
                    arn.clone(),
                    json!({ "onAir": series(on_air), "sources": per_source }),
                )
            })
            .collect();
        let channels: Map<String, Value> = channels
            .iter()
            .map(|id| {
                let fps = metrics::channel("InputVideoFrameRate", id);
                let speed = metrics::channel("EncoderSpeed", id);
                (
                    id.clone(),
                    json!({ "fps": series(fps), "encoderSpeed": series(speed) }),
                )
            })
            .collect();
        json!({
            "at": now.as_unix_millis(),
            "seconds": SECONDS,
            "flows": flows,
            "channels": channels,
        })
    });
    body.to_string()
}
