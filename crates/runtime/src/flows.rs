//! The flow half of the supervisor: makes the running flow engines match the
//! stored desired state. A started flow's tap is published in [`Taps`] and its
//! statistics on the control plane's report board; a stopped one is withdrawn
//! from both, so channels following the flow notice at once.
//!
//! A flow that failed to start (a port held by another program) goes to
//! `ERROR` with the reason and is retried every `RETRY_AFTER`. Source or
//! failover changes restart the engine; output changes are applied in place.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use transport::{FlowConfig, FlowHandle, OutputConfig, SourceConfig};

use control::flow::model::{
    Desired, EnabledState, FailoverMode, Flow, FlowRecord, FlowStatus, Protocol,
};
use control::ControlPlane;

use crate::taps::Taps;

/// How long a flow in ERROR waits before the next start attempt.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// The SMPTE 2022-1 matrix onair's rtp-fec outputs use (L columns × D rows).
pub const FEC_COLUMNS: u8 = 5;
pub const FEC_ROWS: u8 = 5;

struct Running {
    handle: FlowHandle,
    flow: Flow,
}

/// The running flow engines, by flow ARN.
#[derive(Default)]
pub(crate) struct Flows {
    running: HashMap<String, Running>,
    failed_at: HashMap<String, Instant>,
}

/// One pass over every flow.
pub(crate) async fn reconcile(cp: &ControlPlane, taps: &Taps, flows: &mut Flows) {
    let records = match cp.flow_records() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("supervisor cannot read flows: {e}");
            return;
        }
    };
    // Engines whose flow record vanished.
    let orphans: Vec<String> = flows
        .running
        .keys()
        .filter(|k| !records.iter().any(|r| &r.flow.flow_arn == *k))
        .cloned()
        .collect();
    for arn in orphans {
        stop(cp, taps, flows, &arn).await;
    }
    for rec in records {
        reconcile_flow(cp, taps, flows, rec).await;
    }
}

/// Stops a flow's engine, if it runs, and withdraws its tap and report.
async fn stop(cp: &ControlPlane, taps: &Taps, flows: &mut Flows, arn: &str) -> bool {
    let Some(r) = flows.running.remove(arn) else {
        return false;
    };
    taps.withdraw(arn);
    cp.reports.detach_flow(arn);
    r.handle.stop().await;
    true
}

async fn reconcile_flow(cp: &ControlPlane, taps: &Taps, engines: &mut Flows, rec: FlowRecord) {
    let arn = rec.flow.flow_arn.clone();
    match rec.desired {
        Desired::Running => {
            if let Some(running) = engines.running.get_mut(&arn) {
                let (was, now) = (engine_view(&running.flow), engine_view(&rec.flow));
                if was.sources == now.sources
                    && was.source == now.source
                    && was.source_failover_config == now.source_failover_config
                {
                    if was.outputs != now.outputs {
                        running.handle.set_outputs(outputs(&rec.flow)).await;
                    }
                    running.flow = rec.flow.clone();
                    if rec.flow.status != FlowStatus::Active {
                        set_status(cp, &arn, FlowStatus::Active, None);
                    }
                    return;
                }
                // Sources or failover changed: restart the engine.
                stop(cp, taps, engines, &arn).await;
            }
            if rec.flow.status == FlowStatus::Error
                && engines
                    .failed_at
                    .get(&arn)
                    .is_some_and(|t| t.elapsed() < RETRY_AFTER)
            {
                return;
            }
            match config(cp, &rec.flow) {
                Ok(cfg) => match transport::start_flow(cfg).await {
                    Ok(handle) => {
                        tracing::info!(flow = %rec.flow.name, "flow started");
                        engines.failed_at.remove(&arn);
                        taps.publish(&arn, handle.tap());
                        cp.reports.attach_flow(&arn, handle.watch_stats());
                        engines.running.insert(
                            arn.clone(),
                            Running {
                                handle,
                                flow: rec.flow.clone(),
                            },
                        );
                        set_status(cp, &arn, FlowStatus::Active, None);
                    }
                    Err(e) => {
                        tracing::warn!(flow = %rec.flow.name, "flow cannot start: {e}");
                        engines.failed_at.insert(arn.clone(), Instant::now());
                        set_status(cp, &arn, FlowStatus::Error, Some(e.to_string()));
                    }
                },
                Err(e) => {
                    engines.failed_at.insert(arn.clone(), Instant::now());
                    set_status(cp, &arn, FlowStatus::Error, Some(e));
                }
            }
        }
        Desired::Stopped => {
            if stop(cp, taps, engines, &arn).await {
                tracing::info!(flow = %rec.flow.name, "flow stopped");
            }
            if matches!(
                rec.flow.status,
                FlowStatus::Stopping | FlowStatus::Starting | FlowStatus::Active
            ) {
                set_status(cp, &arn, FlowStatus::Standby, None);
            }
        }
        Desired::Deleted => {
            stop(cp, taps, engines, &arn).await;
            engines.failed_at.remove(&arn);
            if let Err(e) = cp.forget_flow(&arn) {
                tracing::error!("cannot delete flow {arn}: {e}");
            } else {
                tracing::info!(flow = %rec.flow.name, "flow deleted");
            }
        }
    }
}

