//! The metric store, sans-IO: what PutMetricData writes and what
//! GetMetricStatistics, ListMetrics and the alarms read.
//!
//! # Model
//!
//! A [`Store`] maps a [`MetricId`] (namespace, metric name, dimensions
//! sorted by name) to two rings of [`StatisticSet`]s, each allocated in
//! pages of [`PAGE_SLOTS`] slots as it is written:
//!
//! * **seconds**: one set per second, readable for the last 3 hours
//!   ([`SECOND_RETENTION_SECS`]);
//! * **minutes**: one set per minute, readable for the last 15 days
//!   ([`MINUTE_RETENTION_MINS`]).
//!
//! A write lands in both rings at once (rollup on write): the minute ring is
//! always current, a late write updates the minute it belongs to, and a
//! point 3 hours to 2 weeks old, which PutMetricData accepts but the seconds
//! ring no longer covers, goes to the minute ring alone through the same
//! code path. Nothing has to run when seconds age out.
//!
//! # Invariants
//!
//! * Memory: a metric costs its map entry, the ring pages that have been
//!   written and an entry of 16 bytes for each of them in its two page
//!   tables, never more than [`METRIC_BYTES`] of slots (every page allocated); the store holds at
//!   most [`StoreConfig::max_metrics`] metrics ([`MonitorError::MetricLimit`]
//!   beyond). A page stays allocated until [`Store::expire`] finds it holds
//!   only points past retention. [`Store::memory_bytes`] and
//!   [`Store::slots`] report it. The rings are
//!   sized for retention **plus** the 2-hour future window, so a point
//!   written 2 hours ahead never evicts one still within retention.
//! * Time is the caller's: every call that depends on it takes `now`.
//!   Timestamps more than 2 weeks before `now` or 2 hours after it are
//!   refused ([`MonitorError::TooOld`], [`MonitorError::TooNew`]), the limits
//!   PutMetricData documents.
//! * Points are bucketed by the whole second (and minute) since the epoch
//!   their timestamp falls in; a read returns each bucket once, at its start.
//! * Nothing panics on any input, including a corrupt snapshot.
//!
//! # Driving contract
//!
//! 1. On start, [`Store::restore`] the last snapshot from the data directory
//!    (or [`Store::new`] when there is none).
//! 2. On PutMetricData, [`Store::put`] or [`Store::put_statistic_set`] each
//!    datum with the current time.
//! 3. To evaluate an alarm, [`Store::alarm_sets`] then
//!    [`crate::Alarm::evaluate_sets`]; for GetMetricStatistics,
//!    [`Store::periods`] then [`crate::MetricStatistic::compute_sets`] on
//!    each period's sets, once per requested statistic.
//! 4. Every few minutes, call [`Store::expire`]: it forgets metrics without
//!    data for 15 days and gives back the pages that hold only data past
//!    retention (a metric that stopped 3 hours ago keeps only its minutes).
//!    Then, and on shutdown, write [`Store::snapshot`] to the data directory
//!    (write a temporary file, then rename).
//!
//! ```
//! use monitor::series::{Resolution, Store, StoreConfig, MetricId, MetricFilter};
//! use monitor::{Dimension, Timestamp};
//!
//! let mut store = Store::new(StoreConfig::default());
//! let id = MetricId::new(
//!     "onair/MediaLive",
//!     "NetworkIn",
//!     vec![Dimension { name: "ChannelId".into(), value: "7".into() }],
//! ).unwrap();
//! let now = Timestamp::from_unix_secs(1_795_947_600); // 2026-11-29 10:20:00Z
//! store.put(now, &id, now, 4.0).unwrap();
//! store.put(now, &id, now, 6.0).unwrap(); // same second: merged
//! store.put(now, &id, now.plus_secs(30), 8.0).unwrap();
//!
//! let later = now.plus_secs(60);
//! assert_eq!(store.resolution(later, now), Resolution::Second);
//! let secs = store.read(later, &id, now, later, Resolution::Second);
//! assert_eq!(secs.len(), 2);
//! assert_eq!(secs[0].1.sample_count, 2.0);
//! let mins = store.read(later, &id, now, later, Resolution::Minute);
//! assert_eq!(mins.len(), 1);
//! assert_eq!((mins[0].1.sum, mins[0].1.maximum), (18.0, 8.0));
//!
//! // Memory follows the data: pages of 64 slots allocated by the first
//! // write into them (the two seconds straddle a page edge), about 7 KB
//! // here, where every page of both rings would be 1.4 MB.
//! let usage = store.slots(&id).unwrap();
//! assert_eq!((usage.second_pages, usage.minute_pages), (2, 1));
//! assert!(store.memory_bytes() < 8_000);
//!
//! // A snapshot restores the same store.
//! let bytes = store.snapshot();
//! assert_eq!(Store::restore(StoreConfig::default(), &bytes).unwrap(), store);
//!
//! // More than 2 hours ahead is refused.
//! assert!(store.put(now, &id, now.plus_secs(7201), 1.0).is_err());
//! let all = store.list(&MetricFilter::default());
//! assert_eq!(all, vec![&id]);
//! ```

