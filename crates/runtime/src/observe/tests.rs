//! The observer on a virtual clock: reports in, datapoints, alerts and
//! events out.

use control::medialive::model::ChannelRecord;
use control::reports::{ChannelCounters, ChannelReport, InputReport, InputState};
use control::{ControlPlane, Settings, Store};
use package::origin::traffic::{EgressTotals, IngressTotals};
use transport::{FlowStats, OutputStats, SourceStats, SrtLinkStats};

use super::*;

fn t(secs: u64) -> Timestamp {
    Timestamp::from_unix_secs(1_795_947_600 + secs)
}

fn value(obs: &Observation, name: &str, dims: &[(&str, &str)]) -> Option<f64> {
    let id = metric(obs.points.first()?.id.namespace(), name, dims)?;
    obs.points.iter().find(|p| p.id == id).map(|p| p.value)
}

fn flow_record() -> control::flow::model::FlowRecord {
    let cp = ControlPlane::with_store(Store::in_memory().unwrap(), Settings::default());
    cp.create_flow(
        "us-west-2",
        &serde_json::json!({
            "name": "studio",
            "sources": [
                {"name": "main", "protocol": "rtp", "ingestPort": 5000, "whitelistCidr": "127.0.0.0/8"},
                {"name": "backup", "protocol": "rtp", "ingestPort": 5010, "whitelistCidr": "127.0.0.0/8"},
            ],
            "sourceFailoverConfig": {"state": "ENABLED", "failoverMode": "FAILOVER",
                                     "sourcePriority": {"primarySource": "main"}},
        }),
    )
    .unwrap();
    cp.flow_records().unwrap().remove(0)
}

fn source(name: &str, bytes: u64, packets: u64, connected: bool, selected: bool) -> SourceStats {
    SourceStats {
        name: name.into(),
        bitrate_bps: 999,
        bytes,
        packets,
        connected,
        selected,
        ..SourceStats::default()
    }
}

#[test]
fn srt_sources_and_outputs_publish_their_connection() {
    let cp = ControlPlane::with_store(Store::in_memory().unwrap(), Settings::default());
    cp.create_flow(
        "us-west-2",
        &serde_json::json!({
            "name": "srt",
            "source": {"name": "enc", "protocol": "srt-listener", "ingestPort": 5000},
        }),
    )
    .unwrap();
    let rec = cp.flow_records().unwrap().remove(0);
    let arn = rec.flow.flow_arn.clone();
    let src_arn = rec.flow.source.source_arn.clone();
    let mut observer = Observer::default();
    let traffic = TrafficView::default();
    let stats = |packets: u64, link: SrtLinkStats| FlowStats {
        sources: vec![SourceStats {
            srt: Some(link.clone()),
            ..source("enc", packets * 1316, packets, packets > 0, true)
        }],
        outputs: vec![OutputStats {
            id: "out".into(),
            srt: Some(link),
            ..OutputStats::default()
        }],
        ..FlowStats::default()
    };
    let look = |observer: &mut Observer, secs, st: &FlowStats| {
        observer.observe(
            t(secs),
            &[FlowView {
                record: &rec,
                stats: st,
            }],
            &[],
            &traffic,
        )
    };
    let up = SrtLinkStats {
        connected: true,
        connections: 1,
        arq_requests: 4,
        arq_recovered: 3,
        rtt_ms: 1.5,
        ..SrtLinkStats::default()
    };
    look(&mut observer, 0, &stats(0, up.clone()));
    let one = look(
        &mut observer,
        1,
        &stats(
            100,
            SrtLinkStats {
                arq_requests: 10,
                arq_recovered: 8,
                refused: 2,
                dropped: 1,
                ..up.clone()
            },
        ),
    );
    let dims = [("FlowARN", arn.as_str()), ("SourceARN", src_arn.as_str())];
    // What libsrt dropped as too late is lost for good.
    assert_eq!(value(&one, "SourceNotRecoveredPackets", &dims), Some(1.0));
    assert_eq!(value(&one, "SourceARQRequests", &dims), Some(6.0));
    assert_eq!(value(&one, "SourceARQRecovered", &dims), Some(5.0));
    assert_eq!(value(&one, "SourceRoundTripTime", &dims), Some(1.5));
    assert_eq!(value(&one, "SourceConnected", &dims), Some(1.0));
    assert_eq!(value(&one, "SourceConnectionErrors", &dims), Some(2.0));
    let out = [("FlowARN", arn.as_str()), ("OutputARN", "out")];
    assert_eq!(value(&one, "OutputConnected", &out), Some(1.0));

    // The peer goes: connected drops, the disconnection is counted once,
    // even though the encoder was silent before (no datagram-based guess).
    let down = SrtLinkStats {
        connected: false,
        disconnections: 1,
        refused: 2,
        dropped: 1,
        ..up
    };
    let two = look(&mut observer, 2, &stats(100, down));
    assert_eq!(value(&two, "SourceConnected", &dims), Some(0.0));
    assert_eq!(value(&two, "SourceDisconnections", &dims), Some(1.0));
    assert_eq!(value(&two, "SourceNotRecoveredPackets", &dims), Some(0.0));
    assert_eq!(value(&two, "SourceRoundTripTime", &dims), Some(0.0));
    assert_eq!(value(&two, "OutputConnected", &out), Some(0.0));
}

