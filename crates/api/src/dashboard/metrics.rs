//! The CloudWatch metrics the dashboard reads from the monitor's store: their
//! identities (namespace, name, dimensions as the engines publish them) and
//! the two reads it makes, the latest second and the last few minutes.

use monitor::series::{MetricId, Resolution, Store};
use monitor::{Dimension, Timestamp};

/// How old the newest point of a metric may be and still be shown as "now".
pub const FRESH_SECS: u64 = 5;

fn id(namespace: &str, name: &str, dims: &[(&str, &str)]) -> Option<MetricId> {
    let dims = dims
        .iter()
        .map(|(name, value)| Dimension {
            name: (*name).to_owned(),
            value: (*value).to_owned(),
        })
        .collect();
    MetricId::new(namespace, name, dims).ok()
}

/// `AWS/MediaConnect SourceBitRate [FlowARN]`: what the flow carries on air.
pub fn flow_bitrate(flow_arn: &str) -> Option<MetricId> {
    id(
        "AWS/MediaConnect",
        "SourceBitRate",
        &[("FlowARN", flow_arn)],
    )
}

/// `AWS/MediaConnect SourceBitRate [FlowARN, SourceARN]`: one source.
pub fn source_bitrate(flow_arn: &str, source_arn: &str) -> Option<MetricId> {
    id(
        "AWS/MediaConnect",
        "SourceBitRate",
        &[("FlowARN", flow_arn), ("SourceARN", source_arn)],
    )
}

/// `AWS/MediaLive <name> [ChannelId, Pipeline=0]`.
pub fn channel(name: &str, channel_id: &str) -> Option<MetricId> {
    id(
        "AWS/MediaLive",
        name,
        &[("ChannelId", channel_id), ("Pipeline", "0")],
    )
}

/// `AWS/MediaPackage EgressRequestCount [Channel, OriginEndpoint]`.
pub fn egress_requests(channel_id: &str, endpoint_id: &str) -> Option<MetricId> {
    id(
        "AWS/MediaPackage",
        "EgressRequestCount",
        &[("Channel", channel_id), ("OriginEndpoint", endpoint_id)],
    )
}

/// The average of the newest 1-second point at most [`FRESH_SECS`] old.
pub fn latest(store: &Store, now: Timestamp, id: Option<&MetricId>) -> Option<f64> {
    let id = id?;
    store
        .read(
            now,
            id,
            now.minus_secs(FRESH_SECS),
            now.plus_secs(1),
            Resolution::Second,
        )
        .last()
        .and_then(|(_, set)| set.average())
}

/// The sum of the last `secs` complete seconds, per second.
pub fn rate(store: &Store, now: Timestamp, id: Option<&MetricId>, secs: u64) -> Option<f64> {
    let id = id?;
    let end = now.floor_to(1);
    let points = store.read(now, id, end.minus_secs(secs), end, Resolution::Second);
    (!points.is_empty()).then(|| points.iter().map(|(_, s)| s.sum).sum::<f64>() / secs as f64)
}

/// `[unix ms, average]` per second over the last `secs` seconds, oldest first.
pub fn series(store: &Store, now: Timestamp, id: Option<&MetricId>, secs: u64) -> Vec<[f64; 2]> {
    let Some(id) = id else { return Vec::new() };
    store
        .read(
            now,
            id,
            now.minus_secs(secs),
            now.plus_secs(1),
            Resolution::Second,
        )
        .into_iter()
        .filter_map(|(t, set)| Some([t.as_unix_millis() as f64, set.average()?]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use monitor::series::StoreConfig;

    #[test]
    fn dimensions_are_sorted_as_the_store_keys_them() {
        let id = source_bitrate("arn:flow", "arn:source").unwrap();
        let names: Vec<&str> = id.dimensions().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["FlowARN", "SourceARN"]);
        let id = egress_requests("live", "hls").unwrap();
        let names: Vec<&str> = id.dimensions().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["Channel", "OriginEndpoint"]);
    }

    #[test]
    fn latest_rate_and_series() {
        let mut store = Store::new(StoreConfig::default());
        let now = Timestamp::from_unix_secs(1_795_947_600);
        let id = flow_bitrate("arn:flow");
        for s in 0..10 {
            let at = now.minus_secs(10 - s);
            store
                .put(now, id.as_ref().unwrap(), at, 1000.0 * s as f64)
                .unwrap();
        }
        assert_eq!(latest(&store, now, id.as_ref()), Some(9000.0));
        assert_eq!(latest(&store, now.plus_secs(30), id.as_ref()), None);
        assert_eq!(rate(&store, now, id.as_ref(), 2), Some(8500.0));
        let points = series(&store, now, id.as_ref(), 5);
        assert_eq!(points.len(), 5);
        assert_eq!(
            points.first(),
            Some(&[now.minus_secs(5).as_unix_millis() as f64, 5000.0])
        );
        assert!(series(&store, now, flow_bitrate("other").as_ref(), 300).is_empty());
    }
}
