//! The statistic set: what one second or one minute of a metric keeps.
//!
//! PutMetricData `StatisticValues` (`SampleCount`, `Sum`, `Minimum`,
//! `Maximum`) is this shape exactly; a raw value `v` is the set
//! `{1, v, v, v}`. Two sets of the same second merge by adding counts and
//! sums and keeping the extremes, so several values in one second cost no
//! more memory than one.

use crate::MonitorError;

/// `{SampleCount, Sum, Minimum, Maximum}`. A set from [`StatisticSet::new`]
/// or [`StatisticSet::value`] always has a positive finite count, a finite
/// sum and `minimum <= maximum`, both finite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StatisticSet {
    pub sample_count: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
}

impl StatisticSet {
    /// The empty set (count 0); what an unused ring slot holds.
    pub(crate) const EMPTY: Self = Self {
        sample_count: 0.0,
        sum: 0.0,
        minimum: 0.0,
        maximum: 0.0,
    };

    /// One raw value. Refuses NaN and ±Infinity, as PutMetricData does.
    pub fn value(value: f64) -> Result<Self, MonitorError> {
        if !value.is_finite() {
            return Err(MonitorError::invalid("Value", "must be a finite number"));
        }
        Ok(Self {
            sample_count: 1.0,
            sum: value,
            minimum: value,
            maximum: value,
        })
    }

    /// A PutMetricData `StatisticValues`: every member finite,
    /// `SampleCount > 0`, `Minimum <= Maximum`.
    pub fn new(
        sample_count: f64,
        sum: f64,
        minimum: f64,
        maximum: f64,
    ) -> Result<Self, MonitorError> {
        let set = Self {
            sample_count,
            sum,
            minimum,
            maximum,
        };
        set.check()?;
        Ok(set)
    }

    pub(crate) fn check(&self) -> Result<(), MonitorError> {
        let bad = |problem| Err(MonitorError::invalid("StatisticValues", problem));
        let all_finite = [self.sample_count, self.sum, self.minimum, self.maximum]
            .iter()
            .all(|v| v.is_finite());
        if !all_finite {
            return bad("every member must be a finite number");
        }
        if self.sample_count <= 0.0 {
            return bad("SampleCount must be greater than 0");
        }
        if self.minimum > self.maximum {
            return bad("Minimum must not be greater than Maximum");
        }
        Ok(())
    }

    /// Whether this is the empty set (an unused slot).
    pub fn is_empty(&self) -> bool {
        self.sample_count <= 0.0
    }

    /// `Sum / SampleCount`; `None` for the empty set.
    pub fn average(&self) -> Option<f64> {
        (!self.is_empty()).then(|| self.sum / self.sample_count)
    }

    /// The set of both sets' samples. The empty set is the identity.
    #[must_use]
    pub fn merge(self, other: Self) -> Self {
        if self.is_empty() {
            return other;
        }
        if other.is_empty() {
            return self;
        }
        Self {
            sample_count: self.sample_count + other.sample_count,
            sum: self.sum + other.sum,
            minimum: self.minimum.min(other.minimum),
            maximum: self.maximum.max(other.maximum),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_keeps_extremes() {
        let a = StatisticSet::value(3.0).unwrap_or(StatisticSet::EMPTY);
        let b = StatisticSet::new(2.0, 10.0, 4.0, 6.0).unwrap_or(StatisticSet::EMPTY);
        let m = a.merge(b);
        assert_eq!(m, StatisticSet::new(3.0, 13.0, 3.0, 6.0).unwrap_or(a));
        assert_eq!(StatisticSet::EMPTY.merge(a), a);
        assert_eq!(a.merge(StatisticSet::EMPTY), a);
        assert_eq!(m.average(), Some(13.0 / 3.0));
        assert_eq!(StatisticSet::EMPTY.average(), None);
    }

    #[test]
    fn refuses_invalid_statistic_values() {
        assert!(StatisticSet::value(f64::NAN).is_err());
        for (c, s, lo, hi) in [
            (0.0, 1.0, 1.0, 1.0),
            (1.0, f64::INFINITY, 1.0, 1.0),
            (1.0, 1.0, 2.0, 1.0),
            (f64::NAN, 1.0, 1.0, 1.0),
        ] {
            let err = StatisticSet::new(c, s, lo, hi).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.starts_with("StatisticValues: ")),
                "{err:?}"
            );
        }
    }
}
