//! The control plane: resources, their persisted documents, the lifecycle
//! state machines the AWS waiters expect, and the supervisor that runs
//! engines to match.
//!
//! ```no_run
//! # async fn demo() -> Result<(), control::ControlError> {
//! let cp = control::ControlPlane::open(std::path::Path::new("onair-data"), control::Settings::default())?;
//! tokio::spawn(control::supervisor::run(cp.clone()));
//! # Ok(()) }
//! ```

pub mod arn;
pub mod error;
pub mod fields;
pub mod flow;
pub mod live;
pub mod packaging;
pub mod store;
pub mod supervisor;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

pub use error::{ControlError, Result};

/// The MediaPackage origin store, shared by HTTP ingest, the origin GETs and
/// the channel engines (in-process ingest).
pub type OriginStore = Arc<Mutex<package::origin::Origin>>;
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
    /// The origin store every packaging channel's media goes to.
    pub origin: OriginStore,
    write: Mutex<()>,
    pub(crate) engines: tokio::sync::Mutex<supervisor::Engines>,
    pub(crate) wake: tokio::sync::Notify,
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
            origin: OriginStore::default(),
            write: Mutex::new(()),
            engines: tokio::sync::Mutex::new(supervisor::Engines::default()),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Serialises read-check-write sequences on the store.
    pub(crate) fn write_lock(&self) -> Result<MutexGuard<'_, ()>> {
        self.write
            .lock()
            .map_err(|_| ControlError::Internal("write lock poisoned".into()))
    }

    /// Asks the supervisor for a pass now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}
