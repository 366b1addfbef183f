//! MediaLive resources: inputs, input security groups and channels — their
//! documents, validation and the lifecycle states the AWS waiters poll.
//!
//! `STARTING` is left by the supervisor (`runtime::channel`): `RUNNING` once the
//! channel engine has opened its encoders, `IDLE` if the engine cannot run
//! the configuration. The other transitional states are *computed on read*
//! from the stored state and the time it was entered ([`ChannelRecord::state_at`]):
//! `CREATING` reads as `IDLE` after [`CREATE_MS`], `STOPPING` as `IDLE` after
//! [`STOP_MS`], `DELETING` as `DELETED` after [`DELETE_MS`]; a `DELETED`
//! channel stays describable for [`KEEP_DELETED_MS`], then is
//! `NotFoundException`. The supervisor drops the engine of a channel that is
//! neither `STARTING` nor `RUNNING`.
//!
//! Inputs are `DETACHED` until a channel attaches them (`ATTACHED`), and
//! `DELETED` (still describable for [`KEEP_DELETED_MS`]) after DeleteInput.
//! Input security groups ([`security_group`]) are `IN_USE` while an input
//! names them, `IDLE` otherwise.
//!
//! Errors: a request member that is malformed for CreateInput is a
//! `BadRequest` (400, as the model lists for that operation); Create/Update
//! Channel problems are [`LiveError::Unprocessable`] (422 with
//! `validationErrors[{elementPath, errorMessage}]`). The rules return
//! [`Problem`]s (element path and reason as separate fields) on the typed
//! view of the request ([`doc`]), converted to [`ValidationError`]s once.

pub mod channel;
pub mod codec;
pub mod doc;
pub mod failover;
pub mod groups;
pub mod input;
pub mod members;
pub mod model;
pub mod plan;
pub mod references;
pub mod security_group;
pub mod shape;

use std::ops::RangeInclusive;

use rand::Rng;

use crate::error::ControlError;

pub use model::{ChannelRecord, ChannelState, InputRecord, InputType};

pub const INPUT_KIND: &str = "medialive-input";
pub const CHANNEL_KIND: &str = "medialive-channel";

/// How long a channel reads as `CREATING`.
pub const CREATE_MS: i64 = 1_000;
/// How long a channel reads as `STOPPING`.
pub const STOP_MS: i64 = 1_000;
/// How long a channel reads as `DELETING`.
pub const DELETE_MS: i64 = 1_000;
/// How long a deleted channel or input stays describable as `DELETED`.
pub const KEEP_DELETED_MS: i64 = 5 * 60 * 1_000;

/// The default range of UDP ports allocated to push inputs (RTP_PUSH,
/// UDP_PUSH, SRT_LISTENER): two per input (one per pipeline), even numbers
/// only so RTP's RTCP (port + 1) never collides. `onair serve --input-ports`
/// sets [`crate::Settings::push_ports`].
pub const PUSH_PORTS: RangeInclusive<u16> = 5100..=5999;

/// One entry of a 422's `validationErrors`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationError {
    pub element_path: String,
    pub error_message: String,
}

impl ValidationError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            element_path: path.into(),
            error_message: message.into(),
        }
    }
}

impl From<Problem> for ValidationError {
    fn from(p: Problem) -> Self {
        ValidationError::new(p.path, p.why)
    }
}

/// What a validation rule found wrong: the element path of the member at
/// fault (`inputAttachments[0].inputId`; empty for the whole channel) and why.
/// Create/UpdateChannel turn it into a [`ValidationError`]; the runtime logs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub why: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, why: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            why: why.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.why)
        } else {
            write!(f, "{}: {}", self.path, self.why)
        }
    }
}

impl std::error::Error for Problem {}

/// For callers that report a problem as text (the runtime's start errors).
impl From<Problem> for String {
    fn from(p: Problem) -> Self {
        p.to_string()
    }
}

/// A MediaLive operation's failure.
#[derive(Debug, PartialEq, Eq)]
pub enum LiveError {
    Control(ControlError),
    /// 422 UnprocessableEntityException with its validation errors.
    Unprocessable(Vec<ValidationError>),
}

impl LiveError {
    /// The 422 message: the first error, and how many more there are.
    pub fn message(errors: &[ValidationError]) -> String {
        match errors {
            [] => "the request is not valid".into(),
            [one] => format!("{}: {}", one.element_path, one.error_message),
            [one, rest @ ..] => format!(
                "{}: {} (and {} more validation errors)",
                one.element_path,
                one.error_message,
                rest.len()
            ),
        }
    }
}

impl From<ControlError> for LiveError {
    fn from(e: ControlError) -> Self {
        LiveError::Control(e)
    }
}

pub type LiveResult<T> = std::result::Result<T, LiveError>;

/// A 7-digit numeric id, like MediaLive's.
pub(crate) fn numeric_id() -> String {
    rand::thread_rng()
        .gen_range(1_000_000..10_000_000)
        .to_string()
}

/// `arn:aws:medialive:<region>:<account>:<kind>:<id>`
pub fn arn(region: &str, account: &str, kind: &str, id: &str) -> String {
    format!("arn:aws:medialive:{region}:{account}:{kind}:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_becomes_one_validation_error_with_its_path() {
        let p = Problem::new("inputAttachments[0].inputId", "is required");
        assert_eq!(p.to_string(), "inputAttachments[0].inputId: is required");
        assert_eq!(
            ValidationError::from(p),
            ValidationError::new("inputAttachments[0].inputId", "is required")
        );
        // A reason containing ": " keeps it: nothing is split back.
        let p = Problem::new("encoderSettings", "why: because");
        let e = ValidationError::from(p);
        assert_eq!(
            (e.element_path.as_str(), e.error_message.as_str()),
            ("encoderSettings", "why: because")
        );
        let whole = Problem::new("", "the channel settings do not read");
        assert_eq!(String::from(whole), "the channel settings do not read");
    }
}
