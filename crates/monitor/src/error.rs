use thiserror::Error;

/// Everything this crate refuses. Definition problems name the PutMetricAlarm
/// member at fault, so an API layer can hand them back as a
/// `ValidationError` unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MonitorError {
    /// A member of an alarm definition (or of a SetAlarmState call) is invalid.
    #[error("{member}: {problem}")]
    Invalid {
        /// The AWS member name, e.g. `Period`.
        member: &'static str,
        /// What is wrong, lowercase, e.g. `must be 10, 20, 30 or a multiple of 60`.
        problem: String,
    },
    /// PutMetricData accepts time stamps "as much as two weeks before the
    /// current date, and as much as 2 hours after the current day and time".
    #[error("Timestamp: {timestamp} is more than 2 weeks before now (oldest accepted {oldest})")]
    TooOld {
        timestamp: crate::Timestamp,
        oldest: crate::Timestamp,
    },
    /// See [`MonitorError::TooOld`].
    #[error("Timestamp: {timestamp} is more than 2 hours after now (newest accepted {newest})")]
    TooNew {
        timestamp: crate::Timestamp,
        newest: crate::Timestamp,
    },
    /// The store already holds its configured maximum of metrics.
    #[error("metric limit reached: the store holds {limit} metrics, its configured maximum (max_metrics)")]
    MetricLimit { limit: usize },
    /// A snapshot ended early.
    #[error("snapshot: truncated ({0})")]
    SnapshotTruncated(&'static str),
    /// A snapshot is not one this store wrote.
    #[error("snapshot: invalid ({0})")]
    SnapshotInvalid(String),
}

impl MonitorError {
    /// An invalid member, for callers outside this crate.
    pub fn invalid_member(member: &'static str, problem: impl Into<String>) -> Self {
        Self::invalid(member, problem)
    }

    pub(crate) fn invalid(member: &'static str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            member,
            problem: problem.into(),
        }
    }
}
