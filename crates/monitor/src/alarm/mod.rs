//! The metric alarm engine: one [`Alarm`] per PutMetricAlarm, driven by the
//! caller's clock and the caller's samples. See the crate docs for the
//! driving contract.

pub mod definition;
pub mod evaluate;
pub mod reason;
pub mod statistics;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use self::definition::AlarmDefinition;
use self::evaluate::{decide, Datapoint, Outcome};
use self::reason::{evaluation_reason, reason_data, state_update, HistoryItem, INITIAL_REASON};
use self::statistics::{PeriodValue, Sample};
use crate::{MonitorError, StatisticSet, Timestamp};

/// `StateValue` of a metric alarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AlarmState {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "ALARM")]
    Alarm,
    #[serde(rename = "INSUFFICIENT_DATA")]
    InsufficientData,
}

impl AlarmState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Alarm => "ALARM",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

impl FromStr for AlarmState {
    type Err = MonitorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "OK" => Ok(Self::Ok),
            "ALARM" => Ok(Self::Alarm),
            "INSUFFICIENT_DATA" => Ok(Self::InsufficientData),
            other => Err(MonitorError::invalid(
                "StateValue",
                format!("{other:?} is not one of OK, ALARM, INSUFFICIENT_DATA"),
            )),
        }
    }
}

impl fmt::Display for AlarmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The samples an evaluation needs: every sample with
/// `start <= timestamp < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryRange {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// What one evaluation (or SetAlarmState) did.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The evaluation instant (the tick `now` was rounded down to).
    pub at: Timestamp,
    pub previous_state: AlarmState,
    pub state: AlarmState,
    pub changed: bool,
    /// The alarm's `StateReason` after this evaluation (unchanged when the
    /// state did not change, as in CloudWatch).
    pub state_reason: String,
    /// The alarm's `StateReasonData` JSON after this evaluation.
    pub state_reason_data: Option<String>,
    /// The `StateUpdate` history item, when the state changed.
    pub history: Option<HistoryItem>,
    /// Actions to run: the new state's actions when the state changed and
    /// `ActionsEnabled` is true.
    pub actions: Vec<String>,
    /// The evaluation range, one entry per period, **oldest first**; `None`
    /// for a period without data. Empty for [`Alarm::set_state`].
    pub datapoints: Vec<Option<Datapoint>>,
}

/// One metric alarm: its definition and its state.
#[derive(Clone, Debug, PartialEq)]
pub struct Alarm {
    definition: AlarmDefinition,
    state: AlarmState,
    reason: String,
    reason_data: Option<String>,
    updated: Timestamp,
    last_evaluated: Option<Timestamp>,
}

/// Periods retrieved beyond `EvaluationPeriods` (the AWS tables show a range
/// of 5 for N = 3; CloudWatch does not document the general rule).
const EXTRA_PERIODS: u32 = 2;

impl Alarm {
    /// Create an alarm at `now`. As PutMetricAlarm does, it starts in
    /// `INSUFFICIENT_DATA` ("Unchecked: Initial alarm creation").
    pub fn new(definition: AlarmDefinition, now: Timestamp) -> Result<Self, MonitorError> {
        definition.validate()?;
        Ok(Self {
            definition,
            state: AlarmState::InsufficientData,
            reason: INITIAL_REASON.to_owned(),
            reason_data: None,
            updated: now,
            last_evaluated: None,
        })
    }

    /// An alarm as it was persisted: its definition and the state it was
    /// in (a restart keeps every alarm's state, reason and time).
    pub fn restore(
        definition: AlarmDefinition,
        state: AlarmState,
        reason: String,
        reason_data: Option<String>,
        updated: Timestamp,
    ) -> Result<Self, MonitorError> {
        definition.validate()?;
        Ok(Self {
            definition,
            state,
            reason,
            reason_data,
            updated,
            last_evaluated: None,
        })
    }

    /// Replace the definition (PutMetricAlarm on an existing alarm): "its
    /// state is left unchanged, but the update completely overwrites the
    /// previous configuration".
    pub fn update(&mut self, definition: AlarmDefinition) -> Result<(), MonitorError> {
        definition.validate()?;
        self.definition = definition;
        Ok(())
    }

    pub fn definition(&self) -> &AlarmDefinition {
        &self.definition
    }

    pub fn state(&self) -> AlarmState {
        self.state
    }

