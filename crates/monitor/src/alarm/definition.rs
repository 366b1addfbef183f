//! An alarm definition: the PutMetricAlarm members that matter for evaluation
//! (Amazon CloudWatch API Reference, `PutMetricAlarm`), kept as plain data and
//! checked by [`AlarmDefinition::validate`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::statistics::MetricStatistic;
use crate::MonitorError;

/// A metric dimension. Opaque to the evaluator: the caller uses it to find
/// the samples.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

/// PutMetricAlarm `ComparisonOperator`. The statistic is the first operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ComparisonOperator {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
    /// Anomaly detection band; refused by [`AlarmDefinition::validate`].
    LessThanLowerOrGreaterThanUpperThreshold,
    /// Anomaly detection band; refused by [`AlarmDefinition::validate`].
    LessThanLowerThreshold,
    /// Anomaly detection band; refused by [`AlarmDefinition::validate`].
    GreaterThanUpperThreshold,
}

impl ComparisonOperator {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Self::GreaterThanThreshold => "GreaterThanThreshold",
            Self::LessThanThreshold => "LessThanThreshold",
            Self::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
            Self::LessThanLowerOrGreaterThanUpperThreshold => {
                "LessThanLowerOrGreaterThanUpperThreshold"
            }
            Self::LessThanLowerThreshold => "LessThanLowerThreshold",
            Self::GreaterThanUpperThreshold => "GreaterThanUpperThreshold",
        }
    }

    /// Whether this operator compares against an anomaly detection band
    /// (`ThresholdMetricId`) instead of a static `Threshold`.
    pub const fn is_band(self) -> bool {
        matches!(
            self,
            Self::LessThanLowerOrGreaterThanUpperThreshold
                | Self::LessThanLowerThreshold
                | Self::GreaterThanUpperThreshold
        )
    }

    /// Whether `value` breaches `threshold`. Band operators never breach (they
    /// are refused at validation, so a validated alarm never asks).
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::GreaterThanOrEqualToThreshold => value >= threshold,
            Self::GreaterThanThreshold => value > threshold,
            Self::LessThanThreshold => value < threshold,
            Self::LessThanOrEqualToThreshold => value <= threshold,
            Self::LessThanLowerOrGreaterThanUpperThreshold
            | Self::LessThanLowerThreshold
            | Self::GreaterThanUpperThreshold => false,
        }
    }

    /// The words CloudWatch uses in a `StateReason`: `greater than or equal to`.
    pub(crate) const fn phrase(self) -> &'static str {
        match self {
            Self::GreaterThanOrEqualToThreshold => "greater than or equal to",
            Self::GreaterThanThreshold => "greater than",
            Self::LessThanThreshold => "less than",
            Self::LessThanOrEqualToThreshold => "less than or equal to",
            Self::LessThanLowerOrGreaterThanUpperThreshold => "outside the band",
            Self::LessThanLowerThreshold => "less than the lower band",
            Self::GreaterThanUpperThreshold => "greater than the upper band",
        }
    }
}

impl FromStr for ComparisonOperator {
    type Err = MonitorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::GreaterThanOrEqualToThreshold,
            Self::GreaterThanThreshold,
            Self::LessThanThreshold,
            Self::LessThanOrEqualToThreshold,
            Self::LessThanLowerOrGreaterThanUpperThreshold,
            Self::LessThanLowerThreshold,
            Self::GreaterThanUpperThreshold,
        ]
        .into_iter()
        .find(|op| op.as_str() == s)
        .ok_or_else(|| {
            MonitorError::invalid(
                "ComparisonOperator",
                format!("{s:?} is not a valid comparison operator"),
            )
        })
    }
}

impl fmt::Display for ComparisonOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// PutMetricAlarm `TreatMissingData` (default `missing`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TreatMissingData {
    /// Missing datapoints are "good": within the threshold.
    NotBreaching,
    /// Missing datapoints are "bad": breaching the threshold.
    Breaching,
    /// The current alarm state is maintained.
    Ignore,
    /// With every datapoint of the evaluation range missing, the alarm goes to
    /// `INSUFFICIENT_DATA`.
    #[default]
    Missing,
}