mod id;
mod period;
mod ring;
mod set;
mod snapshot;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use self::id::{DimensionFilter, MetricFilter, MetricId, MAX_DIMENSIONS, MAX_NAME_CHARS};
pub use self::period::PeriodSets;
pub use self::ring::PAGE_SLOTS;
pub use self::set::StatisticSet;

use self::ring::{Ring, SLOT_BYTES};
use crate::{Alarm, MonitorError, Timestamp};

/// How long 1-second points stay readable: 3 hours.
pub const SECOND_RETENTION_SECS: u64 = 3 * 3600;
/// How long 1-minute rollups stay readable: 15 days.
pub const MINUTE_RETENTION_MINS: u64 = 15 * 24 * 60;
/// PutMetricData refuses time stamps more than two weeks in the past.
pub const MAX_AGE_SECS: u64 = 14 * 24 * 3600;
/// PutMetricData refuses time stamps more than two hours in the future.
pub const MAX_FUTURE_SECS: u64 = 2 * 3600;
/// The last instant the store accepts, 9999-12-31T23:59:59.999Z (the
/// latest an ISO 8601 time stamp with a four-digit year can say). It keeps
/// every slot's lap within a `u32`.
pub const LATEST_TIMESTAMP: Timestamp = Timestamp::from_unix_millis(253_402_300_799_999);

/// Slots of the seconds ring: 3 h of retention plus the 2 h future window.
pub const SECOND_SLOTS: usize = (SECOND_RETENTION_SECS + MAX_FUTURE_SECS) as usize;
/// Slots of the minutes ring: 15 days of retention plus the 2 h future window.
pub const MINUTE_SLOTS: usize = (MINUTE_RETENTION_MINS + MAX_FUTURE_SECS / 60) as usize;
/// Ring memory of one metric once every page is allocated, in bytes (36
/// bytes a slot: a `u32` lap tag and four `f64`):
/// (18 000 + 21 720) × 36 = 1 429 920. The worst case, reached by a metric
/// written at least every 4 minutes for 15 days; typical metrics cost far
/// less, since a page (64 slots, 2 304 bytes) is allocated by its first
/// write:
///
/// | metric                                  | pages (s + min) | bytes       |
/// |-----------------------------------------|-----------------|-------------|
/// | one point                               | 1 + 1           | ≈ 5 000     |
/// | every second for 3 hours                | 169–170 + 3–4   | ≈ 410 000   |
/// | every second (or minute) for 5 hours    | 282 + 5–6       | ≈ 680 000   |
/// | every second for 15 days                | 282 + 340       | ≈ 1 470 000 |
/// | the same, [`Store::expire`] every 5 min | 170–175 + 340   | ≈ 1 210 000 |
/// | stopped 3 hours ago, after `expire`     | 0 + its minutes | minutes     |
///
/// (Pages straddle the hours, hence the ranges; bytes include the page
/// tables and the map entry. `expire` frees the seconds pages holding only
/// points more than 3 hours old.)
pub const METRIC_BYTES: usize = (SECOND_SLOTS + MINUTE_SLOTS) * SLOT_BYTES;

/// Store limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// The most metrics the store holds; a write creating one more is
    /// refused. Worst-case ring memory is `max_metrics × METRIC_BYTES`;
    /// metrics written rarely or recently cost a page per ring and per
    /// 64 seconds or minutes that hold data (see [`METRIC_BYTES`]).
    pub max_metrics: usize,
}

impl Default for StoreConfig {
    /// 1 000 metrics: about 1.4 GB of rings at worst (all written for 15
    /// days at least every 4 minutes), about 20 MB when each holds a point.
    fn default() -> Self {
        Self { max_metrics: 1_000 }
    }
}

/// The resolution of a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// 1-second points, the last 3 hours.
    Second,
    /// 1-minute rollups, the last 15 days.
    Minute,
}

impl Resolution {
    /// Length of one point in seconds.
    pub const fn secs(self) -> u64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Metric {
    seconds: Ring,
    minutes: Ring,
    /// The latest minute ever written (the newest point's minute).
    last_minute: u64,
}

impl Metric {
    fn new() -> Self {
        Self {
            seconds: Ring::new(SECOND_SLOTS),
            minutes: Ring::new(MINUTE_SLOTS),
            last_minute: 0,
        }
    }
}

/// The time-series store. See the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Store {
    config: StoreConfig,
    metrics: BTreeMap<MetricId, Metric>,
}