    pub fn state_reason(&self) -> &str {
        &self.reason
    }

    pub fn state_reason_data(&self) -> Option<&str> {
        self.reason_data.as_deref()
    }

    /// When the state last changed (or the alarm was created).
    pub fn state_updated(&self) -> Timestamp {
        self.updated
    }

    /// How many periods an evaluation looks at: `EvaluationPeriods + 2`.
    pub fn evaluation_range_periods(&self) -> u32 {
        self.definition
            .evaluation_periods
            .saturating_add(EXTRA_PERIODS)
    }

    /// When the driver should call [`Alarm::evaluate`] next: the first
    /// evaluation tick at or after `now` not yet evaluated. Ticks are
    /// multiples of [`AlarmDefinition::evaluation_interval_secs`] since the
    /// epoch (every 10 s, minute or hour).
    pub fn next_evaluation(&self, now: Timestamp) -> Timestamp {
        let step = self.definition.evaluation_interval_secs();
        let tick = now.ceil_to(step);
        match self.last_evaluated {
            Some(last) if tick <= last => last.plus_secs(step),
            _ => tick,
        }
    }

    fn tick(&self, now: Timestamp) -> Timestamp {
        now.floor_to(self.definition.evaluation_interval_secs())
    }

    /// The samples [`Alarm::evaluate`] needs when called at `now`.
    pub fn query(&self, now: Timestamp) -> QueryRange {
        let end = self.tick(now);
        let span = u64::from(self.definition.period) * u64::from(self.evaluation_range_periods());
        QueryRange {
            start: end.minus_secs(span),
            end,
        }
    }

    /// Evaluate at `now` (rounded down to its tick) over `samples`, which
    /// should hold every sample in [`Alarm::query`]`(now)`; samples outside
    /// it, and NaN or infinite values, are ignored. Calling again for the
    /// same tick re-evaluates with the samples given (late data).
    ///
    /// Periods end at the tick: the most recent one is
    /// `[tick - Period, tick)` ("at the end of the 6th minute, the alarm is
    /// evaluated based on the data from minutes 2 to 6").
    pub fn evaluate(&mut self, now: Timestamp, samples: &[Sample]) -> Evaluation {
        let tick = self.tick(now);
        let buckets = self.buckets(tick, samples.iter().map(|s| (s.timestamp, s.value)));
        let statistic = &self.definition.statistic;
        let range = self.datapoints(tick, &buckets, |values| statistic.compute(values));
        self.decide_range(tick, range)
    }

    /// [`Alarm::evaluate`] over statistic sets, as [`crate::series::Store`]
    /// keeps them: each `(timestamp, set)` is one second (or minute) of the
    /// metric, the timestamp its start. Each period's datapoint comes from
    /// [`crate::MetricStatistic::compute_sets`], so the result is the same
    /// as `evaluate` when every set holds one sample, and percentiles are
    /// over per-second averages otherwise.
    pub fn evaluate_sets(
        &mut self,
        now: Timestamp,
        sets: &[(Timestamp, StatisticSet)],
    ) -> Evaluation {
        let tick = self.tick(now);
        let buckets = self.buckets(tick, sets.iter().copied());
        let statistic = &self.definition.statistic;
        let range = self.datapoints(tick, &buckets, |sets| statistic.compute_sets(sets));
        self.decide_range(tick, range)
    }

    /// Items sorted into the evaluation range's periods, most recent first;
    /// items at or after `tick`, or before the range, are dropped.
    fn buckets<T>(
        &self,
        tick: Timestamp,
        items: impl Iterator<Item = (Timestamp, T)>,
    ) -> Vec<Vec<T>> {
        let periods = self.evaluation_range_periods() as usize;
        let period_ms = u64::from(self.definition.period) * 1000;
        let mut buckets: Vec<Vec<T>> = std::iter::repeat_with(Vec::new).take(periods).collect();
        let end = tick.as_unix_millis();
        for (timestamp, item) in items {
            let ts = timestamp.as_unix_millis();
            if ts >= end || period_ms == 0 {
                continue;
            }
            let age = (end - ts).div_ceil(period_ms); // 1 = most recent period
            if let Some(bucket) = usize::try_from(age)
                .ok()
                .and_then(|a| a.checked_sub(1))
                .and_then(|i| buckets.get_mut(i))
            {
                bucket.push(item);
            }
        }
        buckets
    }

