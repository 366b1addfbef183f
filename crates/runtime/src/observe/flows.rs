//! `AWS/MediaConnect` metrics and flow events.

use std::collections::HashMap;

use monitor::hub::feed::Severity;
use transport::{OutputStats, SourceStats};

use super::{delta, metric, FlowView, Happening, Observation};

const NS: &str = "AWS/MediaConnect";

/// What the observer remembers of a flow between looks.
#[derive(Default)]
pub(super) struct Seen {
    name: String,
    sources: HashMap<String, SourceSeen>,
    outputs: HashMap<String, OutputStats>,
    active: Option<String>,
}

#[derive(Default)]
struct SourceSeen {
    stats: Option<SourceStats>,
    /// Seconds connected without a break.
    uptime: f64,
}

/// Per-second values of one source.
#[derive(Default)]
struct SourceSecond {
    bitrate: f64,
    packets: f64,
    dropped: f64,
    recovered: f64,
    not_recovered: f64,
    loss_percent: f64,
    fec_packets: f64,
    connected: bool,
    selected: bool,
    disconnections: f64,
    uptime: f64,
    jitter: f64,
    connection_errors: f64,
    continuity: f64,
    pat: f64,
    pmt: f64,
    pid: f64,
    ts_byte: f64,
    sync_loss: f64,
    transport_errors: f64,
    crc: f64,
    /// SRT and RIST sources only.
    srt: Option<SrtSecond>,
}

/// Per-second values of an SRT (or RIST) source's retransmission.
struct SrtSecond {
    arq_requests: f64,
    arq_recovered: f64,
    round_trip_ms: f64,
}

fn second(now: &SourceStats, seen: &mut SourceSeen, elapsed: f64) -> SourceSecond {
    let before = seen.stats.as_ref();
    let d = |f: fn(&SourceStats) -> u64| delta(f(now), before.map(f)) as f64;
    let packets = d(|s| s.packets);
    let recovered = d(|s| s.fec_recovered);
    // A RIST source's losses are librist's: packets its ARQ gave up on; an
    // SRT source's are the packets libsrt dropped as too late.
    let rist_before = before.and_then(|b| b.rist.as_ref());
    let rist_lost = now
        .rist
        .as_ref()
        .map_or(0.0, |l| delta(l.lost, rist_before.map(|b| b.lost)) as f64);
    let srt_dropped = now.srt.as_ref().map_or(0.0, |l| {
        let before = before.and_then(|b| b.srt.as_ref()).map(|b| b.dropped);
        delta(l.dropped, before) as f64
    });
    let not_recovered = d(|s| s.not_recovered) + rist_lost + srt_dropped;
    let was_connected = before.is_some_and(|b| b.connected);
    // An SRT source is connected while its SRT connection is up (even when
    // the encoder sends nothing), and counts its own disconnections.
    let srt_before = before.and_then(|b| b.srt.as_ref());
    let (connected, disconnections, refused) = match &now.srt {
        Some(l) => (
            l.connected,
            delta(l.disconnections, srt_before.map(|b| b.disconnections)) as f64,
            delta(l.refused, srt_before.map(|b| b.refused)) as f64,
        ),
        None if was_connected && !now.connected => (false, 1.0, 0.0),
        None => (
            now.connected,
            0.0,
            now.rist.as_ref().map_or(0.0, |l| {
                delta(l.refused, rist_before.map(|b| b.refused)) as f64
            }),
        ),
    };
    let srt = now.srt.as_ref().map(|l| SrtSecond {
        arq_requests: delta(l.arq_requests, srt_before.map(|b| b.arq_requests)) as f64,
        arq_recovered: delta(l.arq_recovered, srt_before.map(|b| b.arq_recovered)) as f64,
        round_trip_ms: if l.connected { l.rtt_ms } else { 0.0 },
    });
    // RIST's ARQ is published under the same names as SRT's.
    let srt = srt.or_else(|| {
        now.rist.as_ref().map(|l| SrtSecond {
            arq_requests: delta(l.arq_requests, rist_before.map(|b| b.arq_requests)) as f64,
            arq_recovered: delta(l.arq_recovered, rist_before.map(|b| b.arq_recovered)) as f64,
            round_trip_ms: if l.connected { l.rtt_ms } else { 0.0 },
        })
    });
    seen.uptime = if connected {
        seen.uptime + elapsed
    } else {
        0.0
    };
    let expected = packets + not_recovered;
    // The bytes that arrived since the last look: an exact average over the
    // second, where the engine's meter is a moving estimate.
    let bitrate = match before {
        Some(_) => d(|s| s.bytes) * 8.0 / elapsed,
        None => now.bitrate_bps as f64,
    };
    SourceSecond {
        bitrate,
        packets,
        dropped: recovered + not_recovered,
        recovered,
        not_recovered,
        loss_percent: if expected > 0.0 {
            100.0 * not_recovered / expected
        } else {
            0.0
        },
        fec_packets: d(|s| s.fec_packets),
        connected,
        selected: now.selected,
        disconnections,
        uptime: seen.uptime.floor(),
        jitter: now.jitter_ms,
        connection_errors: d(|s| s.dropped_not_allowed)
            + d(|s| s.malformed)
            + disconnections
            + refused,
        continuity: d(|s| s.ts.continuity_errors),
        pat: d(|s| s.ts.pat_errors),
        pmt: d(|s| s.ts.pmt_errors),
        pid: d(|s| s.ts.pid_errors),
        ts_byte: d(|s| s.ts.sync_byte_errors),
        sync_loss: d(|s| s.ts.sync_loss),
        transport_errors: d(|s| s.ts.transport_errors),
        crc: d(|s| s.ts.crc_errors),
        srt,
    }
}

