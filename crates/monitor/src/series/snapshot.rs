//! The store's snapshot: a compact binary document a driver writes to the
//! data directory and hands back on restart.
//!
//! Layout, little-endian, version 1:
//!
//! ```text
//! u8  version = 1
//! u32 metric count
//! per metric:
//!   str namespace, str metric name        (str = u16 byte length + UTF-8)
//!   u8  dimension count, then str name, str value for each
//!   u32 second count, then (u64 unit, f64 count, sum, min, max) for each
//!   u32 minute count, then the same for minutes
//! ```
//!
//! Only occupied slots are written (40 bytes each), so a store that holds
//! little costs little on disk. Restoring checks everything a write would
//! check (names, statistic sets, the metric cap) plus the layout itself, and
//! tells a truncated snapshot from an invalid one.

use super::ring::Ring;
use super::LATEST_TIMESTAMP;
use super::{mins_of, secs_of, Metric, MetricId, StatisticSet, Store, StoreConfig};
use crate::{Dimension, MonitorError};

const VERSION: u8 = 1;

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Names are at most 255 characters, so at most 1020 bytes.
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(s.as_bytes().get(..usize::from(len)).unwrap_or_default());
}

fn put_ring(out: &mut Vec<u8>, ring: &Ring) {
    let mut points: Vec<(u64, StatisticSet)> = ring.occupied().collect();
    points.sort_by_key(|(unit, _)| *unit);
    let count = u32::try_from(points.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    for (unit, set) in points {
        out.extend_from_slice(&unit.to_le_bytes());
        for v in [set.sample_count, set.sum, set.minimum, set.maximum] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

impl Store {
    /// The whole store as bytes, for [`Store::restore`]. Deterministic: the
    /// same store always gives the same bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        let count = u32::try_from(self.metrics.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&count.to_le_bytes());
        for (id, metric) in &self.metrics {
            put_str(&mut out, id.namespace());
            put_str(&mut out, id.metric_name());
            let dims = id.dimensions();
            out.push(u8::try_from(dims.len()).unwrap_or(u8::MAX));
            for d in dims {
                put_str(&mut out, &d.name);
                put_str(&mut out, &d.value);
            }
            put_ring(&mut out, &metric.seconds);
            put_ring(&mut out, &metric.minutes);
        }
        out
    }

    /// A store from a [`Store::snapshot`], with `config`'s limits. Refuses a
    /// truncated or invalid snapshot, one of another version, and one holding
    /// more metrics than `config.max_metrics`.
    pub fn restore(config: StoreConfig, bytes: &[u8]) -> Result<Self, MonitorError> {
        let mut r = Reader { bytes };
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(invalid(format!("version {version}, expected {VERSION}")));
        }
        let count = r.u32("metric count")?;
        let mut store = Store::new(config);
        for _ in 0..count {
            let namespace = r.str("namespace")?;
            let metric_name = r.str("metric name")?;
            let dims = r.u8("dimension count")?;
            let mut dimensions = Vec::new();
            for _ in 0..dims {
                let name = r.str("dimension name")?;
                let value = r.str("dimension value")?;
                dimensions.push(Dimension { name, value });
            }
            let id = MetricId::new(namespace, metric_name, dimensions)
                .map_err(|e| invalid(format!("metric identity: {e}")))?;
            if store.metrics.len() >= config.max_metrics {
                return Err(MonitorError::MetricLimit {
                    limit: config.max_metrics,
                });
            }
            let mut metric = Metric::new();
            r.ring(&mut metric.seconds, "seconds", secs_of(LATEST_TIMESTAMP))?;
            let newest = r.ring(&mut metric.minutes, "minutes", mins_of(LATEST_TIMESTAMP))?;
            metric.last_minute = newest.ok_or_else(|| invalid("a metric without minutes"))?;
            // Snapshots list metrics in increasing order, each once.
            if store
                .metrics
                .last_key_value()
                .is_some_and(|(last, _)| *last >= id)
            {
                return Err(invalid("metrics not in increasing order"));
            }
            store.metrics.insert(id, metric);
        }
        if !r.bytes.is_empty() {
            return Err(invalid("bytes after the last metric"));
        }
        Ok(store)
    }
}

fn invalid(problem: impl Into<String>) -> MonitorError {
    MonitorError::SnapshotInvalid(problem.into())
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], MonitorError> {
        let (head, rest) = self
            .bytes
            .split_first_chunk::<N>()
            .ok_or(MonitorError::SnapshotTruncated(what))?;
        self.bytes = rest;
        Ok(*head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, MonitorError> {
        self.take::<1>(what).map(|[b]| b)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, MonitorError> {
        self.take(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, MonitorError> {
        self.take(what).map(u64::from_le_bytes)
    }

    fn f64(&mut self, what: &'static str) -> Result<f64, MonitorError> {
        self.take(what).map(f64::from_le_bytes)
    }

    fn str(&mut self, what: &'static str) -> Result<String, MonitorError> {
        let len = usize::from(u16::from_le_bytes(self.take(what)?));
        if self.bytes.len() < len {
            return Err(MonitorError::SnapshotTruncated(what));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        String::from_utf8(head.to_vec()).map_err(|_| invalid(format!("{what} is not UTF-8")))
    }

    /// Fill `ring` with units up to `latest`; the newest unit read, if any.
    fn ring(
        &mut self,
        ring: &mut Ring,
        what: &'static str,
        latest: u64,
    ) -> Result<Option<u64>, MonitorError> {
        let count = self.u32(what)?;
        if usize::try_from(count).map_or(true, |c| c > ring.capacity()) {
            return Err(invalid(format!("more {what} than the ring holds")));
        }
        let mut newest = None;
        for _ in 0..count {
            let unit = self.u64(what)?;
            let set = StatisticSet {
                sample_count: self.f64(what)?,
                sum: self.f64(what)?,
                minimum: self.f64(what)?,
                maximum: self.f64(what)?,
            };
            set.check()
                .map_err(|e| invalid(format!("{what} point {unit}: {e}")))?;
            if newest.is_some_and(|n| unit <= n) {
                return Err(invalid(format!("{what} not in increasing order")));
            }
            if unit > latest {
                return Err(invalid(format!("{what} point {unit}: after year 9999")));
            }
            if !ring.fill(unit, set) {
                return Err(invalid(format!("two {what} points share one slot")));
            }
            newest = Some(unit);
        }
        Ok(newest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    fn sample_store() -> Store {
        let mut store = Store::new(StoreConfig::default());
        let now = Timestamp::from_unix_secs(1_795_947_600);
        let id = MetricId::new(
            "ns",
            "m",
            vec![Dimension {
                name: "d".into(),
                value: "v".into(),
            }],
        );
        if let Ok(id) = id {
            for s in 0..5 {
                let _ = store.put(now, &id, now.minus_secs(s * 3000), s as f64);
            }
        }
        store
    }

    #[test]
    fn every_truncation_is_refused_as_truncated() {
        let bytes = sample_store().snapshot();
        for len in 0..bytes.len() {
            let err = Store::restore(StoreConfig::default(), bytes.get(..len).unwrap_or(&[]));
            assert!(
                matches!(err, Err(MonitorError::SnapshotTruncated(_))),
                "{len}: {err:?}"
            );
        }
    }

    #[test]
    fn refuses_other_versions_trailing_bytes_and_bad_sets() {
        let store = sample_store();
        let mut bytes = store.snapshot();
        assert_eq!(
            Store::restore(StoreConfig::default(), &bytes).as_ref(),
            Ok(&store)
        );
        bytes.push(0);
        assert!(matches!(
            Store::restore(StoreConfig::default(), &bytes),
            Err(MonitorError::SnapshotInvalid(_))
        ));
        bytes.pop();
        if let Some(v) = bytes.first_mut() {
            *v = 2;
        }
        let err = Store::restore(StoreConfig::default(), &bytes).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("snapshot: invalid (version 2, expected 1)")
        );
        // The last f64 is the last minute's maximum: make it NaN.
        let mut bytes = store.snapshot();
        let n = bytes.len();
        if let Some(tail) = bytes.get_mut(n - 8..) {
            tail.copy_from_slice(&f64::NAN.to_le_bytes());
        }
        assert!(matches!(
            Store::restore(StoreConfig::default(), &bytes),
            Err(MonitorError::SnapshotInvalid(_))
        ));
        // A smaller cap refuses the snapshot, naming the limit.
        let err = Store::restore(StoreConfig { max_metrics: 0 }, &store.snapshot()).err();
        assert_eq!(err, Some(MonitorError::MetricLimit { limit: 0 }));
    }
}