impl TreatMissingData {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotBreaching => "notBreaching",
            Self::Breaching => "breaching",
            Self::Ignore => "ignore",
            Self::Missing => "missing",
        }
    }
}

impl FromStr for TreatMissingData {
    type Err = MonitorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "notBreaching" => Ok(Self::NotBreaching),
            "breaching" => Ok(Self::Breaching),
            "ignore" => Ok(Self::Ignore),
            "missing" => Ok(Self::Missing),
            other => Err(MonitorError::invalid(
                "TreatMissingData",
                format!("{other:?} is not one of breaching, notBreaching, ignore, missing"),
            )),
        }
    }
}

/// The members of PutMetricAlarm that evaluation needs, with AWS defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlarmDefinition {
    pub alarm_name: String,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<Dimension>,
    /// Seconds: 10, 20, 30 or a multiple of 60.
    pub period: u32,
    /// N.
    pub evaluation_periods: u32,
    /// M; `None` means N.
    pub datapoints_to_alarm: Option<u32>,
    pub threshold: f64,
    pub comparison_operator: ComparisonOperator,
    pub statistic: MetricStatistic,
    pub treat_missing_data: TreatMissingData,
    /// Default `true`.
    pub actions_enabled: bool,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
}

/// Seconds in a day: alarms evaluating more than this are evaluated hourly.
const DAY_SECS: u64 = 86_400;