fn publish(out: &mut Observation, dims: &[(&str, &str)], s: &SourceSecond, merge: bool) {
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let rows: [(&str, f64, &'static str); 22] = [
        ("SourceBitRate", s.bitrate, "Bits/Second"),
        ("SourceTotalPackets", s.packets, "Count"),
        ("SourceDroppedPackets", s.dropped, "Count"),
        ("SourceRecoveredPackets", s.recovered, "Count"),
        ("SourceNotRecoveredPackets", s.not_recovered, "Count"),
        ("SourcePacketLossPercent", s.loss_percent, "Percent"),
        ("SourceFECPackets", s.fec_packets, "Count"),
        ("SourceFECRecovered", s.recovered, "Count"),
        ("SourceConnected", flag(s.connected), "None"),
        ("SourceSelected", flag(s.selected), "None"),
        ("SourceDisconnections", s.disconnections, "Count"),
        ("SourceUptime", s.uptime, "Seconds"),
        ("SourceJitter", s.jitter, "Milliseconds"),
        ("SourceConnectionErrors", s.connection_errors, "Count"),
        ("SourceContinuityCounter", s.continuity, "Count"),
        ("SourcePATError", s.pat, "Count"),
        ("SourcePMTError", s.pmt, "Count"),
        ("SourcePIDError", s.pid, "Count"),
        ("SourceTSByteError", s.ts_byte, "Count"),
        ("SourceTSSyncLoss", s.sync_loss, "Count"),
        ("SourceTransportError", s.transport_errors, "Count"),
        ("SourceCRCError", s.crc, "Count"),
    ];
    for (name, value, unit) in rows {
        out.point(metric(NS, name, dims), value, unit);
    }
    if let Some(srt) = &s.srt {
        let rows = [
            ("SourceARQRequests", srt.arq_requests, "Count"),
            ("SourceARQRecovered", srt.arq_recovered, "Count"),
            ("SourceRoundTripTime", srt.round_trip_ms, "Milliseconds"),
        ];
        for (name, value, unit) in rows {
            out.point(metric(NS, name, dims), value, unit);
        }
    }
    if merge {
        out.point(
            metric(NS, "SourceMergeActive", dims),
            flag(s.selected),
            "None",
        );
    }
}

pub(super) fn observe(
    seen: &mut HashMap<String, Seen>,
    flows: &[FlowView<'_>],
    elapsed: f64,
    out: &mut Observation,
) {
    seen.retain(|arn, s| {
        let running = flows.iter().any(|f| f.record.flow.flow_arn == *arn);
        if !running {
            out.happenings.push(Happening {
                service: "mediaconnect",
                resource: arn.clone(),
                name: s.name.clone(),
                severity: Severity::Info,
                message: "flow stopped".to_owned(),
            });
        }
        running
    });
    for f in flows {
        let flow = &f.record.flow;
        let arn = flow.flow_arn.as_str();
        if !seen.contains_key(arn) {
            out.happenings.push(Happening {
                service: "mediaconnect",
                resource: arn.to_owned(),
                name: flow.name.clone(),
                severity: Severity::Info,
                message: "flow started".to_owned(),
            });
        }
        let state = seen.entry(arn.to_owned()).or_default();
        state.name = flow.name.clone();
        let merge = f.stats.merge.is_some();
        let mut seconds = Vec::new();
        for source in flow.all_sources() {
            let Some(now) = f.stats.sources.iter().find(|s| s.name == source.name) else {
                continue;
            };
            let s_seen = state.sources.entry(source.name.clone()).or_default();
            let was = s_seen.stats.as_ref().map(|s| s.connected);
            let sec = second(now, s_seen, elapsed);
            match (was, now.connected) {
                (Some(false) | None, true) if was.is_some() || now.packets > 0 => {
                    out.happenings.push(Happening {
                        service: "mediaconnect",
                        resource: arn.to_owned(),
                        name: flow.name.clone(),
                        severity: Severity::Info,
                        message: format!("source {} connected: receiving", source.name),
                    })
                }
                (Some(true), false) => out.happenings.push(Happening {
                    service: "mediaconnect",
                    resource: arn.to_owned(),
                    name: flow.name.clone(),
                    severity: Severity::Error,
                    message: format!("source {} lost: nothing received for a second", source.name),
                }),
                _ => {}
            }
            let refused = delta(
                now.dropped_not_allowed,
                s_seen.stats.as_ref().map(|s| s.dropped_not_allowed),
            );
            if refused > 0
                && s_seen
                    .stats
                    .as_ref()
                    .is_some_and(|s| s.dropped_not_allowed == 0)
            {
                out.happenings.push(Happening {
                    service: "mediaconnect",
                    resource: arn.to_owned(),
                    name: flow.name.clone(),
                    severity: Severity::Warning,
                    message: format!(
                        "source {}: refusing datagrams from senders outside its allow list",
                        source.name
                    ),
                });
            }
            s_seen.stats = Some(now.clone());
            publish(
                out,
                &[("FlowARN", arn), ("SourceARN", &source.source_arn)],
                &sec,
                merge,
            );
            seconds.push((now.name.clone(), sec));
        }
        // The stream on air: the active source, else the fullest selected one.
        let on_air = f
            .stats
            .active_source
            .as_ref()
            .and_then(|a| seconds.iter().find(|(n, _)| n == a))
            .or_else(|| {
                seconds
                    .iter()
                    .filter(|(_, s)| s.selected)
                    .max_by(|a, b| a.1.bitrate.total_cmp(&b.1.bitrate))
            })
            .or_else(|| seconds.first());
        if let Some((name, sec)) = on_air {
            publish(out, &[("FlowARN", arn)], sec, false);
            publish(out, &[("FlowName", &flow.name)], sec, false);
            if state.active.as_deref().is_some_and(|a| a != name) && f.stats.active_source.is_some()
            {
                out.happenings.push(Happening {
                    service: "mediaconnect",
                    resource: arn.to_owned(),
                    name: flow.name.clone(),
                    severity: Severity::Warning,
                    message: format!("source switched: {name} is on air"),
                });
            }
            state.active = Some(name.clone());
        }
        let mut connected_outputs = 0.0;
        for o in &f.stats.outputs {
            let before = state.outputs.get(&o.id);
            let packets = delta(o.packets, before.map(|b| b.packets)) as f64;
            let errors = delta(o.send_errors, before.map(|b| b.send_errors));
            let dims = [("FlowARN", arn), ("OutputARN", o.id.as_str())];
            out.point(
                metric(NS, "OutputBitrate", &dims),
                o.bitrate_bps as f64,
                "Bits/Second",
            );
            out.point(metric(NS, "OutputTotalPackets", &dims), packets, "Count");
            // An SRT output is connected while its receiver is.
            let connected = match &o.srt {
                Some(l) => l.connected,
                None => packets > 0.0 && errors == 0,
            };
            out.point(
                metric(NS, "OutputConnected", &dims),
                if connected { 1.0 } else { 0.0 },
                "None",
            );
            if connected {
                connected_outputs += 1.0;
            }
            state.outputs.insert(o.id.clone(), o.clone());
        }
        out.point(
            metric(NS, "ConnectedOutputs", &[("FlowARN", arn)]),
            connected_outputs,
            "Count",
        );
    }
}
