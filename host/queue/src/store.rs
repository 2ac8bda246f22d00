//! [`Store`]: the queue API, dispatching to the SQLite or PostgreSQL backend.
//!
//! An enum rather than a trait object or sqlx's `Any` driver: the two backends differ in
//! their SQL (claims, timestamps, JSON types), each is written and optimized natively, and
//! the enum keeps the API free of boxed futures.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{QueueError, Result};
use crate::keys::KeyInfo;
use crate::model::{
    Claimed, Enqueued, FailOutcome, Heartbeat, Job, JobError, JobState, LaneCount, Lease, NewJob,
};
use crate::page::{Cursor, ListFilter, Page};
use crate::postgres::PgStore;
use crate::prepared::PreparedJob;
use crate::retry::RetryPolicy;
use crate::sqlite::SqliteStore;

/// A durable job queue. Cheap to clone: clones share connections.
#[derive(Clone)]
pub enum Store {
    /// Embedded, one host.
    Sqlite(SqliteStore),
    /// Shared by many processes on many hosts.
    Postgres(PgStore),
}

macro_rules! dispatch {
    ($self:expr, $store:ident => $call:expr) => {
        match $self {
            Store::Sqlite($store) => $call,
            Store::Postgres($store) => $call,
        }
    };
}

impl Store {
    /// Opens the queue and applies pending migrations.
    ///
    /// `postgres://...` / `postgresql://...` selects PostgreSQL; `sqlite:...` or a plain
    /// file path selects SQLite (the file is created if missing).
    pub async fn open(url: &str) -> Result<Store> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Store::Postgres(PgStore::open(url).await?))
        } else if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(SqliteStore::open_url(url).await?))
        } else if url.contains("://") {
            Err(QueueError::InvalidUrl {
                url: url.to_owned(),
                reason: "expected postgres://, sqlite: or a file path".into(),
            })
        } else {
            Ok(Store::Sqlite(SqliteStore::open(Path::new(url)).await?))
        }
    }

    /// `"sqlite"` or `"postgres"`, for logs and metrics.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Submits a job.
    ///
    /// With an idempotency key already used by the same owner: the same request (equal
    /// pipeline, input and params) returns the existing job with `created == false`; a
    /// different request fails with [`QueueError::IdempotencyConflict`].
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued> {
        let job = PreparedJob::new(job)?;
        dispatch!(self, s => s.enqueue(job).await)
    }

    /// Atomically leases up to `limit` jobs for `worker`: `queued`/`retrying` jobs whose
    /// `run_at` has come, in `lanes` (every lane when empty), highest priority first, then
    /// oldest `run_at`, then oldest. Each becomes `running` with `attempt + 1`, a lease
    /// until now + `lease_for`, and `started_at` = now. Returned in that order.
    pub async fn claim(
        &self,
        worker: &str,
        lanes: &[String],
        limit: usize,
        lease_for: Duration,
    ) -> Result<Vec<Claimed>> {
        dispatch!(self, s => s.claim(worker, lanes, limit, lease_for).await)
    }

    /// Extends the lease to now + `lease_for`; tells the worker whether to cancel.
    /// [`QueueError::LeaseLost`] when the lease is no longer held.
    pub async fn heartbeat(&self, lease: &Lease, lease_for: Duration) -> Result<Heartbeat> {
        dispatch!(self, s => s.heartbeat(lease, lease_for).await)
    }

    /// Records progress of the leased attempt (fenced like [`Store::complete`]).
    pub async fn progress(&self, lease: &Lease, processed: u64, total: u64) -> Result<()> {
        dispatch!(self, s => s.progress(lease, processed, total).await)
    }

    /// Marks the leased attempt `succeeded` with `result`.
    ///
    /// Fenced on `(id, lease owner, attempt, state = running)`: a worker whose lease was
    /// rescued and re-claimed gets [`QueueError::LeaseLost`] and changes nothing.
    pub async fn complete(&self, lease: &Lease, result: Value) -> Result<()> {
        dispatch!(self, s => s.complete(lease, result).await)
    }

    /// Completes many attempts in one transaction (group commit for worker throughput).
    /// One result per input, in order; a stale lease fails only its own entry.
    pub async fn complete_many(&self, done: Vec<(Lease, Value)>) -> Result<Vec<Result<()>>> {
        if done.is_empty() {
            return Ok(Vec::new());
        }
        dispatch!(self, s => s.complete_many(done).await)
    }

    /// Completes `done` as [`Store::complete_many`] does, then claims as [`Store::claim`]
    /// does, in one transaction: a worker that finished jobs and has free slots spends
    /// one round trip and one commit instead of two. One answer per completion, in order,
    /// and the leases; a database error fails both halves (nothing is completed).
    pub async fn complete_and_claim(
        &self,
        done: &[(Lease, Value)],
        worker: &str,
        lanes: &[String],
        limit: usize,
        lease_for: Duration,
    ) -> Result<(Vec<Result<()>>, Vec<Claimed>)> {
        if done.is_empty() {
            return Ok((
                Vec::new(),
                self.claim(worker, lanes, limit, lease_for).await?,
            ));
        }
        dispatch!(self, s => s.complete_and_claim(done, worker, lanes, limit, lease_for).await)
    }

    /// Records a failed attempt. A retryable error with attempts left (and no pending
    /// cancellation) sends the job to `retrying` with `run_at` = now + `retry.delay(attempt)`;
    /// otherwise it ends `failed`. The error is kept in [`Job::error`] either way. Fenced.
    pub async fn fail(
        &self,
        lease: &Lease,
        error: JobError,
        retry: RetryPolicy,
    ) -> Result<FailOutcome> {
        dispatch!(self, s => s.fail(lease, error, retry).await)
    }

    /// The worker acknowledges a cancellation request: the job ends `cancelled`. Fenced.
    pub async fn cancelled(&self, lease: &Lease) -> Result<()> {
        dispatch!(self, s => s.cancelled(lease).await)
    }

    /// The owner cancels a job: `queued`/`retrying` end `cancelled` at once, `running`
    /// get `cancel_requested` (seen by the worker on its next heartbeat), terminal jobs
    /// are unchanged. Returns the job afterwards; `None` if absent or not `owner`'s.
    pub async fn cancel(&self, id: Uuid, owner: &str) -> Result<Option<Job>> {
        dispatch!(self, s => s.cancel(id, owner).await)
    }

    /// Reads a job; `owner: None` reads anyone's (internal use, admins).
    pub async fn get(&self, id: Uuid, owner: Option<&str>) -> Result<Option<Job>> {
        dispatch!(self, s => s.get(id, owner).await)
    }

    /// The owner's jobs, newest first, `limit` per page (clamped to 1..=1000); pass
    /// `next_cursor` back to continue.
    pub async fn list(
        &self,
        owner: &str,
        filter: &ListFilter,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<Page<Job>> {
        dispatch!(self, s => s.list(owner, filter, limit, cursor).await)
    }

    /// Removes a job row whatever its state (the server cancels running jobs first).
    /// False if absent or not `owner`'s.
    pub async fn delete(&self, id: Uuid, owner: &str) -> Result<bool> {
        dispatch!(self, s => s.delete(id, owner).await)
    }

    /// Running jobs whose lease ran out go back to `retrying` (claimable at once) if
    /// attempts are left, else end `failed`; the error is `LEASE_EXPIRED`. A job with a
    /// pending cancellation ends `cancelled`. Returns how many jobs were rescued.
    pub async fn rescue_expired(&self) -> Result<u64> {
        dispatch!(self, s => s.rescue_expired().await)
    }

    /// Deletes terminal jobs finished before `finished_before` and returns their ids, so
    /// the caller can delete their artifacts.
    pub async fn prune(&self, finished_before: DateTime<Utc>) -> Result<Vec<Uuid>> {
        dispatch!(self, s => s.prune(finished_before).await)
    }

    /// Number of jobs per state (every state present, zeros included).
    pub async fn counts(&self) -> Result<HashMap<JobState, u64>> {
        dispatch!(self, s => s.counts().await)
    }

    /// Jobs per lane and state (only pairs that have jobs), with the age of each lane's
    /// longest-waiting claimable job: one grouped scan, read by `/metrics` at scrape time,
    /// so every process on a shared PostgreSQL queue reports the same figures.
    pub async fn lane_counts(&self) -> Result<Vec<LaneCount>> {
        dispatch!(self, s => s.lane_counts().await)
    }

    /// One trivial query: whether the database answers (for readiness probes).
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, s => s.ping().await)
    }

    /// Jobs of `owner` that are queued, retrying or running (for per-key quotas); an
    /// index holds exactly those jobs, so this reads only the owner's active ones.
    pub async fn active_jobs(&self, owner: &str) -> Result<u64> {
        dispatch!(self, s => s.active_jobs(owner).await)
    }

    /// Returns when a job may have become claimable, or after `timeout` at the latest.
    ///
    /// SQLite: signalled by enqueues and rescues in this process. PostgreSQL: by
    /// `NOTIFY framepipe_jobs` from any host. Jobs waiting for a retry backoff are found by
    /// the timeout, so callers should poll with a timeout of about a second. A return does
    /// not promise a claim will succeed.
    pub async fn wait_for_work(&self, timeout: Duration) {
        dispatch!(self, s => s.wait_for_work(timeout).await)
    }

    /// Creates an API key; returns its info and the secret, which is shown only now
    /// (only its SHA-256 is stored).
    pub async fn create_key(&self, name: &str, admin: bool) -> Result<(KeyInfo, String)> {
        self.create_key_expiring(name, admin, None).await
    }

    /// [`Store::create_key`] with an expiry (`None`: never).
    pub async fn create_key_expiring(
        &self,
        name: &str,
        admin: bool,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(KeyInfo, String)> {
        dispatch!(self, s => s.create_key(name, admin, expires_at).await)
    }

    /// Every key, revoked and expired ones too, oldest first.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        dispatch!(self, s => s.list_keys().await)
    }

    /// Revokes a key (it stays listed); `None` if there is no such key. Revoking twice
    /// keeps the first time.
    pub async fn revoke_key(&self, id: Uuid) -> Result<Option<KeyInfo>> {
        dispatch!(self, s => s.revoke_key(id).await)
    }

    /// Deletes a key's row; false if there was none. Its jobs stay (owned by its id).
    pub async fn delete_key(&self, id: Uuid) -> Result<bool> {
        dispatch!(self, s => s.delete_key(id).await)
    }

    /// Finds the key whose secret this is (revoked and expired keys too: the caller
    /// checks [`KeyInfo::usable_at`]).
    pub async fn verify_key(&self, secret: &str) -> Result<Option<KeyInfo>> {
        dispatch!(self, s => s.verify_key(secret).await)
    }

    /// Whether this process should run singleton duties (rescuer, pruner).
    ///
    /// PostgreSQL: holds a session advisory lock on a dedicated connection while leading;
    /// call it periodically, it re-checks the connection and takes over when the leader's
    /// session ends. SQLite: always true (the duties are idempotent and local).
    pub async fn try_lead(&self) -> Result<bool> {
        match self {
            Store::Sqlite(_) => Ok(true),
            Store::Postgres(s) => s.try_lead().await,
        }
    }

    /// Finishes pending writes, gives up leadership and closes all connections.
    pub async fn close(&self) {
        dispatch!(self, s => s.close().await)
    }
}