impl AlarmDefinition {
    /// A definition with PutMetricAlarm's defaults for everything not given:
    /// no dimensions, `DatapointsToAlarm` = N, `TreatMissingData` = missing,
    /// `ActionsEnabled` = true, no actions.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        alarm_name: impl Into<String>,
        namespace: impl Into<String>,
        metric_name: impl Into<String>,
        statistic: MetricStatistic,
        period: u32,
        evaluation_periods: u32,
        threshold: f64,
        comparison_operator: ComparisonOperator,
    ) -> Self {
        Self {
            alarm_name: alarm_name.into(),
            namespace: namespace.into(),
            metric_name: metric_name.into(),
            dimensions: Vec::new(),
            period,
            evaluation_periods,
            datapoints_to_alarm: None,
            threshold,
            comparison_operator,
            statistic,
            treat_missing_data: TreatMissingData::Missing,
            actions_enabled: true,
            alarm_actions: Vec::new(),
            ok_actions: Vec::new(),
            insufficient_data_actions: Vec::new(),
        }
    }

    /// M: `DatapointsToAlarm`, defaulting to `EvaluationPeriods`.
    pub fn datapoints_to_alarm(&self) -> u32 {
        self.datapoints_to_alarm.unwrap_or(self.evaluation_periods)
    }

    /// How often CloudWatch evaluates this alarm ("Alarm evaluation"):
    /// every 10 s for 10, 20 and 30 s periods, every hour when
    /// `EvaluationPeriods × Period` exceeds one day, otherwise every minute.
    pub fn evaluation_interval_secs(&self) -> u64 {
        let span = u64::from(self.period) * u64::from(self.evaluation_periods);
        if self.period < 60 {
            10
        } else if span > DAY_SECS {
            3600
        } else {
            60
        }
    }

    /// Check every member the way PutMetricAlarm does; the error names the
    /// member. Band operators (anomaly detection) are refused by name.
    pub fn validate(&self) -> Result<(), MonitorError> {
        let bad = MonitorError::invalid;
        let name_len = self.alarm_name.chars().count();
        if !(1..=255).contains(&name_len) {
            return Err(bad("AlarmName", "must be 1 to 255 characters"));
        }
        if self.namespace.is_empty() || self.namespace.chars().count() > 255 {
            return Err(bad("Namespace", "must be 1 to 255 characters"));
        }
        if self.metric_name.is_empty() || self.metric_name.chars().count() > 255 {
            return Err(bad("MetricName", "must be 1 to 255 characters"));
        }
        if self.dimensions.len() > 30 {
            return Err(bad("Dimensions", "at most 30 dimensions"));
        }
        // PutMetricAlarm: "Valid values are 10, 20, 30, and any multiple of 60."
        let p = self.period;
        if !(p == 10 || p == 20 || p == 30 || (p >= 60 && p.checked_rem(60) == Some(0))) {
            return Err(bad("Period", "must be 10, 20, 30 or a multiple of 60"));
        }
        let n = self.evaluation_periods;
        if n < 1 {
            return Err(bad("EvaluationPeriods", "must be at least 1"));
        }
        // PutMetricAlarm: EvaluationPeriods × Period may not exceed 7 days,
        // or one day for periods under an hour.
        let span = u64::from(p) * u64::from(n);
        let limit = if p < 3600 { DAY_SECS } else { 7 * DAY_SECS };
        if span > limit {
            return Err(MonitorError::invalid(
                "EvaluationPeriods",
                format!("EvaluationPeriods × Period must not exceed {limit} seconds"),
            ));
        }
        if let Some(m) = self.datapoints_to_alarm {
            if m < 1 || m > n {
                return Err(bad(
                    "DatapointsToAlarm",
                    "must be between 1 and EvaluationPeriods",
                ));
            }
        }
        if !self.threshold.is_finite() {
            return Err(bad("Threshold", "must be a finite number"));
        }
        if self.comparison_operator.is_band() {
            return Err(MonitorError::invalid(
                "ComparisonOperator",
                format!(
                    "{} compares against an anomaly detection band (ThresholdMetricId), which is not supported",
                    self.comparison_operator
                ),
            ));
        }
        for (member, list) in [
            ("AlarmActions", &self.alarm_actions),
            ("OKActions", &self.ok_actions),
            ("InsufficientDataActions", &self.insufficient_data_actions),
        ] {
            if list.len() > 5 {
                return Err(bad(member, "at most 5 actions"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::statistics::Statistic;

    fn def(period: u32, n: u32) -> AlarmDefinition {
        AlarmDefinition::new(
            "a",
            "onair",
            "m",
            MetricStatistic::Statistic(Statistic::Average),
            period,
            n,
            1.0,
            ComparisonOperator::GreaterThanThreshold,
        )
    }

    fn err(d: &AlarmDefinition) -> String {
        d.validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn period_rules() {
        for ok in [10, 20, 30, 60, 120, 300, 3600] {
            assert_eq!(def(ok, 1).validate(), Ok(()), "{ok}");
        }
        for bad in [0, 1, 15, 45, 90] {
            assert_eq!(
                err(&def(bad, 1)),
                "Period: must be 10, 20, 30 or a multiple of 60"
            );
        }
    }

    #[test]
    fn member_checks_name_the_member() {
        assert!(err(&def(60, 0)).starts_with("EvaluationPeriods: "));
        assert!(err(&def(60, 1441)).starts_with("EvaluationPeriods: "));
        assert_eq!(def(3600, 168).validate(), Ok(()));
        let mut d = def(60, 3);
        d.datapoints_to_alarm = Some(4);
        assert!(err(&d).starts_with("DatapointsToAlarm: "));
        d.datapoints_to_alarm = Some(0);
        assert!(err(&d).starts_with("DatapointsToAlarm: "));
        let mut d = def(60, 3);
        d.threshold = f64::NAN;
        assert!(err(&d).starts_with("Threshold: "));
        let mut d = def(60, 3);
        d.alarm_name.clear();
        assert!(err(&d).starts_with("AlarmName: "));
    }

    #[test]
    fn band_operators_are_refused_by_name() {
        for op in [
            "LessThanLowerOrGreaterThanUpperThreshold",
            "LessThanLowerThreshold",
            "GreaterThanUpperThreshold",
        ] {
            let mut d = def(60, 1);
            d.comparison_operator = op
                .parse()
                .unwrap_or(ComparisonOperator::GreaterThanThreshold);
            let e = err(&d);
            assert!(
                e.starts_with("ComparisonOperator: ") && e.contains(op),
                "{e}"
            );
        }
        assert!("Bigger".parse::<ComparisonOperator>().is_err());
    }

    #[test]
    fn cadence() {
        assert_eq!(def(10, 3).evaluation_interval_secs(), 10);
        assert_eq!(def(20, 3).evaluation_interval_secs(), 10);
        assert_eq!(def(30, 3).evaluation_interval_secs(), 10);
        assert_eq!(def(60, 3).evaluation_interval_secs(), 60);
        assert_eq!(def(300, 288).evaluation_interval_secs(), 60);
        assert_eq!(def(3600, 48).evaluation_interval_secs(), 3600);
    }
}