    /// One datapoint per bucket (most recent first), `None` where `compute`
    /// finds no data.
    fn datapoints<T>(
        &self,
        tick: Timestamp,
        buckets: &[Vec<T>],
        compute: impl Fn(&[T]) -> Option<PeriodValue>,
    ) -> Vec<Option<Datapoint>> {
        let period = u64::from(self.definition.period);
        buckets
            .iter()
            .zip(1u64..)
            .map(|(items, age)| {
                compute(items).map(|v| Datapoint {
                    timestamp: tick.minus_secs(period * age),
                    sample_count: v.sample_count,
                    value: v.value,
                })
            })
            .collect()
    }

    /// Decide the state from the evaluation range (most recent first).
    fn decide_range(&mut self, tick: Timestamp, range: Vec<Option<Datapoint>>) -> Evaluation {
        let def = &self.definition;
        let op = def.comparison_operator;
        let threshold = def.threshold;
        let decision = decide(
            &range,
            def.evaluation_periods,
            def.datapoints_to_alarm(),
            def.treat_missing_data,
            |v| op.breaches(v, threshold),
        );
        let next = match decision.outcome {
            Outcome::Alarm => AlarmState::Alarm,
            Outcome::Ok => AlarmState::Ok,
            Outcome::InsufficientData => AlarmState::InsufficientData,
            Outcome::Retain => self.state,
        };
        self.last_evaluated = Some(tick);
        let mut datapoints = range;
        datapoints.reverse();
        if next == self.state {
            return self.unchanged(tick, datapoints);
        }
        let reason = evaluation_reason(def, &decision, next);
        let data = reason_data(def, tick, &decision, next);
        self.transition(tick, next, reason, Some(data), datapoints)
    }

    /// SetAlarmState: force a state until the next evaluation decides again.
    /// `reason_data`, when given, must be a JSON document.
    pub fn set_state(
        &mut self,
        now: Timestamp,
        state: AlarmState,
        reason: &str,
        reason_data: Option<&str>,
    ) -> Result<Evaluation, MonitorError> {
        if reason.chars().count() > 1023 {
            return Err(MonitorError::invalid(
                "StateReason",
                "must be at most 1023 characters",
            ));
        }
        if let Some(data) = reason_data {
            if data.chars().count() > 4000 {
                return Err(MonitorError::invalid(
                    "StateReasonData",
                    "must be at most 4000 characters",
                ));
            }
            if serde_json::from_str::<serde_json::Value>(data).is_err() {
                return Err(MonitorError::invalid(
                    "StateReasonData",
                    "must be a JSON document",
                ));
            }
        }
        if state == self.state {
            self.reason = reason.to_owned();
            self.reason_data = reason_data.map(str::to_owned);
            return Ok(self.unchanged(now, Vec::new()));
        }
        Ok(self.transition(
            now,
            state,
            reason.to_owned(),
            reason_data.map(str::to_owned),
            Vec::new(),
        ))
    }

    fn unchanged(&self, at: Timestamp, datapoints: Vec<Option<Datapoint>>) -> Evaluation {
        Evaluation {
            at,
            previous_state: self.state,
            state: self.state,
            changed: false,
            state_reason: self.reason.clone(),
            state_reason_data: self.reason_data.clone(),
            history: None,
            actions: Vec::new(),
            datapoints,
        }
    }

    fn transition(
        &mut self,
        at: Timestamp,
        next: AlarmState,
        reason: String,
        data: Option<String>,
        datapoints: Vec<Option<Datapoint>>,
    ) -> Evaluation {
        let previous = self.state;
        let history = state_update(
            &self.definition.alarm_name,
            at,
            (previous, &self.reason),
            (next, &reason, data.as_deref()),
        );
        let def = &self.definition;
        let actions = if def.actions_enabled {
            match next {
                AlarmState::Alarm => def.alarm_actions.clone(),
                AlarmState::Ok => def.ok_actions.clone(),
                AlarmState::InsufficientData => def.insufficient_data_actions.clone(),
            }
        } else {
            Vec::new()
        };
        self.state = next;
        self.reason = reason;
        self.reason_data = data;
        self.updated = at;
        Evaluation {
            at,
            previous_state: previous,
            state: next,
            changed: true,
            state_reason: self.reason.clone(),
            state_reason_data: self.reason_data.clone(),
            history: Some(history),
            actions,
            datapoints,
        }
    }
}
