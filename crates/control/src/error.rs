//! The control plane's error: each variant maps to one AWS error class.

/// A control-plane failure. The message names the field and the reason; the
/// API layer turns the variant into the service's error code.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ControlError {
    /// The request is malformed or asks for something onair does not do.
    #[error("{0}")]
    BadRequest(String),
    /// The named resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The resource is in a state that does not allow the operation.
    #[error("{0}")]
    Conflict(String),
    /// A fault on our side (storage); never a client's doing.
    #[error("{0}")]
    Internal(String),
}

impl ControlError {
    pub fn bad(msg: impl Into<String>) -> Self {
        ControlError::BadRequest(msg.into())
    }
}

impl From<rusqlite::Error> for ControlError {
    fn from(e: rusqlite::Error) -> Self {
        ControlError::Internal(format!("store: {e}"))
    }
}

impl From<serde_json::Error> for ControlError {
    fn from(e: serde_json::Error) -> Self {
        ControlError::Internal(format!("stored document: {e}"))
    }
}

pub type Result<T, E = ControlError> = std::result::Result<T, E>;
