//! Turning one period's raw samples into one datapoint.
//!
//! CloudWatch "Statistics definitions" (user guide): `SampleCount` is the
//! number of datapoints, `Sum` their total, `Average` is `Sum / SampleCount`,
//! `Minimum` / `Maximum` the extremes, and `pNN.NN` the value below which
//! NN.NN% of the period's samples fall. PutMetricData refuses NaN and
//! ±Infinity, so non-finite samples are dropped here as well.
//!
//! Percentiles use the nearest-rank method on the exact samples (CloudWatch
//! itself works on an approximation of the distribution, so values can differ
//! slightly on small sample sets).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{MonitorError, StatisticSet, Timestamp};

/// One raw metric value as the caller stored it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub timestamp: Timestamp,
    pub value: f64,
}

impl Sample {
    pub const fn new(timestamp: Timestamp, value: f64) -> Self {
        Self { timestamp, value }
    }
}

/// The standard statistics of PutMetricAlarm's `Statistic` member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Statistic {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
}

impl Statistic {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SampleCount => "SampleCount",
            Self::Average => "Average",
            Self::Sum => "Sum",
            Self::Minimum => "Minimum",
            Self::Maximum => "Maximum",
        }
    }
}

impl FromStr for Statistic {
    type Err = MonitorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "SampleCount" => Ok(Self::SampleCount),
            "Average" => Ok(Self::Average),
            "Sum" => Ok(Self::Sum),
            "Minimum" => Ok(Self::Minimum),
            "Maximum" => Ok(Self::Maximum),
            other => Err(MonitorError::invalid(
                "Statistic",
                format!("{other:?} is not one of SampleCount, Average, Sum, Minimum, Maximum"),
            )),
        }
    }
}

/// A percentile `ExtendedStatistic`, `p0` to `p100` (e.g. `p99`, `p99.9`).
/// Other extended statistics (`tm`, `wm`, `tc`, `ts`, `pr`, `IQM`) are refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Percentile {
    text: String,
    value: f64,
}

impl Percentile {
    /// The percentile as a number in `0.0..=100.0`.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// The name as given, e.g. `p99.9`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Percentile {
    type Err = MonitorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let problem = || {
            MonitorError::invalid(
                "ExtendedStatistic",
                format!("{s:?} is not a percentile p0 to p100 (only percentiles are supported)"),
            )
        };
        let digits = s.strip_prefix('p').ok_or_else(problem)?;
        let well_formed = !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
            && !digits.starts_with('.')
            && !digits.ends_with('.');
        if !well_formed {
            return Err(problem());
        }
        let value: f64 = digits.parse().map_err(|_| problem())?;
        if !(0.0..=100.0).contains(&value) {
            return Err(problem());
        }
        Ok(Self {
            text: s.to_owned(),
            value,
        })
    }
}

impl TryFrom<String> for Percentile {
    type Error = MonitorError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Percentile> for String {
    fn from(p: Percentile) -> Self {
        p.text
    }
}

impl fmt::Display for Percentile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What an alarm aggregates each period with: exactly one of PutMetricAlarm's
/// `Statistic` or `ExtendedStatistic`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum MetricStatistic {
    Statistic(Statistic),
    ExtendedStatistic(Percentile),
}

impl MetricStatistic {
    /// The name CloudWatch shows: `Average`, `p99`, …
    pub fn name(&self) -> &str {
        match self {
            Self::Statistic(s) => s.as_str(),
            Self::ExtendedStatistic(p) => p.as_str(),
        }
    }

    /// Aggregate one period's samples. `None` when the period has no usable
    /// (finite) sample: the datapoint is missing.
    pub fn compute(&self, samples: &[f64]) -> Option<PeriodValue> {
        let finite: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
        let count = finite.len();
        if count == 0 {
            return None;
        }
        let sum: f64 = finite.iter().sum();
        let value = match self {
            Self::Statistic(Statistic::SampleCount) => count as f64,
            Self::Statistic(Statistic::Sum) => sum,
            Self::Statistic(Statistic::Average) => sum / count as f64,
            Self::Statistic(Statistic::Minimum) => {
                finite.iter().copied().fold(f64::INFINITY, f64::min)
            }
            Self::Statistic(Statistic::Maximum) => {
                finite.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            }
            Self::ExtendedStatistic(p) => nearest_rank(finite, p.value())?,
        };
        Some(PeriodValue {
            sample_count: count as u64,
            value,
        })
    }
}

impl MetricStatistic {
    /// Aggregate one period from statistic sets (one per second or minute of
    /// the period): `SampleCount` is the sum of the counts, `Sum` the sum of
    /// the sums, `Average` their quotient, `Minimum` / `Maximum` the extremes.
    /// `None` when no set is usable (empty or invalid sets are dropped).
    ///
    /// Percentiles cannot be recovered from sets: they are taken, nearest
    /// rank, over each set's **average** (the per-second, or per-minute,
    /// means). That is exact when every set holds one sample, and an
    /// approximation otherwise (a second holding 1 and 99 counts as one 50).
    /// `sample_count` is the summed count rounded to an integer.
    pub fn compute_sets(&self, sets: &[StatisticSet]) -> Option<PeriodValue> {
        let mut usable = sets
            .iter()
            .filter(|s| !s.is_empty() && s.check().is_ok())
            .peekable();
        usable.peek()?;
        let total = usable.fold(StatisticSet::EMPTY, |acc, s| acc.merge(*s));
        let value = match self {
            Self::Statistic(Statistic::SampleCount) => total.sample_count,
            Self::Statistic(Statistic::Sum) => total.sum,
            Self::Statistic(Statistic::Average) => total.sum / total.sample_count,
            Self::Statistic(Statistic::Minimum) => total.minimum,
            Self::Statistic(Statistic::Maximum) => total.maximum,
            Self::ExtendedStatistic(p) => {
                let averages: Vec<f64> = sets
                    .iter()
                    .filter(|s| s.check().is_ok())
                    .filter_map(StatisticSet::average)
                    .collect();
                nearest_rank(averages, p.value())?
            }
        };
        Some(PeriodValue {
            // Finite and positive: `as` saturates, never panics.
            sample_count: total.sample_count.round() as u64,
            value,
        })
    }
}

