//! Expected failures, returned to the host as values.

use crate::bindings::framepipe::plugin::{host::IoError, types as wit};
use std::fmt;

/// Why a step failed, in terms the host's job runner acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input or config is wrong; a retry will not help.
    InvalidInput,
    /// The input is valid but not supported by this plugin.
    Unsupported,
    /// A dependency is unavailable for now; the job may be retried.
    Unavailable,
    /// The job was cancelled.
    Cancelled,
    /// A bug in the plugin.
    Internal,
}

/// An expected step failure with a message for the user.
#[derive(Debug, Clone)]
pub struct StepError {
    /// The kind of failure.
    pub kind: ErrorKind,
    /// What went wrong, and what to change where that is known.
    pub message: String,
}

impl StepError {
    /// A failure of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        StepError {
            kind,
            message: message.into(),
        }
    }
    /// The input or config is wrong.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
    /// The input is valid but unsupported.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    /// A dependency is unavailable for now (retryable).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
    /// The job was cancelled.
    pub fn cancelled() -> Self {
        Self::new(ErrorKind::Cancelled, "cancelled")
    }
    /// A bug in the plugin.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for StepError {}

impl From<StepError> for wit::StepError {
    fn from(e: StepError) -> Self {
        let kind = match e.kind {
            ErrorKind::InvalidInput => wit::ErrorKind::InvalidInput,
            ErrorKind::Unsupported => wit::ErrorKind::Unsupported,
            ErrorKind::Unavailable => wit::ErrorKind::Unavailable,
            ErrorKind::Cancelled => wit::ErrorKind::Cancelled,
            ErrorKind::Internal => wit::ErrorKind::Internal,
        };
        wit::StepError {
            kind,
            message: e.message,
        }
    }
}

impl From<IoError> for StepError {
    fn from(e: IoError) -> Self {
        match e {
            IoError::OutOfRange(m) => StepError::invalid_input(format!("read out of range: {m}")),
            IoError::LimitExceeded(m) => StepError::invalid_input(format!("limit exceeded: {m}")),
            IoError::InvalidName(m) => StepError::internal(format!("invalid artifact name: {m}")),
            IoError::Failed(m) => StepError::unavailable(format!("host storage failed: {m}")),
        }
    }
}

impl From<std::io::Error> for StepError {
    fn from(e: std::io::Error) -> Self {
        StepError::invalid_input(format!("i/o: {e}"))
    }
}
