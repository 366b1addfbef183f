//! `GET /metrics`: the same numbers as CloudWatch, in the OpenMetrics text
//! format Prometheus scrapes (through `prometheus-client`).
//!
//! Every metric with a datapoint in the last [`FRESH_SECS`] seconds is one
//! gauge sample with its latest value: the family is the namespace and metric
//! name in snake case (`AWS/MediaConnect` `SourceBitRate` →
//! `aws_media_connect_source_bit_rate`), the labels are its dimensions in
//! snake case (`FlowARN` → `flow_arn`). Alarms are `onair_alarm_state`
//! gauges, 1 for the state the alarm is in and 0 for the others. The HTTP
//! front adds its own: `onair_http_connections_open`, and what its
//! [limits](crate::front::limits) turned away since the server started.
//!
//! The route is public, like the origin: bind onair to a trusted network or
//! put it behind a proxy if ARNs and metric values are not for everyone.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use monitor::series::Resolution;
use monitor::{Hub, Timestamp};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// A metric is exposed while its latest datapoint is this recent.
pub const FRESH_SECS: u64 = 10;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `CamelCase` (and any other characters) as a Prometheus name part.
pub fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len().saturating_add(8));
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
            let next = i.checked_add(1).and_then(|n| chars.get(n)).copied();
            let boundary = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(|n| n.is_ascii_lowercase()));
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_matches('_').to_owned();
    if trimmed.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        format!("m_{trimmed}")
    } else {
        trimmed
    }
}

/// A family name that `promtool check metrics` accepts for a gauge: no
/// metric type word in it (`…_continuity_counter` becomes `…_continuity_cc`,
/// as TR 101 290 calls continuity-counter errors) and none of the suffixes
/// reserved for counters, histograms and summaries (`…_request_count`
/// becomes `…_requests`, another `…_count` `…_number`).
pub fn gauge_name(name: &str) -> String {
    let mut parts: Vec<String> = name.split('_').map(str::to_owned).collect();
    for p in &mut parts {
        match p.as_str() {
            "counter" => *p = "cc".to_owned(),
            "gauge" | "histogram" | "summary" | "untyped" => p.push_str("_metric"),
            _ => {}
        }
    }
    let mut out = parts.join("_");
    if let Some(stem) = out.strip_suffix("_request_count") {
        out = format!("{stem}_requests");
    }
    for reserved in ["_count", "_sum", "_bucket", "_total", "_created", "_info"] {
        if let Some(stem) = out.strip_suffix(reserved) {
            out = format!("{stem}{reserved}_number");
            out = out.replacen("_count_number", "_number", 1);
            break;
        }
    }
    out
}

/// A label value as the text format needs it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

type Labels = Vec<(String, String)>;

/// One scrape's samples, grouped by family.
#[derive(Debug, Default)]
struct Scrape {
    families: BTreeMap<String, (String, Vec<(Labels, f64)>)>,
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for (name, (help, samples)) in &self.families {
            let gauge = ConstGauge::new(0.0f64);
            let mut family = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            for (labels, value) in samples {
                let sample = family.encode_family(labels)?;
                ConstGauge::new(*value).encode(sample)?;
            }
        }
        Ok(())
    }
}

fn collect(hub: &Hub, now: Timestamp) -> Scrape {
    let mut scrape = Scrape::default();
    hub.with_store(|store| {
        for id in store.list(&monitor::series::MetricFilter::default()) {
            let latest = store
                .read(
                    now,
                    id,
                    now.minus_secs(FRESH_SECS),
                    now.plus_secs(1),
                    Resolution::Second,
                )
                .last()
                .map(|(_, set)| *set);
            let Some(set) = latest else { continue };
            let value = if set.sample_count > 0.0 {
                set.sum / set.sample_count
            } else {
                continue;
            };
            let name = gauge_name(&format!(
                "{}_{}",
                snake(id.namespace()),
                snake(id.metric_name())
            ));
            let labels: Labels = id
                .dimensions()
                .iter()
                .map(|d| (snake(&d.name), escape(&d.value)))
                .collect();
            let entry = scrape.families.entry(name).or_insert_with(|| {
                let help = format!(
                    "CloudWatch {} {}, latest 1-second datapoint",
                    id.namespace(),
                    id.metric_name()
                );
                (help.replace(['\n', '\\'], " "), Vec::new())
            });
            entry.1.push((labels, value));
        }
    });
    let alarms = hub.with_alarms(|book| book.all());
    if !alarms.is_empty() {
        let mut samples = Vec::new();
        for a in &alarms {
            for state in ["OK", "ALARM", "INSUFFICIENT_DATA"] {
                samples.push((
                    vec![
                        ("alarm_name".to_owned(), escape(&a.definition.alarm_name)),
                        ("state".to_owned(), state.to_owned()),
                    ],
                    if a.state.as_str() == state { 1.0 } else { 0.0 },
                ));
            }
        }
        scrape.families.insert(
            "onair_alarm_state".to_owned(),
            (
                "CloudWatch metric alarm state: 1 for the state the alarm is in".to_owned(),
                samples,
            ),
        );
    }
    scrape
}