#[test]
fn rist_sources_publish_arq_and_losses() {
    let cp = ControlPlane::with_store(Store::in_memory().unwrap(), Settings::default());
    cp.create_flow(
        "us-west-2",
        &serde_json::json!({
            "name": "rist",
            "source": {"name": "enc", "protocol": "rist", "ingestPort": 5000},
        }),
    )
    .unwrap();
    let rec = cp.flow_records().unwrap().remove(0);
    let arn = rec.flow.flow_arn.clone();
    let src_arn = rec.flow.source.source_arn.clone();
    let mut observer = Observer::default();
    let traffic = TrafficView::default();
    let stats = |packets: u64, link: transport::RistLinkStats| FlowStats {
        sources: vec![SourceStats {
            rist: Some(link),
            ..source("enc", packets * 1316, packets, true, true)
        }],
        ..FlowStats::default()
    };
    let look = |observer: &mut Observer, secs, st: &FlowStats| {
        observer.observe(
            t(secs),
            &[FlowView {
                record: &rec,
                stats: st,
            }],
            &[],
            &traffic,
        )
    };
    let up = transport::RistLinkStats {
        connected: true,
        arq_requests: 4,
        arq_recovered: 3,
        lost: 1,
        rtt_ms: 7.0,
        ..transport::RistLinkStats::default()
    };
    look(&mut observer, 0, &stats(0, up.clone()));
    let one = look(
        &mut observer,
        1,
        &stats(
            100,
            transport::RistLinkStats {
                arq_requests: 10,
                arq_recovered: 8,
                lost: 2,
                refused: 1,
                ..up
            },
        ),
    );
    let dims = [("FlowARN", arn.as_str()), ("SourceARN", src_arn.as_str())];
    assert_eq!(value(&one, "SourceARQRequests", &dims), Some(6.0));
    assert_eq!(value(&one, "SourceARQRecovered", &dims), Some(5.0));
    assert_eq!(value(&one, "SourceRoundTripTime", &dims), Some(7.0));
    assert_eq!(value(&one, "SourceNotRecoveredPackets", &dims), Some(1.0));
    assert_eq!(value(&one, "SourceConnectionErrors", &dims), Some(1.0));
}

