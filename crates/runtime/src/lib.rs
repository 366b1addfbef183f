//! The runtime: where running things live, report and heal.
//!
//! [`Runtime`] is the supervisor. It reads the desired state the control
//! plane stores, starts, changes and stops the engines to match — flows
//! ([`flows`]) and MediaLive channels with their feeds and deliveries
//! ([`channel`]) — and writes back the lifecycle states they reach. Each
//! engine reports on a `watch` channel that the runtime posts on the control
//! plane's board ([`control::reports::Reports`]), so the API reads state and
//! counters without ever waiting for an engine.
//!
//! Engines heal: a channel does not resolve its inputs once, it follows them.
//! A MEDIACONNECT input follows its flow's ARN through [`taps::Taps`] and
//! moves to the flow's new engine as soon as one is published (the flow was
//! started after the channel, stopped and started again, or restarted by a
//! source change); a push input whose port is held by another program tries
//! again every second. RTMP_PUSH inputs share one RTMP listener ([`rtmp`]),
//! open while a channel with such an input runs. None of this needs the channel to be stopped.
//!
//! Driving contract: [`Runtime::run`] passes once a second and whenever the
//! control plane says something changed; only the runtime starts and stops
//! engines.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented
)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod channel;
pub mod flows;
pub mod observe;
pub mod rtmp;
pub mod srt_input;
pub mod taps;

use std::sync::Arc;
use std::time::Duration;

use control::ControlPlane;
use package::origin::OriginStore;

/// The supervisor and every running engine.
pub struct Runtime {
    cp: Arc<ControlPlane>,
    origin: OriginStore,
    taps: Arc<taps::Taps>,
    rtmp: Arc<rtmp::RtmpIngest>,
    engines: tokio::sync::Mutex<Engines>,
}

#[derive(Default)]
struct Engines {
    flows: flows::Flows,
    channels: channel::Channels,
}

impl Runtime {
    /// A runtime for the resources of `cp`; channels deliver to `origin`.
    pub fn new(cp: Arc<ControlPlane>, origin: OriginStore) -> Arc<Runtime> {
        let rtmp = rtmp::RtmpIngest::new(std::net::SocketAddr::new(
            cp.settings.ingest_bind,
            cp.settings.rtmp_port,
        ));
        Arc::new(Runtime {
            cp,
            origin,
            taps: Arc::default(),
            rtmp,
            engines: tokio::sync::Mutex::default(),
        })
    }

    /// Reconciles until the process ends: once a second, and at once after
    /// every committed change.
    pub async fn run(self: Arc<Self>) {
        loop {
            self.reconcile().await;
            tokio::select! {
                _ = self.cp.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// One pass over every flow, then every channel.
    pub async fn reconcile(&self) {
        let mut engines = self.engines.lock().await;
        let engines = &mut *engines;
        flows::reconcile(&self.cp, &self.taps, &mut engines.flows).await;
        let env = channel::Env {
            cp: &self.cp,
            taps: &self.taps,
            rtmp: &self.rtmp,
            origin: &self.origin,
        };
        channel::reconcile(&env, &mut engines.channels).await;
        // Deleted packaging channels and endpoints leave the origin, with what they
        // keep (the channels' endpoint lists were refreshed above, so deliveries no
        // longer name them). Packaging changes wake this pass at once.
        match self.cp.packaging_view() {
            Ok(view) => self.origin.sync(&view.origin_configs()),
            Err(e) => tracing::warn!("supervisor cannot read packaging resources: {e}"),
        }
    }

    /// The control plane this runtime serves.
    pub fn control(&self) -> &Arc<ControlPlane> {
        &self.cp
    }
}
