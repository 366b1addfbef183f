//! `AWS/MediaPackage` metrics from the origin's traffic counters.

use std::collections::HashMap;

use package::origin::traffic::{EgressTotals, IngressTotals, STATUS_RANGES};

use super::{delta, metric, Observation};

const NS: &str = "AWS/MediaPackage";

/// The origin's counters at one look, and the endpoints that exist.
#[derive(Clone, Debug, Default)]
pub struct TrafficView {
    /// Packaging channel id → its origin endpoint ids.
    pub channels: Vec<(String, Vec<String>)>,
    pub egress: HashMap<(String, String), EgressTotals>,
    pub ingress: HashMap<String, IngressTotals>,
}

/// What the observer remembers between looks.
#[derive(Default)]
pub(super) struct Seen {
    egress: HashMap<(String, String), EgressTotals>,
    ingress: HashMap<String, IngressTotals>,
}

pub(super) fn observe(seen: &mut Seen, view: &TrafficView, out: &mut Observation) {
    for (channel, endpoints) in &view.channels {
        let ingress = view.ingress.get(channel).copied().unwrap_or_default();
        let before = seen.ingress.get(channel).copied();
        let c = [("Channel", channel.as_str())];
        out.point(
            metric(NS, "IngressBytes", &c),
            delta(ingress.bytes, before.map(|b| b.bytes)) as f64,
            "Bytes",
        );
        out.point(
            metric(NS, "IngressRequestCount", &c),
            delta(ingress.requests, before.map(|b| b.requests)) as f64,
            "Count",
        );
        let (mut channel_requests, mut channel_bytes) = (0u64, 0u64);
        for endpoint in endpoints {
            let key = (channel.clone(), endpoint.clone());
            let now = view.egress.get(&key).copied().unwrap_or_default();
            let before = seen.egress.get(&key).copied();
            let e = [
                ("Channel", channel.as_str()),
                ("OriginEndpoint", endpoint.as_str()),
            ];
            let mut requests = 0u64;
            let mut bytes = 0u64;
            for (i, range) in STATUS_RANGES.iter().enumerate() {
                let r = delta(
                    now.requests.get(i).copied().unwrap_or(0),
                    before.and_then(|b| b.requests.get(i).copied()),
                );
                let b = delta(
                    now.bytes.get(i).copied().unwrap_or(0),
                    before.and_then(|b| b.bytes.get(i).copied()),
                );
                requests += r;
                bytes += b;
                let with_range = [
                    ("Channel", channel.as_str()),
                    ("OriginEndpoint", endpoint.as_str()),
                    ("StatusCodeRange", range),
                ];
                out.point(
                    metric(NS, "EgressRequestCount", &with_range),
                    r as f64,
                    "Count",
                );
            }
            out.point(
                metric(NS, "EgressRequestCount", &e),
                requests as f64,
                "Count",
            );
            out.point(metric(NS, "EgressBytes", &e), bytes as f64, "Bytes");
            let micros = delta(now.micros, before.map(|b| b.micros));
            if requests > 0 {
                out.point(
                    metric(NS, "EgressResponseTime", &e),
                    micros as f64 / 1000.0 / requests as f64,
                    "Milliseconds",
                );
            }
            channel_requests += requests;
            channel_bytes += bytes;
            seen.egress.insert(key, now);
        }
        out.point(
            metric(NS, "EgressRequestCount", &c),
            channel_requests as f64,
            "Count",
        );
        out.point(metric(NS, "EgressBytes", &c), channel_bytes as f64, "Bytes");
        seen.ingress.insert(channel.clone(), ingress);
    }
    seen.egress.retain(|(c, e), _| {
        view.channels
            .iter()
            .any(|(vc, ve)| vc == c && ve.contains(e))
    });
    seen.ingress
        .retain(|c, _| view.channels.iter().any(|(vc, _)| vc == c));
}
