//! The control plane: resources as their AWS documents, validation, the
//! SQLite store and the lifecycle state machines the AWS waiters expect.
//!
//! It runs no engine and links no FFmpeg. The `runtime` crate reads the
//! desired state written here, runs the engines to match, writes back the
//! states they reach, and posts what they report on [`reports::Reports`],
//! which the API reads without ever waiting for an engine.
//!
//! ```no_run
//! # fn demo() -> Result<(), control::ControlError> {
//! let cp = control::ControlPlane::open(std::path::Path::new("onair-data"), control::Settings::default())?;
//! // runtime::Runtime::new(cp.clone(), origin) runs the engines.
//! # Ok(()) }
//! ```

// Request handlers never panic on what a client sends: numbers from a
// request are range-checked and arithmetic on them is checked or saturating.
// Denied outside tests (test code unwraps and indexes freely); the lib is
// linted in its non-test build, so every line of it is covered.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::todo,
        clippy::unimplemented,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

pub mod arn;
pub mod error;
pub mod fields;
pub mod flow;
pub mod iam;
pub mod logs;
pub mod medialive;
pub mod packaging;
pub mod page;
pub mod reports;
pub mod secrets;
pub mod sns;
pub mod store;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

pub use error::{ControlError, Result};
pub use store::Store;

/// The RTMP port encoders expect (and MediaLive uses).
pub const DEFAULT_RTMP_PORT: u16 = 1935;

/// Server-wide settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The 12-digit account id in every ARN.
    pub account_id: String,
    /// The address reported as `ingestIp`: where encoders send.
    pub ingest_ip: String,
    /// The local address ingest sockets bind to.
    pub ingest_bind: IpAddr,
    /// The TCP port of the one RTMP listener every RTMP_PUSH input shares
    /// (inputs are told apart by `app/key`).
    pub rtmp_port: u16,
    /// UDP ports push inputs are given (two even ports per input).
    pub push_ports: std::ops::RangeInclusive<u16>,
    /// Public base URL of the HTTP port (`http://host:port`, no trailing
    /// `/`): MediaPackage ingest and origin URLs are built on it.
    pub base_url: String,
    /// How every flow trades added latency for CPU (`onair serve
    /// --flow-batching`).
    pub batching: transport::Batching,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            account_id: "000000000000".into(),
            ingest_ip: "127.0.0.1".into(),
            ingest_bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            rtmp_port: DEFAULT_RTMP_PORT,
            push_ports: medialive::PUSH_PORTS,
            base_url: "http://127.0.0.1:8080".into(),
            batching: transport::Batching::Auto,
        }
    }
}

pub struct ControlPlane {
    pub store: Store,
    pub settings: Settings,
    /// What the running engines report, posted by the runtime.
    pub reports: reports::Reports,
    write: Mutex<()>,
    changed: tokio::sync::Notify,
    /// Bumped after every committed change of a packaging channel or origin
    /// endpoint.
    packaging_version: AtomicU64,
    /// The packaging documents as of a version ([`ControlPlane::packaging_view`]).
    packaging_view: RwLock<Option<(u64, Arc<packaging::PackagingView>)>>,
}

impl ControlPlane {
    /// Opens the store `onair.db` in `data_dir` (created if missing).
    pub fn open(data_dir: &Path, settings: Settings) -> Result<Arc<ControlPlane>> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            ControlError::Internal(format!(
                "cannot create data dir {}: {e}",
                data_dir.display()
            ))
        })?;
        Ok(Self::with_store(
            Store::open(&data_dir.join("onair.db"))?,
            settings,
        ))
    }

    pub fn with_store(store: Store, settings: Settings) -> Arc<ControlPlane> {
        Arc::new(ControlPlane {
            store,
            settings,
            reports: reports::Reports::default(),
            write: Mutex::new(()),
            changed: tokio::sync::Notify::new(),
            packaging_version: AtomicU64::new(0),
            packaging_view: RwLock::new(None),
        })
    }

    /// Counts committed changes of packaging channels and origin endpoints.
    pub fn packaging_version(&self) -> u64 {
        self.packaging_version.load(Ordering::Acquire)
    }

    /// A packaging document was written or deleted: the next
    /// [`packaging_view`](ControlPlane::packaging_view) reads the store again,
    /// and the runtime passes at once (it syncs the origin).
    pub(crate) fn packaging_changed(&self) {
        self.packaging_version.fetch_add(1, Ordering::AcqRel);
        self.wake();
    }

    /// Every packaging channel and origin endpoint, read from the store once per
    /// change and shared until the next: what the origin's request path reads,
    /// so a GET never queries SQLite. A reader that loaded an older version
    /// than the current one is reloaded on the next call.
    pub fn packaging_view(&self) -> Result<Arc<packaging::PackagingView>> {
        let version = self.packaging_version();
        // The cache is replaced whole, so a poisoned lock still holds a view.
        let cached = self
            .packaging_view
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, view)) = cached.as_ref().filter(|(v, _)| *v == version) {
            return Ok(view.clone());
        }
        drop(cached);
        let view = Arc::new(packaging::PackagingView {
            channels: self
                .packaging_channels()?
                .into_iter()
                .map(|c| (c.channel.id.clone(), c))
                .collect(),
            endpoints: self
                .origin_endpoints()?
                .into_iter()
                .map(|e| (e.endpoint.id.clone(), e))
                .collect(),
        });
        *self
            .packaging_view
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some((version, view.clone()));
        Ok(view)
    }

    /// Serialises read-check-write sequences on the store.
    ///
    /// The lock guards no data of its own: every sequence under it ends in
    /// one store write (a put, or a [`store::Batch`] committed as one
    /// transaction), so a request that panics half way has written nothing.
    /// A poisoned lock is therefore taken again, not refused from then on.
    pub(crate) fn write_lock(&self) -> Result<MutexGuard<'_, ()>> {
        Ok(self.write.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Tells whoever waits in [`ControlPlane::changed`] (the runtime) that
    /// the desired state changed.
    pub fn wake(&self) {
        self.changed.notify_one();
    }

    /// Resolves after the next [`ControlPlane::wake`] (or at once if one
    /// came since the last call).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_under_the_write_lock_does_not_refuse_every_later_write() {
        let cp = ControlPlane::with_store(Store::in_memory().unwrap(), Settings::default());
        let holder = cp.clone();
        let panicked = std::thread::spawn(move || {
            let _w = holder.write_lock().unwrap();
            panic!("a request handler panics half way");
        })
        .join();
        assert!(panicked.is_err());
        assert!(cp.write.is_poisoned());
        drop(cp.write_lock().unwrap());
        let body = serde_json::json!({"name": "f", "source": {"name": "s", "protocol": "rtp", "ingestPort": 5000}});
        cp.create_flow("us-east-1", &body).unwrap();
    }
}
