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
pub mod medialive;
pub mod packaging;
pub mod reports;
pub mod store;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

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
        })
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