#[test]
fn flows_publish_per_second_counts_and_events() {
    let rec = flow_record();
    let arn = rec.flow.flow_arn.clone();
    let main_arn = rec.flow.all_sources()[0].source_arn.clone();
    let mut observer = Observer::default();
    let traffic = TrafficView::default();
    let stats = |main: SourceStats, backup: SourceStats, active: &str| FlowStats {
        sources: vec![main, backup],
        active_source: Some(active.into()),
        ..FlowStats::default()
    };

    let s0 = stats(
        source("main", 0, 0, true, true),
        source("backup", 0, 0, true, false),
        "main",
    );
    let first = observer.observe(
        t(0),
        &[FlowView {
            record: &rec,
            stats: &s0,
        }],
        &[],
        &traffic,
    );
    assert_eq!(first.happenings[0].message, "flow started");
    // The first look has no second to difference: the engine's meter is used.
    assert_eq!(
        value(&first, "SourceBitRate", &[("FlowARN", &arn)]),
        Some(999.0)
    );

    let mut main = source("main", 250_000, 190, true, true);
    main.not_recovered = 10;
    main.dropped_not_allowed = 3;
    main.ts.continuity_errors = 2;
    let s1 = stats(main, source("backup", 125_000, 95, true, false), "main");
    let second = observer.observe(
        t(1),
        &[FlowView {
            record: &rec,
            stats: &s1,
        }],
        &[],
        &traffic,
    );
    let per_source = [("FlowARN", arn.as_str()), ("SourceARN", main_arn.as_str())];
    assert_eq!(
        value(&second, "SourceBitRate", &per_source),
        Some(2_000_000.0)
    );
    assert_eq!(
        value(&second, "SourceTotalPackets", &per_source),
        Some(190.0)
    );
    assert_eq!(
        value(&second, "SourceNotRecoveredPackets", &per_source),
        Some(10.0)
    );
    assert_eq!(
        value(&second, "SourcePacketLossPercent", &per_source),
        Some(5.0)
    );
    assert_eq!(
        value(&second, "SourceContinuityCounter", &per_source),
        Some(2.0)
    );
    assert_eq!(
        value(&second, "SourceConnectionErrors", &per_source),
        Some(3.0)
    );
    // The flow's own dimensions follow the source on air.
    assert_eq!(
        value(&second, "SourceBitRate", &[("FlowName", "studio")]),
        Some(2_000_000.0)
    );
    assert_eq!(
        value(&second, "SourceSelected", &[("FlowARN", &arn)]),
        Some(1.0)
    );
    assert!(second
        .happenings
        .iter()
        .any(|h| h.message.contains("refusing datagrams")));

    // The main source goes quiet: a disconnection, and the backup on air.
    let s2 = stats(
        source("main", 250_000, 190, false, false),
        source("backup", 250_000, 190, true, true),
        "backup",
    );
    let third = observer.observe(
        t(2),
        &[FlowView {
            record: &rec,
            stats: &s2,
        }],
        &[],
        &traffic,
    );
    assert_eq!(
        value(&third, "SourceDisconnections", &per_source),
        Some(1.0)
    );
    assert_eq!(value(&third, "SourceBitRate", &per_source), Some(0.0));
    assert_eq!(value(&third, "SourceUptime", &per_source), Some(0.0));
    assert_eq!(
        value(&third, "SourceBitRate", &[("FlowARN", &arn)]),
        Some(1_000_000.0)
    );
    let messages: Vec<&str> = third
        .happenings
        .iter()
        .map(|h| h.message.as_str())
        .collect();
    assert!(
        messages.contains(&"source main lost: nothing received for a second"),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"source switched: backup is on air"),
        "{messages:?}"
    );

    // A restarted engine's counters start again from zero: never negative.
    let s3 = stats(
        source("main", 10, 1, true, false),
        source("backup", 10, 1, true, true),
        "backup",
    );
    let fourth = observer.observe(
        t(3),
        &[FlowView {
            record: &rec,
            stats: &s3,
        }],
        &[],
        &traffic,
    );
    assert!(fourth.points.iter().all(|p| p.value >= 0.0));

    let stopped = observer.observe(t(4), &[], &[], &traffic);
    assert_eq!(stopped.happenings[0].message, "flow stopped");
    assert!(stopped.points.is_empty());
}

