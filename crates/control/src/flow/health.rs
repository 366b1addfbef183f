//! DescribeFlow `messages`: what is wrong with a flow, in words an operator
//! acts on, computed from the engine's live statistics.

use transport::FlowStats;

use super::model::{FlowRecord, FlowStatus};

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
        if !s.connected {
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
    }
    out
}
