//! DescribeFlow `messages`: what is wrong with a flow, in words an operator
//! acts on, computed from the engine's live statistics.

use transport::FlowStats;

use super::model::{EnabledState, FlowRecord, FlowStatus, Protocol, Source};

pub fn messages(rec: &FlowRecord, stats: Option<&FlowStats>) -> Vec<String> {
    let mut out = Vec::new();
    if rec.flow.status == FlowStatus::Error {
        if let Some(e) = &rec.last_error {
            out.push(format!("Flow cannot run: {e}"));
        }
    }
    let Some(stats) = stats else { return out };
    for s in &stats.sources {
        let declared = rec
            .flow
            .all_sources()
            .into_iter()
            .find(|x| x.name == s.name);
        let srt_down = s.srt.as_ref().is_some_and(|l| !l.connected);
        if srt_down {
            out.push(srt_not_connected(&s.name, declared));
        } else if !s.connected {
            out.push(format!(
                "Source '{}' is not receiving any packets on {}:{}",
                s.name,
                declared.map_or("?", |x| x.ingest_ip.as_str()),
                declared.map_or(0, |x| x.ingest_port),
            ));
        } else {
            if !s.ts.in_sync {
                out.push(format!(
                    "Source '{}': TS sync loss (no 0x47 sync bytes)",
                    s.name
                ));
            }
            if s.ts.in_sync && !s.ts.pat_present {
                out.push(format!("Source '{}': PAT missing (TR 101 290 1.3)", s.name));
            }
            if s.ts.in_sync && s.ts.pat_present && !s.ts.pmt_present {
                out.push(format!("Source '{}': PMT missing (TR 101 290 1.5)", s.name));
            }
        }
        // Counters since start: they explain a silent source too (everything
        // dropped by the allow-list looks like nothing arriving).
        if s.ts.continuity_errors > 0 {
            out.push(format!(
                "Source '{}': {} continuity counter errors since start (TR 101 290 1.4)",
                s.name, s.ts.continuity_errors
            ));
        }
        if s.not_recovered > 0 {
            out.push(format!(
                "Source '{}': {} packets lost and not recovered",
                s.name, s.not_recovered
            ));
        }
        if s.dropped_not_allowed > 0 {
            out.push(format!(
                "Source '{}': {} packets dropped from senders outside whitelistCidr {}",
                s.name,
                s.dropped_not_allowed,
                declared
                    .and_then(|x| x.whitelist_cidr.as_deref())
                    .unwrap_or("")
            ));
        }
        if s.malformed > 0 {
            out.push(format!(
                "Source '{}': {} datagrams that are not {} carrying whole MPEG-TS packets were dropped",
                s.name,
                s.malformed,
                declared.map_or("the expected protocol", |x| x.transport.protocol.as_str()),
            ));
        }
        if s.dropped_over_bitrate > 0 {
            out.push(format!(
                "Source '{}': {} packets dropped above maxBitrate",
                s.name, s.dropped_over_bitrate
            ));
        }
        if let Some(l) = s.rist.as_ref().filter(|l| l.refused > 0) {
            out.push(format!(
                "Source '{}': {} RIST senders refused since start (address outside whitelistCidr)",
                s.name, l.refused
            ));
        }
        if let Some(l) = s.rist.as_ref().filter(|l| l.lost > 0) {
            out.push(format!(
                "Source '{}': {} RIST packets lost after retransmission (raise maxLatency if the link allows)",
                s.name, l.lost
            ));
        }
        if let Some(l) = s.srt.as_ref().filter(|l| l.refused > 0) {
            out.push(format!(
                "Source '{}': {} SRT connections refused since start (wrong or missing passphrase, address not allowed, or a second caller; the log says which)",
                s.name, l.refused
            ));
        }
    }
    for o in &stats.outputs {
        let Some(l) = o.srt.as_ref().filter(|l| !l.connected) else {
            continue;
        };
        let Some(declared) = rec.flow.outputs.iter().find(|x| x.output_arn == o.id) else {
            continue;
        };
        if declared.output_status != EnabledState::Enabled {
            continue;
        }
        out.push(match declared.transport.protocol {
            Protocol::SrtCaller => format!(
                "Output '{}' cannot reach the SRT listener at {}:{} ({} attempts refused)",
                declared.name, declared.destination, declared.port, l.refused
            ),
            _ => format!(
                "Output '{}' has no SRT receiver connected on port {}",
                declared.name, declared.port
            ),
        });
    }
    out
}

/// Why an SRT source has no connection, in the operator's terms.
fn srt_not_connected(name: &str, declared: Option<&Source>) -> String {
    match declared {
        Some(x) if x.transport.protocol == Protocol::SrtCaller => format!(
            "Source '{name}' cannot reach the SRT listener at {}:{}",
            x.transport
                .source_listener_address
                .as_deref()
                .unwrap_or("?"),
            x.transport.source_listener_port.unwrap_or(0),
        ),
        _ => format!(
            "Source '{name}' has no SRT caller connected on {}:{}",
            declared.map_or("?", |x| x.ingest_ip.as_str()),
            declared.map_or(0, |x| x.ingest_port),
        ),
    }
}
