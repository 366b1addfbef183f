//! The monitor as the rest of onair shares it: one [`Hub`] holding the
//! metric [`Store`], the alarms ([`alarms::AlarmBook`]), MediaLive alerts
//! and the event feed ([`feed::Feed`]), behind short locks.
//!
//! # Model
//!
//! Writers are the engines' observer (engine metrics every second, events,
//! alerts) and the CloudWatch API (PutMetricData, PutMetricAlarm, …); readers
//! are the CloudWatch API, `/metrics`, the dashboard and the alarm driver.
//! The hub owns no task, socket or clock: every call that depends on time
//! takes `now`, and persistence is bytes in and out ([`Hub::snapshot`],
//! [`Hub::alarms_document`] and their restores), written by the caller.
//!
//! # Invariants
//!
//! * No lock is held across a call into another lock's owner, and no call
//!   blocks on I/O: a reader never waits for more than a copy.
//! * [`Hub::version`] grows whenever an alarm, an alert or the feed changes,
//!   so a poller (the dashboard's event stream) can tell when to look again;
//!   [`Hub::alarms_version`] grows only when the alarms change (what must be
//!   persisted).
//!
//! # Driving contract
//!
//! 1. Start: [`Hub::new`], then [`Hub::restore_snapshot`] and
//!    [`Hub::restore_alarms`] from what was persisted.
//! 2. Every second: publish engine metrics ([`Hub::put`]); then
//!    [`Hub::evaluate_due`] and hand each [`alarms::Transition`]'s actions
//!    to the notifier.
//! 3. After [`Hub::alarms_version`] changes, persist [`Hub::alarms_document`]
//!    (configuration: at once); every few minutes and at shutdown, persist
//!    [`Hub::snapshot`] (history).

pub mod alarms;
pub mod feed;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::series::{MetricId, Store, StoreConfig};
use crate::{MonitorError, StatisticSet, Timestamp};

use self::alarms::{AlarmBook, Transition};
use self::feed::Feed;

/// Who the hub's ARNs belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub account_id: String,
    pub region: String,
}

/// See the [module docs](self).
pub struct Hub {
    identity: Identity,
    store: Mutex<Store>,
    alarms: Mutex<AlarmBook>,
    feed: Mutex<Feed>,
    /// The `Unit` each metric was last written with.
    units: Mutex<HashMap<MetricId, String>>,
    /// State changes made outside [`Hub::evaluate_due`] (SetAlarmState),
    /// waiting for the driver to run their actions.
    pending: Mutex<Vec<Transition>>,
    version: AtomicU64,
    alarms_version: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing under these locks can leave the data half-written (every
    // mutation is a single insert or assignment), so a poisoned lock is used as is.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    pub fn new(identity: Identity, config: StoreConfig) -> Self {
        Self {
            identity,
            store: Mutex::new(Store::new(config)),
            alarms: Mutex::new(AlarmBook::default()),
            feed: Mutex::new(Feed::default()),
            units: Mutex::default(),
            pending: Mutex::default(),
            version: AtomicU64::new(1),
            alarms_version: AtomicU64::new(1),
        }
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Grows on every change of alarms, alerts or the feed.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Grows on every change of the alarms (configuration or state).
    pub fn alarms_version(&self) -> u64 {
        self.alarms_version.load(Ordering::Acquire)
    }

    fn bump(&self, alarms: bool) {
        self.version.fetch_add(1, Ordering::AcqRel);
        if alarms {
            self.alarms_version.fetch_add(1, Ordering::AcqRel);
        }
    }

    // ---------------------------------------------------------------- metrics

    /// Record one statistic set (PutMetricData, or an engine's second).
    pub fn put(
        &self,
        now: Timestamp,
        id: &MetricId,
        timestamp: Timestamp,
        set: StatisticSet,
    ) -> Result<(), MonitorError> {
        lock(&self.store).put_statistic_set(now, id, timestamp, set)
    }

    /// Remember the unit a metric is written with (PutMetricData `Unit`).
    pub fn set_unit(&self, id: &MetricId, unit: &str) {
        let mut units = lock(&self.units);
        if units.get(id).is_none_or(|u| u != unit) {
            units.insert(id.clone(), unit.to_owned());
        }
    }

    /// The unit a metric was last written with.
    pub fn unit(&self, id: &MetricId) -> Option<String> {
        lock(&self.units).get(id).cloned()
    }

    /// Read the store (GetMetricStatistics, ListMetrics, `/metrics`).
    pub fn with_store<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&lock(&self.store))
    }

    /// Change the store (expiry).
    pub fn with_store_mut<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut lock(&self.store))
    }

    /// The metric history as bytes ([`Store::snapshot`]).
    pub fn snapshot(&self) -> Vec<u8> {
        lock(&self.store).snapshot()
    }

    /// Replace the store with a snapshot's content.
    pub fn restore_snapshot(&self, bytes: &[u8]) -> Result<(), MonitorError> {
        let config = lock(&self.store).config();
        let restored = Store::restore(config, bytes)?;
        *lock(&self.store) = restored;
        Ok(())
    }

    // ---------------------------------------------------------------- alarms

    /// Read the alarms (Describe*, the dashboard).
    pub fn with_alarms<R>(&self, f: impl FnOnce(&AlarmBook) -> R) -> R {
        f(&lock(&self.alarms))
    }

    /// Change the alarms (PutMetricAlarm, DeleteAlarms, SetAlarmState, …).
    /// `f` returns `Ok` when it changed something worth persisting.
    pub fn with_alarms_mut<R>(
        &self,
        f: impl FnOnce(&mut AlarmBook, &Identity) -> Result<R, MonitorError>,
    ) -> Result<R, MonitorError> {
        let result = f(&mut lock(&self.alarms), &self.identity);
        if result.is_ok() {
            self.bump(true);
        }
        result
    }

    /// Evaluate every alarm whose tick is due at `now` against the store.
    /// Metric data of a second is complete a little after it ends, so the
    /// caller passes `now` a couple of seconds behind the wall clock.
    pub fn evaluate_due(&self, now: Timestamp) -> Vec<Transition> {
        let transitions = {
            let store = lock(&self.store);
            let mut book = lock(&self.alarms);
            book.evaluate_due(now, &store, &self.identity)
        };
        if !transitions.is_empty() {
            self.bump(true);
        }
        transitions
    }

    /// Queue a state change made by a call (SetAlarmState) for the driver.
    pub fn queue_transition(&self, transition: Transition) {
        lock(&self.pending).push(transition);
    }

    /// The queued state changes, oldest first.
    pub fn take_transitions(&self) -> Vec<Transition> {
        std::mem::take(&mut *lock(&self.pending))
    }

    /// The alarms as a JSON document (configuration, state, recent history).
    pub fn alarms_document(&self) -> String {
        lock(&self.alarms).to_document()
    }

    /// Replace the alarms with a persisted document's.
    pub fn restore_alarms(&self, document: &str, now: Timestamp) -> Result<usize, MonitorError> {
        let book = AlarmBook::from_document(document, now)?;
        let n = book.len();
        *lock(&self.alarms) = book;
        self.bump(false);
        Ok(n)
    }

    // ------------------------------------------------------------- the feed

    /// Read the feed: events and alerts.
    pub fn with_feed<R>(&self, f: impl FnOnce(&Feed) -> R) -> R {
        f(&lock(&self.feed))
    }

    /// Change the feed: post an event, set or clear an alert.
    pub fn with_feed_mut<R>(&self, f: impl FnOnce(&mut Feed) -> R) -> R {
        let r = f(&mut lock(&self.feed));
        self.bump(false);
        r
    }
}