fn channel_record() -> ChannelRecord {
    serde_json::from_value(serde_json::json!({
        "arn": "arn:aws:medialive:us-west-2:000000000000:channel:42",
        "id": "42",
        "settings": {"name": "event"},
        "tags": {},
        "entered": "RUNNING",
        "enteredMs": 0,
        "createdMs": 0,
        "requestId": null,
    }))
    .unwrap()
}

fn report(frames: u64, sampled_ms: u64, loss: bool, active: &str) -> ChannelReport {
    ChannelReport {
        active_input: active.into(),
        input_loss: loss,
        inputs: vec![
            InputReport {
                name: "primary".into(),
                state: InputState::Connected,
                ..InputReport::default()
            },
            InputReport {
                name: "backup".into(),
                state: InputState::Connected,
                ..InputReport::default()
            },
        ],
        counters: ChannelCounters {
            decoded_frames: frames,
            busy_nanos: frames * 10_000_000,
            input_bytes: frames * 10_000,
            outputs: 2,
            frame_rate: (25, 1),
            sampled_ms,
            ..ChannelCounters::default()
        },
        ..ChannelReport::default()
    }
}

#[test]
fn channels_publish_rates_over_their_own_clock_and_alerts() {
    let rec = channel_record();
    let mut observer = Observer::default();
    let traffic = TrafficView::default();
    let dims = [("ChannelId", "42"), ("Pipeline", "0")];
    let look = |o: &mut Observer, at: u64, r: &ChannelReport| {
        o.observe(
            t(at),
            &[],
            &[ChannelView {
                record: &rec,
                report: r,
            }],
            &traffic,
        )
    };
    let first = look(&mut observer, 0, &report(0, 0, false, "primary"));
    assert_eq!(first.happenings[0].message, "channel running");
    let second = look(&mut observer, 1, &report(50, 2000, false, "primary"));
    // 50 frames over the report's 2 s, whatever the looks' spacing.
    assert_eq!(value(&second, "InputVideoFrameRate", &dims), Some(25.0));
    assert_eq!(
        value(&second, "InputVideoFrameRate", &[("ChannelId", "42")]),
        Some(25.0)
    );
    assert_eq!(value(&second, "EncoderSpeed", &dims), Some(4.0));
    assert_eq!(value(&second, "NetworkIn", &dims), Some(2.0));
    assert_eq!(value(&second, "PrimaryInputActive", &dims), Some(1.0));
    assert_eq!(value(&second, "ActiveOutputs", &dims), Some(2.0));
    // The same report again (a late supervisor pass): the rates repeat.
    let third = look(&mut observer, 2, &report(50, 2000, false, "primary"));
    assert_eq!(value(&third, "InputVideoFrameRate", &dims), Some(25.0));

    // Input loss on the backup: two alerts, counted.
    let fourth = look(&mut observer, 3, &report(75, 3000, true, "backup"));
    let set: Vec<&str> = fourth
        .alerts
        .iter()
        .filter(|a| a.set.is_some())
        .map(|a| a.alert_type)
        .collect();
    assert_eq!(set, ["Input Loss", "Input Failover"]);
    assert_eq!(value(&fourth, "ActiveAlerts", &dims), Some(2.0));
    assert_eq!(value(&fourth, "InputLossSeconds", &dims), Some(1.0));
    assert_eq!(value(&fourth, "PrimaryInputActive", &dims), Some(0.0));
    assert!(fourth
        .happenings
        .iter()
        .any(|h| h.message == "input switched: backup is on air"));
    // Still lost: nothing set twice.
    let fifth = look(&mut observer, 4, &report(75, 4000, true, "backup"));
    assert!(fifth.alerts.is_empty());
    // Back on the primary: both cleared once.
    let sixth = look(&mut observer, 5, &report(100, 5000, false, "primary"));
    assert_eq!(sixth.alerts.iter().filter(|a| a.set.is_none()).count(), 2);
    assert_eq!(value(&sixth, "ActiveAlerts", &dims), Some(0.0));
    // Stopped while an alert is set: it is cleared.
    look(&mut observer, 6, &report(125, 6000, true, "primary"));
    let stopped = observer.observe(t(7), &[], &[], &traffic);
    assert_eq!(stopped.alerts.len(), 1);
    assert!(stopped.alerts[0].set.is_none());
    assert_eq!(stopped.happenings[0].message, "channel stopped");
}