fn secs_of(t: Timestamp) -> u64 {
    t.as_unix_millis() / 1000
}

fn mins_of(t: Timestamp) -> u64 {
    t.as_unix_millis() / 60_000
}

impl Store {
    pub fn new(config: StoreConfig) -> Self {
        Self {
            config,
            metrics: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> StoreConfig {
        self.config
    }

    /// How many metrics the store holds.
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// Record one raw value (a PutMetricData `Value`).
    pub fn put(
        &mut self,
        now: Timestamp,
        id: &MetricId,
        timestamp: Timestamp,
        value: f64,
    ) -> Result<(), MonitorError> {
        self.put_statistic_set(now, id, timestamp, StatisticSet::value(value)?)
    }

    /// Record a statistic set (a PutMetricData `StatisticValues`), merged into
    /// the second and the minute `timestamp` falls in. Refuses an invalid set,
    /// a timestamp more than 2 weeks before `now` or 2 hours after it, and a
    /// new metric when the store is full.
    pub fn put_statistic_set(
        &mut self,
        now: Timestamp,
        id: &MetricId,
        timestamp: Timestamp,
        set: StatisticSet,
    ) -> Result<(), MonitorError> {
        set.check()?;
        let oldest = now.minus_secs(MAX_AGE_SECS);
        if timestamp < oldest {
            return Err(MonitorError::TooOld { timestamp, oldest });
        }
        let newest = now.plus_secs(MAX_FUTURE_SECS);
        if timestamp > newest {
            return Err(MonitorError::TooNew { timestamp, newest });
        }
        if timestamp > LATEST_TIMESTAMP {
            return Err(MonitorError::invalid(
                "Timestamp",
                "must be before 10000-01-01T00:00:00Z",
            ));
        }
        let limit = self.config.max_metrics;
        if !self.metrics.contains_key(id) && self.metrics.len() >= limit {
            return Err(MonitorError::MetricLimit { limit });
        }
        if !self.metrics.contains_key(id) {
            self.metrics.insert(id.clone(), Metric::new());
        }
        let Some(metric) = self.metrics.get_mut(id) else {
            return Ok(());
        };
        let second = secs_of(timestamp);
        let minute = mins_of(timestamp);
        // Older seconds are past retention; writing them would evict a
        // second that is still within it.
        let in_seconds = secs_of(now).saturating_sub(second) < SECOND_RETENTION_SECS;
        // Sums of values near f64::MAX overflow: refuse rather than store an
        // infinite sum that no snapshot could carry.
        let overflows =
            |held: Option<StatisticSet>| held.is_some_and(|h| h.merge(set).check().is_err());
        if overflows(metric.minutes.get(minute))
            || (in_seconds && overflows(metric.seconds.get(second)))
        {
            return Err(MonitorError::invalid(
                "Value",
                "the sum of this minute's values would overflow",
            ));
        }
        if in_seconds {
            metric.seconds.merge(second, set);
        }
        metric.minutes.merge(minute, set);
        metric.last_minute = metric.last_minute.max(minute);
        Ok(())
    }

    /// The resolution a read starting at `start` gets at `now`: seconds when
    /// `start` is less than 3 hours old, minutes otherwise.
    pub fn resolution(&self, now: Timestamp, start: Timestamp) -> Resolution {
        if secs_of(now).saturating_sub(secs_of(start)) < SECOND_RETENTION_SECS {
            Resolution::Second
        } else {
            Resolution::Minute
        }
    }

    /// Every point of `id` whose bucket starts in `[start, end)`, oldest
    /// first, at `resolution`. Buckets outside that resolution's retention
    /// at `now` (3 hours for seconds, 15 days for minutes) are not returned;
    /// an unknown metric has no points.
    pub fn read(
        &self,
        now: Timestamp,
        id: &MetricId,
        start: Timestamp,
        end: Timestamp,
        resolution: Resolution,
    ) -> Vec<(Timestamp, StatisticSet)> {
        let Some(metric) = self.metrics.get(id) else {
            return Vec::new();
        };
        let unit_ms = resolution.secs() * 1000;
        let (ring, retention, future) = match resolution {
            Resolution::Second => (&metric.seconds, SECOND_RETENTION_SECS, MAX_FUTURE_SECS),
            Resolution::Minute => (&metric.minutes, MINUTE_RETENTION_MINS, MAX_FUTURE_SECS / 60),
        };
        let now_unit = now.as_unix_millis() / unit_ms;
        let first = start
            .as_unix_millis()
            .div_ceil(unit_ms)
            .max(now_unit.saturating_add(1).saturating_sub(retention));
        let last = end
            .as_unix_millis()
            .div_ceil(unit_ms)
            .min(now_unit.saturating_add(future + 1));
        (first..last)
            .filter_map(|unit| {
                ring.get(unit).map(|set| {
                    (
                        Timestamp::from_unix_millis(unit.saturating_mul(unit_ms)),
                        set,
                    )
                })
            })
            .collect()
    }

    /// What [`Alarm::evaluate_sets`] needs at `now`: the sets of the
    /// alarm's metric in [`Alarm::query`]`(now)`. Seconds when the range is
    /// within 3 hours or the period is shorter than a minute (sub-minute
    /// data older than 3 hours is gone, as in CloudWatch); minutes otherwise,
    /// which is exact because such periods are whole minutes.
    pub fn alarm_sets(&self, now: Timestamp, alarm: &Alarm) -> Vec<(Timestamp, StatisticSet)> {
        let def = alarm.definition();
        let Ok(id) = MetricId::of_alarm(def) else {
            return Vec::new();
        };
        let range = alarm.query(now);
        let resolution = if def.period < 60 {
            Resolution::Second
        } else {
            self.resolution(now, range.start)
        };
        self.read(now, &id, range.start, range.end, resolution)
    }

    /// `ListMetrics`: the metrics matching `filter`, sorted by namespace,
    /// name and dimensions.
    pub fn list(&self, filter: &MetricFilter) -> Vec<&MetricId> {
        self.metrics
            .keys()
            .filter(|id| filter.matches(id))
            .collect()
    }

    /// Forget metrics whose newest point is older than the minute retention
    /// (15 days) at `now`, freeing their place under the metric cap, and
    /// free the ring pages of the others that hold only points past
    /// retention (seconds more than 3 hours old, minutes more than 15 days
    /// old), which no read at `now` or later returns. Returns how many
    /// metrics were dropped.
    pub fn expire(&mut self, now: Timestamp) -> usize {
        let oldest_minute = mins_of(now)
            .saturating_add(1)
            .saturating_sub(MINUTE_RETENTION_MINS);
        let oldest_second = secs_of(now)
            .saturating_add(1)
            .saturating_sub(SECOND_RETENTION_SECS);
        let before = self.metrics.len();
        self.metrics.retain(|_, m| m.last_minute >= oldest_minute);
        for metric in self.metrics.values_mut() {
            metric.seconds.release_before(oldest_second);
            metric.minutes.release_before(oldest_minute);
        }
        before - self.metrics.len()
    }

    /// The pages and slots allocated for `id` in each ring, how many slots
    /// hold a point, and the bytes the metric costs: the memory bound made
    /// observable.
    pub fn slots(&self, id: &MetricId) -> Option<SlotUsage> {
        self.metrics.get_key_value(id).map(|(id, m)| SlotUsage {
            second_pages: m.seconds.pages(),
            second_slots: m.seconds.allocated_slots(),
            seconds_used: m.seconds.occupied().count(),
            minute_pages: m.minutes.pages(),
            minute_slots: m.minutes.allocated_slots(),
            minutes_used: m.minutes.occupied().count(),
            bytes: entry_bytes(id, m),
        })
    }

    /// Approximate bytes the store holds: for each metric its map entry, its
    /// identity's strings, both rings' page tables and allocated pages.
    /// B-tree node slack and allocator rounding are not counted.
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self
                .metrics
                .iter()
                .map(|(id, m)| entry_bytes(id, m))
                .sum::<usize>()
    }
}

fn entry_bytes(id: &MetricId, metric: &Metric) -> usize {
    std::mem::size_of::<(MetricId, Metric)>()
        + id.heap_bytes()
        + metric.seconds.bytes()
        + metric.minutes.bytes()
}

/// Memory of one metric (see [`Store::slots`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotUsage {
    /// Pages of the seconds ring allocated (at most
    /// `SECOND_SLOTS.div_ceil(PAGE_SLOTS)`).
    pub second_pages: usize,
    /// Slots in those pages (at most [`SECOND_SLOTS`]).
    pub second_slots: usize,
    /// Slots holding a point.
    pub seconds_used: usize,
    /// Pages of the minutes ring allocated.
    pub minute_pages: usize,
    /// Slots in those pages (at most [`MINUTE_SLOTS`]).
    pub minute_slots: usize,
    /// Slots holding a point.
    pub minutes_used: usize,
    /// Approximate bytes of the metric: map entry, identity, page tables and
    /// pages (what it adds to [`Store::memory_bytes`]).
    pub bytes: usize,
}
