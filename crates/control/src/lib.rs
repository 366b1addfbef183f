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

pub mod arn;
pub mod error;
pub mod fields;
pub mod flow;
pub mod logs;
pub mod medialive;
pub mod packaging;
pub mod reports;
pub mod store;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

pub use error::{ControlError, Result};
pub use store::Store;

/// Server-wide settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The 12-digit account id in every ARN.
    pub account_id: String,
    /// The address reported as `ingestIp`: where encoders send.
    pub ingest_ip: String,
    /// The local address ingest sockets bind to.
    pub ingest_bind: IpAddr,
    /// Public base URL of the HTTP port (`http://host:port`, no trailing
    /// `/`): MediaPackage ingest and origin URLs are built on it.
    pub base_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            account_id: "000000000000".into(),
            ingest_ip: "127.0.0.1".into(),
            ingest_bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            base_url: "http://127.0.0.1:8080".into(),
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
        if let Ok(cached) = self.packaging_view.read() {
            if let Some((_, view)) = cached.as_ref().filter(|(v, _)| *v == version) {
                return Ok(view.clone());
            }
        }
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
        if let Ok(mut cached) = self.packaging_view.write() {
            *cached = Some((version, view.clone()));
        }
        Ok(view)
    }

    /// Serialises read-check-write sequences on the store.
    pub(crate) fn write_lock(&self) -> Result<MutexGuard<'_, ()>> {
        self.write
            .lock()
            .map_err(|_| ControlError::Internal("write lock poisoned".into()))
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