fn set_status(cp: &ControlPlane, arn: &str, status: FlowStatus, error: Option<String>) {
    cp.flow_reached(arn, status, error);
}

/// The parts of a flow the engine depends on (no names of the flow, tags,
/// descriptions or status), so that a tag change does not restart anything.
fn engine_view(flow: &Flow) -> Flow {
    let mut f = flow.clone();
    f.status = FlowStatus::Standby;
    f.description = None;
    let strip_source = |s: &mut control::flow::model::Source| {
        s.tags.clear();
        s.description = None;
    };
    strip_source(&mut f.source);
    f.sources.iter_mut().for_each(strip_source);
    for o in &mut f.outputs {
        o.tags.clear();
        o.description = None;
        o.name.clear();
    }
    f
}

fn outputs(flow: &Flow) -> Vec<OutputConfig> {
    flow.outputs
        .iter()
        .filter_map(|o| {
            let ip: IpAddr = o.destination.parse().ok()?;
            Some(OutputConfig {
                id: o.output_arn.clone(),
                protocol: match o.transport.protocol {
                    Protocol::Rtp => transport::OutputProtocol::Rtp,
                    Protocol::RtpFec => transport::OutputProtocol::RtpFec {
                        cols: FEC_COLUMNS,
                        rows: FEC_ROWS,
                    },
                    Protocol::Udp => transport::OutputProtocol::Udp,
                },
                destination: SocketAddr::new(ip, o.port),
                enabled: o.output_status == EnabledState::Enabled,
            })
        })
        .collect()
}

/// The engine configuration of a stored flow.
fn config(cp: &ControlPlane, flow: &Flow) -> Result<FlowConfig, String> {
    let mut sources = Vec::new();
    for s in flow.all_sources() {
        let allow = match &s.whitelist_cidr {
            Some(c) => vec![c
                .parse::<IpNet>()
                .map_err(|_| format!("source '{}': bad whitelistCidr '{c}'", s.name))?],
            None => Vec::new(),
        };
        sources.push(SourceConfig {
            name: s.name.clone(),
            protocol: match s.transport.protocol {
                Protocol::Rtp => transport::SourceProtocol::Rtp,
                Protocol::RtpFec => transport::SourceProtocol::RtpFec,
                Protocol::Udp => transport::SourceProtocol::Udp,
            },
            bind: SocketAddr::new(cp.settings.ingest_bind, s.ingest_port),
            allow,
            max_bitrate: s.transport.max_bitrate.map(|b| b as u64),
        });
    }
    let failover = flow
        .source_failover_config
        .as_ref()
        .filter(|c| c.state == EnabledState::Enabled && sources.len() > 1)
        .map(|c| transport::FailoverConfig {
            mode: match c.failover_mode {
                FailoverMode::Merge => transport::FailoverMode::Merge {
                    recovery_window: Duration::from_millis(c.recovery_window as u64),
                },
                FailoverMode::Failover => transport::FailoverMode::Failover {
                    primary: c
                        .source_priority
                        .as_ref()
                        .and_then(|p| p.primary_source.clone()),
                },
            },
        });
    // Without enabled failover only the first source is carried.
    if failover.is_none() {
        sources.truncate(1);
    }
    Ok(FlowConfig {
        sources,
        outputs: outputs(flow),
        failover,
    })
}
