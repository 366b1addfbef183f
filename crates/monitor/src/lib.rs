//! CloudWatch metric alarms and the metric store they read, sans-IO.
//!
//! Two engines: [`Alarm`] (below) and [`series::Store`], the time-series
//! store PutMetricData writes into (1-second points for 3 hours, 1-minute
//! rollups for 15 days, memory that follows the data, snapshots for
//! persistence; see its module docs). [`expr`] evaluates the metric math
//! expressions of GetMetricData over what the store returns.
//!
//! # Model
//!
//! An [`Alarm`] is one PutMetricAlarm: an [`AlarmDefinition`] (metric,
//! `Period`, `EvaluationPeriods` N, `DatapointsToAlarm` M, `Threshold`,
//! `ComparisonOperator`, `Statistic` or percentile `ExtendedStatistic`,
//! `TreatMissingData`, `ActionsEnabled`) plus a state (`OK`, `ALARM`,
//! `INSUFFICIENT_DATA`) with its `StateReason` and `StateReasonData`.
//! The engine owns no clock, task or store: the caller says what time it is
//! and hands over raw samples; the engine turns each period's samples into a
//! datapoint with the alarm's statistic, decides the state the way CloudWatch
//! documents it, and returns what changed.
//!
//! Sources followed (Amazon CloudWatch User Guide and API Reference):
//! "Alarm evaluation" (evaluation settings, every-minute / every-10-seconds /
//! hourly cadence, M out of N), "Configuring how CloudWatch alarms treat
//! missing data" (evaluation range, the 3-of-3 and 2-of-3 tables, "Avoiding
//! premature transitions to alarm state"), `PutMetricAlarm` (members, limits,
//! new alarms start in `INSUFFICIENT_DATA`), `SetAlarmState`,
//! `DescribeAlarmHistory` (`StateUpdate` items).
//!
//! # Invariants
//!
//! * A validated definition only: `Period` is 10, 20, 30 or a multiple of 60,
//!   `1 <= M <= N`, `Threshold` is finite; errors name the member
//!   (`Period: must be 10, 20, 30 or a multiple of 60`).
//! * Nothing panics on any input: NaN and infinite samples are dropped, an
//!   empty sample set is all-missing data.
//! * Periods end at the evaluation tick; the evaluation range is N + 2
//!   periods; the state changes only through [`Alarm::evaluate`] and
//!   [`Alarm::set_state`], each change yielding one history item.
//! * The anomaly-band operators (`LessThanLowerOrGreaterThanUpperThreshold`,
//!   `LessThanLowerThreshold`, `GreaterThanUpperThreshold`) are refused at
//!   validation, by name.
//!
//! # Driving contract
//!
//! 1. `let due = alarm.next_evaluation(now)`: sleep until `due`.
//! 2. `let range = alarm.query(due)`: read every sample with
//!    `range.start <= timestamp < range.end` from the store; with
//!    [`series::Store`], `let sets = store.alarm_sets(due, &alarm)`.
//! 3. `let ev = alarm.evaluate(due, &samples)` (or
//!    `alarm.evaluate_sets(due, &sets)`): when `ev.changed`, persist
//!    `ev.history`, publish `ev.actions` (empty when `ActionsEnabled` is
//!    false), and store the new state and reason.
//!
//! [`Alarm::set_state`] (SetAlarmState) may be called at any time; the next
//! evaluation decides again from the data.
//!
//! ```
//! use monitor::{Alarm, AlarmDefinition, AlarmState, ComparisonOperator};
//! use monitor::{MetricStatistic, Sample, Statistic, Timestamp};
//!
//! let mut def = AlarmDefinition::new(
//!     "low-bitrate", "onair/MediaLive", "NetworkIn",
//!     MetricStatistic::Statistic(Statistic::Average),
//!     10, 1, 100.0, ComparisonOperator::LessThanThreshold,
//! );
//! def.datapoints_to_alarm = Some(1);
//! let t0 = Timestamp::from_unix_secs(1_795_947_600); // 2026-11-29 10:20:00Z
//! let mut alarm = Alarm::new(def, t0).unwrap();
//! assert_eq!(alarm.state(), AlarmState::InsufficientData);
//!
//! // A 10 s period is evaluated every 10 s.
//! let due = alarm.next_evaluation(t0.plus_secs(1));
//! assert_eq!(due, t0.plus_secs(10));
//! let range = alarm.query(due);
//! assert_eq!((range.start, range.end), (t0.minus_secs(20), due));
//!
//! let samples = [Sample::new(t0, 0.0), Sample::new(t0.plus_secs(5), 0.0)];
//! let ev = alarm.evaluate(due, &samples);
//! assert!(ev.changed);
//! assert_eq!(ev.state, AlarmState::Alarm);
//! assert_eq!(
//!     ev.state_reason,
//!     "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (29/11/26 10:20:00)] \
//!      was less than the threshold (100.0) \
//!      (minimum 1 datapoint for OK -> ALARM transition)."
//! );
//! assert_eq!(
//!     ev.state_reason_data.as_deref(),
//!     Some(r#"{"version":"1.0","queryDate":"2026-11-29T10:20:10.000+0000","startDate":"2026-11-29T10:20:00.000+0000","statistic":"Average","period":10,"recentDatapoints":[0.0],"threshold":100.0,"evaluatedDatapoints":[{"timestamp":"2026-11-29T10:20:00.000+0000","sampleCount":2.0,"value":0.0}]}"#)
//! );
//! ```

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::todo,
    clippy::unimplemented,
    clippy::indexing_slicing
)]

pub mod alarm;
mod error;
pub mod expr;
pub mod hub;
pub mod series;
mod timestamp;

pub use alarm::definition::{AlarmDefinition, ComparisonOperator, Dimension, TreatMissingData};
pub use alarm::evaluate::Datapoint;
pub use alarm::reason::HistoryItem;
pub use alarm::statistics::{MetricStatistic, Percentile, Sample, Statistic};
pub use alarm::{Alarm, AlarmState, Evaluation, QueryRange};
pub use error::MonitorError;
pub use hub::{Hub, Identity};
pub use series::StatisticSet;
pub use timestamp::Timestamp;
