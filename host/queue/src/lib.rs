//! Durable job queue for framepipe, on SQLite (embedded, default) or PostgreSQL (shared).
//!
//! At-least-once delivery: workers [`Store::claim`] jobs under a time-limited [`Lease`],
//! renew it with [`Store::heartbeat`], and finish with [`Store::complete`] or
//! [`Store::fail`]. Every worker write is fenced on `(job id, lease owner, attempt)`, so a
//! worker whose lease expired and whose job was re-claimed cannot overwrite the new
//! attempt ([`QueueError::LeaseLost`]). Retries back off exponentially with jitter
//! ([`RetryPolicy`]); lanes and priorities keep short jobs from waiting behind long ones.
//!
//! Modules:
//! - [`store`]: the [`Store`] API, dispatching to a backend;
//! - [`sqlite`]: one file in WAL mode, one writer task with group commit;
//! - [`postgres`]: `FOR UPDATE SKIP LOCKED` claims, LISTEN/NOTIFY, advisory-lock leader;
//! - `batch`: group commit of one kind of statement (PostgreSQL enqueues, completions);
//! - [`model`], [`page`], [`retry`], [`keys`]: plain data and small policies;
//! - [`error`]: the crate's error type, [`QueueError`].

mod batch;
pub mod error;
mod fingerprint;
pub mod keys;
pub mod model;
pub mod page;
pub mod postgres;
mod prepared;
pub mod retry;
pub mod sqlite;
pub mod store;

pub use error::QueueError;
pub use keys::KeyInfo;
pub use model::{
    Claimed, Enqueued, FailOutcome, Heartbeat, Job, JobError, JobState, LaneCount, Lease, NewJob,
    Progress,
};
pub use page::{Cursor, ListFilter, Page};
pub use postgres::PgStore;
pub use retry::RetryPolicy;
pub use sqlite::SqliteStore;
pub use store::Store;
