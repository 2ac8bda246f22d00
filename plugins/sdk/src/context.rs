//! What a running step can ask of the host.

use crate::bindings::framepipe::plugin::host;
use crate::io::io_error;
use crate::{Artifact, Blob, StepError};

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// For debugging.
    Debug,
    /// Normal operation.
    Info,
    /// Something odd, the step goes on.
    Warn,
    /// Something failed.
    Error,
}

/// The step's view of its run: inputs, outputs, log, progress, cancellation.
pub struct Context {
    _private: (),
}

impl Context {
    pub(crate) fn new() -> Self {
        Context { _private: () }
    }

    /// Names of the inputs given to this run.
    pub fn input_names(&self) -> Vec<String> {
        host::input_names()
    }

    /// The named input; an `invalid-input` error when it was not given.
    pub fn input(&self, name: &str) -> Result<Blob, StepError> {
        self.optional_input(name)
            .ok_or_else(|| StepError::invalid_input(format!("input `{name}` is missing")))
    }

    /// The named input, if it was given.
    pub fn optional_input(&self, name: &str) -> Option<Blob> {
        host::open_input(name).map(Blob::new)
    }

    /// Starts an output artifact.
    pub fn create_artifact(&mut self, name: &str, media_type: &str) -> Result<Artifact, StepError> {
        host::create_artifact(name, media_type)
            .map(Artifact::new)
            .map_err(io_error)
    }

    /// Writes a whole artifact at once.
    pub fn write_artifact(
        &mut self,
        name: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), StepError> {
        let mut artifact = self.create_artifact(name, media_type)?;
        artifact.write_all_bytes(bytes)?;
        artifact.finish()
    }

    /// Writes a log line.
    pub fn log(&self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Trace => host::LogLevel::Trace,
            LogLevel::Debug => host::LogLevel::Debug,
            LogLevel::Info => host::LogLevel::Info,
            LogLevel::Warn => host::LogLevel::Warn,
            LogLevel::Error => host::LogLevel::Error,
        };
        host::log(level, message);
    }

    /// Writes an info log line.
    pub fn info(&self, message: &str) {
        self.log(LogLevel::Info, message);
    }

    /// Writes a warning log line.
    pub fn warn(&self, message: &str) {
        self.log(LogLevel::Warn, message);
    }

    /// Reports progress: `processed` of `total` units (0 when unknown).
    pub fn progress(&self, processed: u64, total: u64) {
        host::progress(processed, total);
    }

    /// True once the job has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        host::is_cancelled()
    }

    /// Returns a `cancelled` error once the job has been cancelled; call it between units of work.
    pub fn check_cancelled(&self) -> Result<(), StepError> {
        if self.is_cancelled() {
            Err(StepError::cancelled())
        } else {
            Ok(())
        }
    }
}
