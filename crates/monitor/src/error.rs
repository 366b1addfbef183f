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
}

impl MonitorError {
    pub(crate) fn invalid(member: &'static str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            member,
            problem: problem.into(),
        }
    }
}
