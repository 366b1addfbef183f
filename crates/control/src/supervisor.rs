//! The supervisor: makes the running flow and channel engines match the
//! stored desired state (channels: [`crate::live::engine`]).
//!
//! It is woken after every committed change and also ticks once a second, so
//! a flow that failed to start (a port held by another program) is retried.
//! Only this task starts and stops engines; the API only writes documents.
//! After a restart, `kill -9` included, the first pass starts every flow whose
//! desired state is running.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use transport::{FlowConfig, FlowHandle, OutputConfig, SourceConfig};

use crate::flow::model::{
    Desired, EnabledState, FailoverMode, Flow, FlowRecord, FlowStatus, Protocol,
};
use crate::flow::KIND;
use crate::ControlPlane;

/// How long a flow in ERROR waits before the next start attempt.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// The SMPTE 2022-1 matrix onair's rtp-fec outputs use (L columns × D rows).
pub const FEC_COLUMNS: u8 = 5;
pub const FEC_ROWS: u8 = 5;

pub(crate) struct Running {
    handle: FlowHandle,
    flow: Flow,
}

#[derive(Default)]
pub(crate) struct Engines {
    running: HashMap<String, Running>,
    failed_at: HashMap<String, Instant>,
    pub(crate) channels: crate::live::engine::Channels,
}

impl Engines {
    /// A new subscription to a running flow's tap.
    pub(crate) fn tap(
        &self,
        flow_arn: &str,
    ) -> Option<tokio::sync::broadcast::Receiver<bytes::Bytes>> {
        self.running.get(flow_arn).map(|r| r.handle.subscribe())
    }
}

/// Runs the reconcile loop until the process ends.
pub async fn run(cp: Arc<ControlPlane>) {
    loop {
        reconcile(&cp).await;
        tokio::select! {
            _ = cp.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// One pass over every flow, then every channel.
pub async fn reconcile(cp: &ControlPlane) {
    let records = match cp.flow_records() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("supervisor cannot read flows: {e}");
            return;
        }
    };
    let mut engines = cp.engines.lock().await;
    // Engines whose flow record vanished.
    let known: Vec<String> = records.iter().map(|r| r.flow.flow_arn.clone()).collect();
    let orphans: Vec<String> = engines
        .running
        .keys()
        .filter(|k| !known.contains(k))
        .cloned()
        .collect();
    for arn in orphans {
        if let Some(r) = engines.running.remove(&arn) {
            r.handle.stop().await;
        }
    }
    for rec in records {
        reconcile_flow(cp, &mut engines, rec).await;
    }
    crate::live::engine::reconcile(cp, &mut engines).await;
}

async fn reconcile_flow(cp: &ControlPlane, engines: &mut Engines, rec: FlowRecord) {
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
                if let Some(old) = engines.running.remove(&arn) {
                    old.handle.stop().await;
                }
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
            if let Some(r) = engines.running.remove(&arn) {
                r.handle.stop().await;
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
            if let Some(r) = engines.running.remove(&arn) {
                r.handle.stop().await;
            }
            engines.failed_at.remove(&arn);
            let _w = cp.write_lock();
            if let Err(e) = cp.store.delete(KIND, &arn) {
                tracing::error!("cannot delete flow {arn}: {e}");
            } else {
                tracing::info!(flow = %rec.flow.name, "flow deleted");
            }
        }
    }
}

/// Writes a status the engine reached, unless the operator changed their mind
/// in the meantime (the desired state decides which statuses still apply).
fn set_status(cp: &ControlPlane, arn: &str, status: FlowStatus, error: Option<String>) {
    let result = cp.modify_flow(arn, |rec| {
        let applies = match status {
            FlowStatus::Active | FlowStatus::Error => rec.desired == Desired::Running,
            FlowStatus::Standby => rec.desired == Desired::Stopped,
            _ => true,
        };
        if applies {
            rec.flow.status = status;
            rec.last_error = error.clone();
        }
        Ok(())
    });
    if let Err(e) = result {
        tracing::debug!("status of {arn} not written: {e}");
    }
}

/// The parts of a flow the engine depends on (no names of the flow, tags,
/// descriptions or status), so that a tag change does not restart anything.
fn engine_view(flow: &Flow) -> Flow {
    let mut f = flow.clone();
    f.status = FlowStatus::Standby;
    f.description = None;
    let strip_source = |s: &mut crate::flow::model::Source| {
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

impl ControlPlane {
    /// Live statistics of a running flow.
    pub fn engine_stats(&self, flow_arn: &str) -> Option<transport::FlowStats> {
        let engines = self.engines.try_lock().ok()?;
        engines.running.get(flow_arn).map(|r| r.handle.stats())
    }
}