/// The HTTP front's numbers at one scrape.
#[derive(Debug, Default)]
struct FrontScrape {
    open: u64,
    refused: u64,
    /// (phase, count) of idle, header and body timeouts.
    timeouts: [(&'static str, u64); 3],
}

impl FrontScrape {
    fn of(front: &crate::front::Front) -> Self {
        let c = &front.counters;
        let read = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
        FrontScrape {
            open: front.open_connections() as u64,
            refused: read(&c.refused),
            timeouts: [
                ("idle", read(&c.idle_timeouts)),
                ("header", read(&c.header_timeouts)),
                ("body", read(&c.body_timeouts)),
            ],
        }
    }
}

impl Collector for FrontScrape {
    /// Gauges, as every family here: counts since the server started (a counter
    /// family's `_total` samples fail `promtool check metrics`).
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let gauge = |n: u64| ConstGauge::new(i64::try_from(n).unwrap_or(i64::MAX));
        for (name, help, value) in [
            (
                "onair_http_connections_open",
                "HTTP connections open now",
                self.open,
            ),
            (
                "onair_http_connections_refused",
                "HTTP connections answered 503 at --max-connections since the server started",
                self.refused,
            ),
        ] {
            let value = gauge(value);
            let metric = encoder.encode_descriptor(name, help, None, value.metric_type())?;
            value.encode(metric)?;
        }
        let mut family = encoder.encode_descriptor(
            "onair_http_timeouts",
            "HTTP connections closed at a timeout since the server started, by phase: idle, header or body",
            None,
            gauge(0).metric_type(),
        )?;
        for (phase, count) in self.timeouts {
            let labels = vec![("phase".to_owned(), phase.to_owned())];
            gauge(count).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// The exposition text at `now`, with the HTTP front's numbers when given.
pub fn render(
    hub: &Hub,
    front: Option<&crate::front::Front>,
    now: Timestamp,
) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(collect(hub, now)));
    if let Some(front) = front {
        registry.register_collector(Box::new(FrontScrape::of(front)));
    }
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text)
}

/// `GET /metrics`.
pub fn handle(hub: &Hub, front: &crate::front::Front) -> Response {
    match render(hub, Some(front), crate::cloudwatch::now()) {
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(_) => {
            let mut msg = String::new();
            let _ = write!(msg, "the metrics could not be encoded");
            (StatusCode::INTERNAL_SERVER_ERROR, msg).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use monitor::series::{MetricId, StoreConfig};
    use monitor::{Dimension, Identity, StatisticSet};

    #[test]
    fn names_in_snake_case() {
        assert_eq!(snake("AWS/MediaConnect"), "aws_media_connect");
        assert_eq!(snake("SourceBitRate"), "source_bit_rate");
        assert_eq!(snake("SourcePATError"), "source_pat_error");
        assert_eq!(snake("FlowARN"), "flow_arn");
        assert_eq!(snake("Output4xxErrors"), "output4xx_errors");
        assert_eq!(snake("9lives"), "m_9lives");
        assert_eq!(snake("a b/c"), "a_b_c");
        assert_eq!(
            gauge_name("aws_x_source_continuity_counter"),
            "aws_x_source_continuity_cc"
        );
        assert_eq!(
            gauge_name("aws_x_egress_request_count"),
            "aws_x_egress_requests"
        );
        assert_eq!(gauge_name("studio_fan_count"), "studio_fan_number");
        assert_eq!(gauge_name("studio_fan_total"), "studio_fan_total_number");
        assert_eq!(gauge_name("a_gauge_b"), "a_gauge_metric_b");
    }

    #[test]
    fn renders_openmetrics_with_escaped_labels() {
        let hub = Hub::new(
            Identity {
                account_id: "1".into(),
                region: "r".into(),
            },
            StoreConfig::default(),
        );
        let now = Timestamp::from_unix_secs(1_795_947_600);
        let id = MetricId::new(
            "AWS/MediaConnect",
            "SourceBitRate",
            vec![Dimension {
                name: "FlowARN".into(),
                value: "arn:\"x\"\\\n".into(),
            }],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        hub.put(
            now,
            &id,
            now.minus_secs(1),
            StatisticSet::value(5e6).unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let text = render(&hub, None, now).unwrap_or_default();
        assert!(
            text.contains("# TYPE aws_media_connect_source_bit_rate gauge"),
            "{text}"
        );
        assert!(
            text.contains(
                "aws_media_connect_source_bit_rate{flow_arn=\"arn:\\\"x\\\"\\\\\\n\"} 5000000.0"
            ),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
