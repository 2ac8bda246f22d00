//! The queue's data types: what callers submit, what they get back.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::QueueError;

/// Lifecycle of a job.
///
/// `queued -> running -> succeeded | failed | cancelled`, and `running -> retrying ->
/// running` when an attempt fails with a retryable error (or its lease expires) and
/// attempts are left. A `retrying` job is claimable once its `run_at` has passed, exactly
/// like a `queued` one; the separate state only tells users that an attempt already failed
/// (its error is in [`Job::error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for its first attempt.
    Queued,
    /// Leased by a worker.
    Running,
    /// Waiting for another attempt after a retryable failure.
    Retrying,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error, no attempts left or the error was not retryable.
    Failed,
    /// Cancelled by its owner.
    Cancelled,
}

impl JobState {
    /// Every state, for metrics that must report zeros too.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Retrying,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// The name stored in the database and used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Retrying => "retrying",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// True for states a job never leaves (other than by deletion or pruning).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = QueueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| QueueError::InvalidArgument(format!("unknown job state {s:?}")))
    }
}

/// A job as submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// Who owns the job (API key id or user); every user-facing lookup is scoped by it.
    pub owner: String,
    /// Name of the pipeline to run.
    pub pipeline: String,
    /// Lane the job waits in; workers claim from chosen lanes so short jobs never queue
    /// behind long ones.
    pub lane: String,
    /// Higher runs first within the claimed lanes.
    pub priority: i32,
    /// Pipeline input (URLs, artifact references).
    pub input: Value,
    /// Pipeline parameters.
    pub params: Value,
    /// Per-owner key making resubmission safe: the same key with the same request returns
    /// the first job.
    pub idempotency_key: Option<String>,
    /// Attempts allowed in total (at least 1).
    pub max_attempts: u32,
}

impl NewJob {
    /// A job in lane `default`, priority 0, empty params, no idempotency key, 3 attempts.
    pub fn new(owner: impl Into<String>, pipeline: impl Into<String>, input: Value) -> Self {
        NewJob {
            owner: owner.into(),
            pipeline: pipeline.into(),
            lane: "default".into(),
            priority: 0,
            input,
            params: Value::Object(Default::default()),
            idempotency_key: None,
            max_attempts: 3,
        }
    }
}

/// A failure reported by a worker (or by the queue itself, e.g. `LEASE_EXPIRED`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobError {
    /// Machine-readable code, `SCREAMING_SNAKE`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Whether another attempt may succeed.
    pub retryable: bool,
    /// Free-form JSON the server wants kept with the error (e.g. per-step timings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

impl JobError {
    /// An error without details.
    pub fn new(code: impl Into<String>, message: impl Into<String>, retryable: bool) -> Self {
        JobError {
            code: code.into(),
            message: message.into(),
            retryable,
            details: None,
        }
    }
}

/// Progress last reported by the worker; the server derives percentage and ETA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Units done (frames, bytes).
    pub processed: u64,
    /// Units expected in total.
    pub total: u64,
    /// When the worker reported it.
    pub updated_at: DateTime<Utc>,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Time-ordered (UUIDv7) id.
    pub id: Uuid,
    /// See [`NewJob::owner`].
    pub owner: String,
    /// See [`NewJob::pipeline`].
    pub pipeline: String,
    /// See [`NewJob::lane`].
    pub lane: String,
    /// See [`NewJob::priority`].
    pub priority: i32,
    /// Current state.
    pub state: JobState,
    /// Attempts started so far (0 until first claimed).
    pub attempt: u32,
    /// See [`NewJob::max_attempts`].
    pub max_attempts: u32,
    /// See [`NewJob::input`].
    pub input: Value,
    /// See [`NewJob::params`].
    pub params: Value,
    /// Set when the job succeeded.
    pub result: Option<Value>,
    /// The last attempt's error (kept while `retrying`, final when `failed`).
    pub error: Option<JobError>,
    /// Last reported progress of the current or last attempt.
    pub progress: Option<Progress>,
    /// The owner asked to cancel while it was running; the worker sees it on heartbeat.
    pub cancel_requested: bool,
    /// See [`NewJob::idempotency_key`].
    pub idempotency_key: Option<String>,
    /// Worker holding (or that last held) the lease.
    pub lease_owner: Option<String>,
    /// When the current lease runs out (only meaningful while `running`).
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// When the job was submitted.
    pub created_at: DateTime<Utc>,
    /// Last change of any kind.
    pub updated_at: DateTime<Utc>,
    /// When the current (or last) attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the job reached a terminal state.
    pub finished_at: Option<DateTime<Utc>>,
    /// Earliest time of the next attempt (creation time, or after a retry backoff).
    pub run_at: DateTime<Utc>,
}

/// Answer to [`crate::Store::enqueue`].
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    /// The new job, or the existing one for a repeated idempotency key.
    pub job: Job,
    /// False when an earlier job with the same idempotency key was returned.
    pub created: bool,
}

/// Proof that a worker owns one attempt of a job; every worker write is fenced on it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lease {
    /// The leased job.
    pub job_id: Uuid,
    /// The worker id passed to `claim`.
    pub owner: String,
    /// The attempt this lease is for; a re-claim increments it and so fences out the old one.
    pub attempt: u32,
}

/// A job handed to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// The job, already in state `running`.
    pub job: Job,
    /// The lease to pass to heartbeat/progress/complete/fail.
    pub lease: Lease,
}

/// Answer to [`crate::Store::heartbeat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// The owner asked to cancel: stop and call [`crate::Store::cancelled`].
    pub cancel_requested: bool,
}

/// What [`crate::Store::fail`] did with the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Back in line (state `retrying`), claimable from `run_at`.
    Retrying {
        /// Earliest time of the next attempt.
        run_at: DateTime<Utc>,
    },
    /// Finished as `failed`.
    Failed,
}

/// How many jobs of one lane are in one state, for metrics (see [`crate::Store::lane_counts`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LaneCount {
    /// The lane.
    pub lane: String,
    /// The state.
    pub state: JobState,
    /// Jobs of that lane in that state.
    pub jobs: u64,
    /// For `queued` and `retrying`: how long the longest-waiting claimable job (`run_at`
    /// passed) has been claimable, in seconds; `None` when none is claimable yet (or for
    /// other states). A job waiting out a retry backoff does not count as waiting.
    pub oldest_waiting_seconds: Option<f64>,
}
