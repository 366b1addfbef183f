//! GetMetricStatistics' grouping: a metric's statistic sets cut into
//! periods, so each requested statistic is one
//! [`crate::MetricStatistic::compute_sets`] per period.

use super::{MetricId, Resolution, StatisticSet, Store};
use crate::{MonitorError, Timestamp};

/// The statistic sets of one period.
#[derive(Clone, Debug, PartialEq)]
pub struct PeriodSets {
    /// The period's start.
    pub start: Timestamp,
    /// Every set of the period, oldest first; never empty.
    pub sets: Vec<StatisticSet>,
}

impl Store {
    /// `id`'s sets in `[start, end)` cut into `period`-second periods, the
    /// first starting at `start` rounded down to the whole second (periods
    /// under a minute) or minute; periods without data are left out, as
    /// GetMetricStatistics leaves them out.
    ///
    /// `period` must be 1, 5, 10, 20, 30 or a multiple of 60 (the
    /// GetMetricStatistics `Period` rule). Periods under a minute read the
    /// 1-second points, so data more than 3 hours old returns nothing for
    /// them, as in CloudWatch; longer periods read seconds while `start` is
    /// within 3 hours and minutes beyond.
    pub fn periods(
        &self,
        now: Timestamp,
        id: &MetricId,
        start: Timestamp,
        end: Timestamp,
        period: u32,
    ) -> Result<Vec<PeriodSets>, MonitorError> {
        let valid = matches!(period, 1 | 5 | 10 | 20 | 30)
            || (period >= 60 && period.checked_rem(60) == Some(0));
        if !valid {
            return Err(MonitorError::invalid(
                "Period",
                "must be 1, 5, 10, 20, 30 or a multiple of 60",
            ));
        }
        let resolution = if period < 60 {
            Resolution::Second
        } else {
            self.resolution(now, start)
        };
        let first = start.floor_to(resolution.secs());
        let period_ms = u64::from(period) * 1000;
        let mut out: Vec<PeriodSets> = Vec::new();
        for (ts, set) in self.read(now, id, first, end, resolution) {
            let index = ts.as_unix_millis().saturating_sub(first.as_unix_millis()) / period_ms;
            let period_start = Timestamp::from_unix_millis(
                first.as_unix_millis().saturating_add(index * period_ms),
            );
            match out.last_mut() {
                Some(last) if last.start == period_start => last.sets.push(set),
                _ => out.push(PeriodSets {
                    start: period_start,
                    sets: vec![set],
                }),
            }
        }
        Ok(out)
    }
}