/// One period's aggregate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeriodValue {
    pub sample_count: u64,
    pub value: f64,
}

/// Nearest-rank percentile: the smallest sample such that at least `p`% of
/// the samples are at or below it (`p0` is the minimum, `p100` the maximum).
fn nearest_rank(mut values: Vec<f64>, p: f64) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    // `p99.9` is not exact in binary; a relative tolerance keeps
    // 99.9% of 1000 samples at rank 999 instead of 1000.
    let exact = p * n as f64 / 100.0;
    let rank = (exact - exact * 1e-12).ceil();
    // `rank` is finite and within 0..=n because p is within 0..=100.
    let index = (rank as usize).clamp(1, n.max(1)) - 1;
    values.get(index).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(s: &str) -> MetricStatistic {
        match s.parse::<Statistic>() {
            Ok(s) => MetricStatistic::Statistic(s),
            Err(_) => MetricStatistic::ExtendedStatistic(
                s.parse()
                    .unwrap_or_else(|_| unreachable!("test statistic {s}")),
            ),
        }
    }

    fn value(s: &str, samples: &[f64]) -> Option<f64> {
        stat(s).compute(samples).map(|v| v.value)
    }

    #[test]
    fn standard_statistics() {
        let xs = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(value("SampleCount", &xs), Some(4.0));
        assert_eq!(value("Sum", &xs), Some(10.0));
        assert_eq!(value("Average", &xs), Some(2.5));
        assert_eq!(value("Minimum", &xs), Some(1.0));
        assert_eq!(value("Maximum", &xs), Some(4.0));
    }

    #[test]
    fn percentiles_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(value("p0", &xs), Some(1.0));
        assert_eq!(value("p50", &xs), Some(50.0));
        assert_eq!(value("p99", &xs), Some(99.0));
        assert_eq!(value("p99.9", &xs), Some(100.0));
        assert_eq!(value("p100", &xs), Some(100.0));
        let xs: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(value("p99.9", &xs), Some(999.0));
        assert_eq!(value("p90", &[7.0]), Some(7.0));
    }

    #[test]
    fn empty_and_non_finite_samples_make_a_missing_datapoint() {
        assert_eq!(value("Average", &[]), None);
        assert_eq!(value("p99", &[f64::NAN, f64::INFINITY]), None);
        let v = stat("Average").compute(&[f64::NAN, 2.0, 4.0]);
        assert_eq!(
            v,
            Some(PeriodValue {
                sample_count: 2,
                value: 3.0
            })
        );
    }

    fn sets(values: &[f64]) -> Vec<StatisticSet> {
        values
            .iter()
            .filter_map(|v| StatisticSet::value(*v).ok())
            .collect()
    }

    #[test]
    fn sets_of_one_sample_give_the_same_statistics_as_samples() {
        let xs: Vec<f64> = (1..=100).map(|i| f64::from(i * 37 % 101)).collect();
        for s in [
            "SampleCount",
            "Sum",
            "Average",
            "Minimum",
            "Maximum",
            "p0",
            "p50",
            "p99",
            "p99.9",
            "p100",
        ] {
            assert_eq!(
                stat(s).compute(&xs),
                stat(s).compute_sets(&sets(&xs)),
                "{s}"
            );
        }
        assert_eq!(stat("Average").compute_sets(&[]), None);
    }

    #[test]
    fn merged_sets_are_exact_except_percentiles() {
        // Second one holds 1 and 99, second two holds 10.
        let a = StatisticSet::new(2.0, 100.0, 1.0, 99.0).unwrap_or(StatisticSet::EMPTY);
        let b = StatisticSet::new(1.0, 10.0, 10.0, 10.0).unwrap_or(StatisticSet::EMPTY);
        let v = |s: &str| stat(s).compute_sets(&[a, b]).map(|v| v.value);
        assert_eq!(v("SampleCount"), Some(3.0));
        assert_eq!(v("Sum"), Some(110.0));
        assert_eq!(v("Average"), Some(110.0 / 3.0));
        assert_eq!(v("Minimum"), Some(1.0));
        assert_eq!(v("Maximum"), Some(99.0));
        // Over the per-second averages 50 and 10 (the exact p100 is 99).
        assert_eq!(v("p100"), Some(50.0));
        assert_eq!(v("p0"), Some(10.0));
        assert_eq!(
            stat("Sum").compute_sets(&[a, b]).map(|v| v.sample_count),
            Some(3)
        );
    }

    #[test]
    fn refuses_non_percentiles_by_member_name() {
        for bad in ["p", "p101", "p-1", "tm99", "p9x", "p.5", "p5.", "P50", ""] {
            let err = bad.parse::<Percentile>().err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.starts_with("ExtendedStatistic: ")),
                "{bad}: {err:?}"
            );
        }
        let err = "Median".parse::<Statistic>().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("Statistic: ")));
    }
}
