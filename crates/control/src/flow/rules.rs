//! Whole-flow rules that no single member can check: unique names, ingest
//! ports unique across every flow, limits, and failover references.

use std::collections::HashSet;

use super::model::{Desired, FailoverMode, Flow, FlowRecord, Protocol, Source};
use crate::error::{ControlError, Result};

/// MediaConnect's limit of outputs per flow.
pub const MAX_OUTPUTS: usize = 50;
/// A flow has one source, or two for failover / 2022-7 merge.
pub const MAX_SOURCES: usize = 2;

/// The UDP ports a source listens on: rtp-fec adds column (+2) and row (+4)
/// FEC. The request readers refuse a port whose FEC ports pass 65535; a
/// document stored before they did lists only the ports that exist.
pub fn source_ports(s: &Source) -> Vec<u16> {
    let offsets: &[u16] = match s.transport.protocol {
        Protocol::RtpFec => &[0, 2, 4],
        Protocol::Rtp | Protocol::Udp | Protocol::SrtListener => &[0],
        // RTP, then RTCP on the next port (the request readers keep the
        // port even and below 65535).
        Protocol::Rist => &[0, 1],
        // A caller binds no port of its own.
        Protocol::SrtCaller => &[],
    };
    offsets
        .iter()
        .filter_map(|o| s.ingest_port.checked_add(*o))
        .collect()
}

/// Ports held outside flows (MediaLive push inputs), with who holds them.
pub type Reserved = [(u16, String)];

pub fn check(flow: &Flow, others: &[FlowRecord], reserved: &Reserved) -> Result<()> {
    let sources = flow.all_sources();
    if sources.len() > MAX_SOURCES {
        return Err(ControlError::bad(format!(
            "sources: a flow has at most {MAX_SOURCES} sources, got {}",
            sources.len()
        )));
    }
    if flow.outputs.len() > MAX_OUTPUTS {
        return Err(ControlError::bad(format!(
            "outputs: a flow has at most {MAX_OUTPUTS} outputs, got {}",
            flow.outputs.len()
        )));
    }
    let mut names = HashSet::new();
    for s in &sources {
        if !names.insert(s.name.as_str()) {
            return Err(ControlError::bad(format!(
                "sources: the name '{}' is used by two sources of this flow",
                s.name
            )));
        }
    }
    let mut names = HashSet::new();
    for o in &flow.outputs {
        if !names.insert(o.name.as_str()) {
            return Err(ControlError::bad(format!(
                "outputs: the name '{}' is used by two outputs of this flow",
                o.name
            )));
        }
    }
    check_ports(flow, &sources, others, reserved)?;
    check_failover(flow, &sources)
}

fn check_ports(
    flow: &Flow,
    sources: &[&Source],
    others: &[FlowRecord],
    reserved: &Reserved,
) -> Result<()> {
    let mut taken: Vec<(u16, String, String)> = Vec::new();
    for other in others {
        if other.flow.flow_arn == flow.flow_arn || other.desired == Desired::Deleted {
            continue;
        }
        for s in other.flow.all_sources() {
            for p in source_ports(s) {
                taken.push((p, format!("source '{}'", s.name), other.flow.name.clone()));
            }
        }
        for o in listening_outputs(&other.flow) {
            taken.push((
                o.port,
                format!("output '{}'", o.name),
                other.flow.name.clone(),
            ));
        }
    }
    for s in sources {
        for p in source_ports(s) {
            if let Some((_, holder)) = reserved.iter().find(|(q, _)| *q == p) {
                return Err(ControlError::bad(format!(
                    "ingestPort: port {p} of source '{}' is already used by {holder}",
                    s.name
                )));
            }
            if let Some((_, by, of)) = taken.iter().find(|(q, _, _)| *q == p) {
                return Err(ControlError::bad(format!(
                    "ingestPort: port {p} of source '{}' is already used by {by} of flow '{of}'",
                    s.name
                )));
            }
            taken.push((p, format!("source '{}'", s.name), flow.name.clone()));
        }
    }
    // An srt-listener output listens too (SRT runs over UDP).
    for o in listening_outputs(flow) {
        let p = o.port;
        if let Some((_, holder)) = reserved.iter().find(|(q, _)| *q == p) {
            return Err(ControlError::bad(format!(
                "port: port {p} of output '{}' is already used by {holder}",
                o.name
            )));
        }
        if let Some((_, by, of)) = taken.iter().find(|(q, _, _)| *q == p) {
            return Err(ControlError::bad(format!(
                "port: port {p} of output '{}' is already used by {by} of flow '{of}'",
                o.name
            )));
        }
        taken.push((p, format!("output '{}'", o.name), flow.name.clone()));
    }
    Ok(())
}

/// Outputs that listen on their port (`srt-listener`).
fn listening_outputs(flow: &Flow) -> impl Iterator<Item = &super::model::Output> {
    flow.outputs
        .iter()
        .filter(|o| o.transport.protocol == Protocol::SrtListener)
}

fn check_failover(flow: &Flow, sources: &[&Source]) -> Result<()> {
    let Some(cfg) = &flow.source_failover_config else {
        return Ok(());
    };
    if let Some(primary) = cfg
        .source_priority
        .as_ref()
        .and_then(|p| p.primary_source.as_ref())
    {
        if !sources.iter().any(|s| &s.name == primary) {
            return Err(ControlError::bad(format!(
                "sourceFailoverConfig.sourcePriority.primarySource: no source of this flow is named '{primary}'"
            )));
        }
    }
    if cfg.failover_mode == FailoverMode::Merge {
        // RTP sources merge by sequence number, SRT and RIST sources (whose
        // RTP numbering librist keeps to itself) by content
        // (transport::align); udp, or RTP mixed with those, cannot be lined up.
        let rtp = |p: Protocol| matches!(p, Protocol::Rtp | Protocol::RtpFec);
        let first = sources.first().map(|s| s.transport.protocol);
        let odd = sources.iter().find(|s| {
            let p = s.transport.protocol;
            p == Protocol::Udp || first.is_some_and(|f| rtp(f) != rtp(p))
        });
        if let Some(s) = odd {
            return Err(ControlError::bad(format!(
                "sourceFailoverConfig.failoverMode: MERGE needs sources that can be lined up: all rtp/rtp-fec (by sequence number) or all srt/rist (by content); source '{}' uses {} (or use FAILOVER)",
                s.name,
                s.transport.protocol.as_str()
            )));
        }
    }
    Ok(())
}
