//! The one error type of the queue crate.

use std::sync::Arc;

use uuid::Uuid;

/// Everything that can go wrong in a queue operation.
///
/// The error is `Clone` because the SQLite writer commits many callers' operations in one
/// transaction: when that transaction fails, every caller in the batch gets the same error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum QueueError {
    /// The database URL names no supported backend or cannot be parsed.
    #[error("invalid queue database url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The database refused or failed a statement.
    #[error("queue database error while {context}: {source}")]
    Database {
        /// What the queue was doing, e.g. "claiming jobs".
        context: &'static str,
        /// The driver's error (sqlx for PostgreSQL, rusqlite for SQLite).
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// Applying the schema migrations failed when opening the store.
    #[error("queue schema migration failed: {0}")]
    Migrate(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The idempotency key was used before by the same owner for a different request.
    #[error(
        "idempotency key {key:?} was already used for a different request (existing job {existing})"
    )]
    IdempotencyConflict {
        /// The reused key.
        key: String,
        /// The job created by the first request with this key.
        existing: Uuid,
    },
    /// The worker no longer holds the lease: it expired and was rescued, the job was
    /// re-claimed by another worker, or it already finished. The job was left unchanged.
    #[error(
        "lease lost on job {job_id} (worker {owner:?}, attempt {attempt}); the job was not changed"
    )]
    LeaseLost {
        /// The job the stale lease refers to.
        job_id: Uuid,
        /// The worker that held the lease.
        owner: String,
        /// The attempt the lease was granted for.
        attempt: u32,
    },
    /// A caller passed a value the queue cannot store.
    #[error("invalid queue request: {0}")]
    InvalidArgument(String),
    /// A pagination cursor could not be decoded.
    #[error("invalid list cursor {0:?}")]
    InvalidCursor(String),
    /// A stored row could not be decoded (e.g. an unknown state written by a newer version).
    #[error("corrupt queue row {id}: {reason}")]
    Corrupt {
        /// Identifies the row (job id or key id).
        id: String,
        /// What could not be decoded.
        reason: String,
    },
    /// The store was closed, or its SQLite writer thread stopped.
    #[error("queue store is closed")]
    Closed,
}

impl QueueError {
    /// Wraps a driver error with what the queue was doing.
    pub(crate) fn db<E>(context: &'static str) -> impl FnOnce(E) -> QueueError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        move |source| QueueError::Database {
            context,
            source: Arc::new(source),
        }
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = QueueError> = std::result::Result<T, E>;