#[test]
fn refused_datagrams_are_counted_per_second_and_told_once() {
    let rec = channel_record();
    let mut observer = Observer::default();
    let traffic = TrafficView::default();
    let dims = [("ChannelId", "42"), ("Pipeline", "0")];
    let refusing = |frames: u64, at_ms: u64, refused: u64| {
        let mut r = report(frames, at_ms, false, "primary");
        r.inputs[0].refused = refused;
        r
    };
    let mut look = |at: u64, r: &ChannelReport| {
        observer.observe(
            t(at),
            &[],
            &[ChannelView {
                record: &rec,
                report: r,
            }],
            &traffic,
        )
    };
    look(0, &refusing(0, 0, 0));
    let second = look(1, &refusing(25, 1000, 40));
    assert_eq!(value(&second, "RefusedInputDatagrams", &dims), Some(40.0));
    let told: Vec<&str> = second
        .happenings
        .iter()
        .map(|h| h.message.as_str())
        .filter(|m| m.contains("refusing"))
        .collect();
    assert_eq!(
        told,
        ["input primary: refusing datagrams from senders outside its input security groups"]
    );
    let third = look(2, &refusing(50, 2000, 55));
    assert_eq!(value(&third, "RefusedInputDatagrams", &dims), Some(15.0));
    assert!(!third
        .happenings
        .iter()
        .any(|h| h.message.contains("refusing")));
}

#[test]
fn origin_traffic_becomes_mediapackage_metrics() {
    let mut observer = Observer::default();
    let mut view = TrafficView {
        channels: vec![("pkg".into(), vec!["hls".into()])],
        ..TrafficView::default()
    };
    let key = ("pkg".to_owned(), "hls".to_owned());
    let totals = |ok: u64, missing: u64, micros: u64| EgressTotals {
        requests: [ok, 0, missing, 0],
        bytes: [ok * 1000, 0, 0, 0],
        micros,
    };
    view.egress.insert(key.clone(), totals(10, 1, 1100));
    view.ingress.insert(
        "pkg".into(),
        IngressTotals {
            requests: 2,
            bytes: 500,
        },
    );
    observer.observe(t(0), &[], &[], &view);
    view.egress.insert(key.clone(), totals(14, 2, 1600));
    view.ingress.insert(
        "pkg".into(),
        IngressTotals {
            requests: 3,
            bytes: 800,
        },
    );
    let obs = observer.observe(t(1), &[], &[], &view);
    let e = [("Channel", "pkg"), ("OriginEndpoint", "hls")];
    assert_eq!(value(&obs, "EgressRequestCount", &e), Some(5.0));
    assert_eq!(value(&obs, "EgressBytes", &e), Some(4000.0));
    assert_eq!(value(&obs, "EgressResponseTime", &e), Some(0.1));
    let four = [
        ("Channel", "pkg"),
        ("OriginEndpoint", "hls"),
        ("StatusCodeRange", "4xx"),
    ];
    assert_eq!(value(&obs, "EgressRequestCount", &four), Some(1.0));
    assert_eq!(
        value(&obs, "IngressBytes", &[("Channel", "pkg")]),
        Some(300.0)
    );
    assert_eq!(
        value(&obs, "IngressRequestCount", &[("Channel", "pkg")]),
        Some(1.0)
    );
}
