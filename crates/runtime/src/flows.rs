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
    Desired, EnabledState, Encryption, FailoverMode, Flow, FlowRecord, FlowStatus, Protocol,
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
                        running.handle.set_outputs(outputs(cp, &rec.flow)).await;
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

/// `minLatency` when a request gives none, in milliseconds: generous, so
/// that retransmission repairs losses on long paths too.
pub const DEFAULT_SRT_LATENCY_MS: u64 = 2000;

/// The region part of a flow ARN.
fn region(flow: &Flow) -> &str {
    flow.flow_arn.split(':').nth(3).unwrap_or_default()
}

/// The engine's SRT settings of a source or output; `path` names the part
/// in errors (the passphrase comes from Secrets Manager).
fn srt_settings(
    cp: &ControlPlane,
    flow: &Flow,
    path: &str,
    transport: &control::flow::model::Transport,
    enc: Option<&Encryption>,
) -> Result<transport::SrtSettings, String> {
    let passphrase = match enc {
        Some(e) => Some(
            cp.srt_passphrase(region(flow), path, e)
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let key_length = match enc.and_then(|e| e.algorithm.as_deref()) {
        Some("aes192") => transport::KeyLength::Aes192,
        Some("aes256") => transport::KeyLength::Aes256,
        _ => transport::KeyLength::Aes128,
    };
    let latency = transport
        .min_latency
        .and_then(|l| u64::try_from(l).ok())
        .unwrap_or(DEFAULT_SRT_LATENCY_MS);
    Ok(transport::SrtSettings {
        latency: Duration::from_millis(latency),
        passphrase,
        key_length,
        stream_id: transport.stream_id.clone(),
    })
}

fn outputs(cp: &ControlPlane, flow: &Flow) -> Vec<OutputConfig> {
    flow.outputs
        .iter()
        .filter_map(|o| {
            let destination = match o.transport.protocol {
                Protocol::SrtListener => SocketAddr::new(cp.settings.ingest_bind, o.port),
                _ => SocketAddr::new(o.destination.parse::<IpAddr>().ok()?, o.port),
            };
            let srt = if o.transport.protocol.is_srt() {
                let path = format!("output '{}'.encryption", o.name);
                match srt_settings(cp, flow, &path, &o.transport, o.encryption.as_ref()) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        tracing::error!(flow = %flow.name, "output not started: {e}");
                        return None;
                    }
                }
            } else {
                None
            };
            let allow = o
                .transport
                .cidr_allow_list
                .iter()
                .flatten()
                .filter_map(|c| c.parse::<IpNet>().ok())
                .collect();
            Some(OutputConfig {
                id: o.output_arn.clone(),
                protocol: match o.transport.protocol {
                    Protocol::Rtp => transport::OutputProtocol::Rtp,
                    Protocol::RtpFec => transport::OutputProtocol::RtpFec {
                        cols: FEC_COLUMNS,
                        rows: FEC_ROWS,
                    },
                    Protocol::Udp => transport::OutputProtocol::Udp,
                    Protocol::SrtListener => transport::OutputProtocol::SrtListener,
                    Protocol::SrtCaller => transport::OutputProtocol::SrtCaller,
                    Protocol::Rist => transport::OutputProtocol::Rist(rist_settings(&o.transport)),
                },
                destination,
                enabled: o.output_status == EnabledState::Enabled,
                srt,
                allow,
            })
        })
        .collect()
}

/// A RIST part's engine settings: `streamId` `main` picks the main profile
/// (anything else, the simple one MediaConnect speaks), `maxLatency` the
/// recovery buffer (validated 10-10000 ms when stored).
fn rist_settings(t: &control::flow::model::Transport) -> transport::RistSettings {
    let buffer = t
        .max_latency
        .unwrap_or(control::flow::request::DEFAULT_RIST_LATENCY_MS);
    transport::RistSettings {
        profile: match t.stream_id.as_deref() {
            Some("main") => transport::RistProfile::Main,
            _ => transport::RistProfile::Simple,
        },
        buffer_ms: u32::try_from(buffer.clamp(1, 30_000)).unwrap_or(2_000),
    }
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
        let bind = match s.transport.protocol {
            Protocol::SrtCaller => {
                let ip = s
                    .transport
                    .source_listener_address
                    .as_deref()
                    .and_then(|a| a.parse::<IpAddr>().ok())
                    .ok_or_else(|| format!("source '{}': bad sourceListenerAddress", s.name))?;
                let port = s
                    .transport
                    .source_listener_port
                    .ok_or_else(|| format!("source '{}': no sourceListenerPort", s.name))?;
                SocketAddr::new(ip, port)
            }
            _ => SocketAddr::new(cp.settings.ingest_bind, s.ingest_port),
        };
        let srt = if s.transport.protocol.is_srt() {
            let path = format!("source '{}'.decryption", s.name);
            Some(srt_settings(
                cp,
                flow,
                &path,
                &s.transport,
                s.decryption.as_ref(),
            )?)
        } else {
            None
        };
        sources.push(SourceConfig {
            name: s.name.clone(),
            protocol: match s.transport.protocol {
                Protocol::Rtp => transport::SourceProtocol::Rtp,
                Protocol::RtpFec => transport::SourceProtocol::RtpFec,
                Protocol::Udp => transport::SourceProtocol::Udp,
                Protocol::SrtListener => transport::SourceProtocol::SrtListener,
                Protocol::SrtCaller => transport::SourceProtocol::SrtCaller,
                Protocol::Rist => transport::SourceProtocol::Rist(rist_settings(&s.transport)),
            },
            bind,
            allow,
            max_bitrate: s.transport.max_bitrate.map(|b| b as u64),
            srt,
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
        outputs: outputs(cp, flow),
        failover,
        batching: cp.settings.batching,
    })
}
