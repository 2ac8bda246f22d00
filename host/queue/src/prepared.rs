//! Validation and backend-independent preparation of submitted jobs.

use uuid::Uuid;

use crate::error::{QueueError, Result};
use crate::fingerprint::request_hash;
use crate::model::NewJob;

/// Longest owner, pipeline, lane or idempotency key accepted; keeps index entries small.
const MAX_NAME_LEN: usize = 256;

/// A validated job with its id and request fingerprint, ready to insert.
#[derive(Debug, Clone)]
pub(crate) struct PreparedJob {
    pub id: Uuid,
    pub job: NewJob,
    pub request_hash: String,
}

impl PreparedJob {
    /// Validates `job` and assigns a time-ordered id (UUIDv7 keeps inserts at the right
    /// edge of the primary-key index).
    pub(crate) fn new(job: NewJob) -> Result<Self> {
        for (what, value) in [
            ("owner", &job.owner),
            ("pipeline", &job.pipeline),
            ("lane", &job.lane),
        ] {
            if value.is_empty() || value.len() > MAX_NAME_LEN {
                return Err(QueueError::InvalidArgument(format!(
                    "{what} must be 1 to {MAX_NAME_LEN} bytes, got {} bytes",
                    value.len()
                )));
            }
        }
        if let Some(key) = &job.idempotency_key
            && (key.is_empty() || key.len() > MAX_NAME_LEN)
        {
            return Err(QueueError::InvalidArgument(format!(
                "idempotency key must be 1 to {MAX_NAME_LEN} bytes, got {} bytes",
                key.len()
            )));
        }
        if job.max_attempts == 0 || job.max_attempts > i32::MAX as u32 {
            return Err(QueueError::InvalidArgument(format!(
                "max_attempts must be at least 1, got {}",
                job.max_attempts
            )));
        }
        Ok(PreparedJob {
            id: Uuid::now_v7(),
            request_hash: request_hash(&job.pipeline, &job.input, &job.params),
            job,
        })
    }
}

impl PreparedJob {
    /// The job as stored by a fresh insert at `at`.
    pub(crate) fn into_job(self, at: chrono::DateTime<chrono::Utc>) -> crate::model::Job {
        let job = self.job;
        crate::model::Job {
            id: self.id,
            owner: job.owner,
            pipeline: job.pipeline,
            lane: job.lane,
            priority: job.priority,
            state: crate::model::JobState::Queued,
            attempt: 0,
            max_attempts: job.max_attempts,
            input: job.input,
            params: job.params,
            result: None,
            error: None,
            progress: None,
            cancel_requested: false,
            idempotency_key: job.idempotency_key,
            lease_owner: None,
            lease_expires_at: None,
            created_at: at,
            updated_at: at,
            started_at: None,
            finished_at: None,
            run_at: at,
        }
    }
}

/// Converts a lease duration to whole microseconds for SQL arithmetic.
pub(crate) fn duration_micros(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// The error recorded when a worker stopped heartbeating.
pub(crate) fn lease_expired_error() -> crate::model::JobError {
    crate::model::JobError::new(
        "LEASE_EXPIRED",
        "the worker stopped renewing its lease (crashed, hung or partitioned)",
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rejects_empty_names_and_zero_attempts() {
        let ok = NewJob::new("o", "p", json!({}));
        assert!(PreparedJob::new(ok.clone()).is_ok());
        let no_owner = NewJob {
            owner: String::new(),
            ..ok.clone()
        };
        assert!(matches!(
            PreparedJob::new(no_owner),
            Err(QueueError::InvalidArgument(_))
        ));
        let zero = NewJob {
            max_attempts: 0,
            ..ok
        };
        assert!(PreparedJob::new(zero).is_err());
    }
}
