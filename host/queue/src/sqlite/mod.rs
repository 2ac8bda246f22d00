//! The embedded backend: one SQLite file in WAL mode.
//!
//! Writes go through one writer task with group commit (`writer.rs`); reads use a
//! separate read-only pool, which WAL lets run beside the writer. Timestamps come from this
//! host's clock: SQLite serves one host (several processes on one file still work, since
//! every write takes the file's write lock with `BEGIN IMMEDIATE`).

mod ops;
mod rows;
mod writer;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::Notify;
use uuid::Uuid;

use self::writer::Writer;
use crate::batch::Batcher;
use crate::error::{QueueError, Result};
use crate::keys::{KeyInfo, hash_secret, new_secret};
use crate::model::{Claimed, Enqueued, FailOutcome, Heartbeat, Job, JobError, JobState, Lease};
use crate::page::{Cursor, ListFilter, Page, clamp_limit};
use crate::prepared::PreparedJob;
use crate::retry::RetryPolicy;

/// Read connections; WAL readers never block the writer or each other.
const READERS: u32 = 4;
/// Most rows per shared INSERT or completion statement.
const MAX_BATCH: usize = 512;
/// Shared statements of one kind queued in the writer at once: the next forms while one
/// commits.
const BATCHES_IN_FLIGHT: usize = 2;
/// Rows deleted per write batch while pruning, so enqueues interleave with a big prune.
const PRUNE_CHUNK: i64 = 1000;

/// The SQLite store. Cheap to clone; clones share the writer and the pools.
#[derive(Clone)]
pub struct SqliteStore {
    writer: Writer,
    batches: Batches,
    readers: SqlitePool,
    wake: Arc<Notify>,
}

/// Statements that concurrent callers share (see [`crate::batch`]); each batch is one
/// operation of the writer's group commit.
#[derive(Clone)]
struct Batches {
    inserts: Batcher<PreparedJob, Enqueued>,
    completions: Batcher<(Lease, Value), ()>,
}

impl Batches {
    fn spawn(writer: &Writer) -> Batches {
        let w = writer.clone();
        let inserts = Batcher::spawn(MAX_BATCH, BATCHES_IN_FLIGHT, move |jobs| {
            let w = w.clone();
            async move {
                w.call(true, move |c| Box::pin(ops::insert_many(c, jobs)))
                    .await
            }
        });
        let w = writer.clone();
        let completions = Batcher::spawn(MAX_BATCH, BATCHES_IN_FLIGHT, move |done| {
            let w = w.clone();
            async move {
                w.call(false, move |c| Box::pin(ops::complete_many(c, done)))
                    .await
            }
        });
        Batches {
            inserts,
            completions,
        }
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Self> {
        Self::open_with(SqliteConnectOptions::new().filename(path)).await
    }

    /// Opens from a `sqlite:` URL (`sqlite:///abs/path.db`, `sqlite://rel.db`).
    pub async fn open_url(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url).map_err(|e| QueueError::InvalidUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
        Self::open_with(options).await
    }

    async fn open_with(options: SqliteConnectOptions) -> Result<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL loses no integrity on power loss, only the last commits;
            // FULL would fsync every group commit.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("temp_store", "memory");
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .map_err(QueueError::db("opening the SQLite database"))?;
        // `run_direct`: `run(&mut conn)` goes through `Acquire`, whose future rustc cannot
        // prove `Send` for every lifetime, which would make `Store::open` unspawnable.
        sqlx::migrate!("./migrations/sqlite")
            .run_direct(&mut conn)
            .await
            .map_err(|e| QueueError::Migrate(Arc::new(e)))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.read_only(true))
            .await
            .map_err(QueueError::db("opening SQLite read connections"))?;
        let wake = Arc::new(Notify::new());
        let writer = Writer::spawn(conn, wake.clone());
        Ok(SqliteStore {
            batches: Batches::spawn(&writer),
            writer,
            readers,
            wake,
        })
    }

    /// See [`crate::Store::enqueue`].
    ///
    /// Concurrent enqueues without an idempotency key share one INSERT statement.
    pub(crate) async fn enqueue(&self, job: PreparedJob) -> Result<Enqueued> {
        if job.job.idempotency_key.is_none() {
            return self.batches.inserts.call(job).await;
        }
        self.writer
            .call(true, move |c| Box::pin(ops::enqueue(c, job)))
            .await
    }

    /// See [`crate::Store::claim`].
    pub async fn claim(
        &self,
        worker: &str,
        lanes: &[String],
        limit: usize,
        lease_for: Duration,
    ) -> Result<Vec<Claimed>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (worker, lanes) = (worker.to_owned(), lanes.to_vec());
        self.writer
            .call(false, move |c| {
                Box::pin(ops::claim(c, worker, lanes, limit, lease_for))
            })
            .await
    }

    /// See [`crate::Store::heartbeat`].
    pub async fn heartbeat(&self, lease: &Lease, lease_for: Duration) -> Result<Heartbeat> {
        let lease = lease.clone();
        self.writer
            .call(false, move |c| {
                Box::pin(ops::heartbeat(c, lease, lease_for))
            })
            .await
    }

    /// See [`crate::Store::progress`].
    pub async fn progress(&self, lease: &Lease, processed: u64, total: u64) -> Result<()> {
        let lease = lease.clone();
        self.writer
            .call(false, move |c| {
                Box::pin(ops::progress(c, lease, processed, total))
            })
            .await
    }

    /// See [`crate::Store::complete`].
    ///
    /// Concurrent completions share one UPDATE statement.
    pub async fn complete(&self, lease: &Lease, result: Value) -> Result<()> {
        self.batches.completions.call((lease.clone(), result)).await
    }

    /// See [`crate::Store::complete_many`].
    pub async fn complete_many(&self, done: Vec<(Lease, Value)>) -> Result<Vec<Result<()>>> {
        self.writer
            .call(false, move |c| Box::pin(ops::complete_many(c, done)))
            .await
    }

    /// See [`crate::Store::fail`].
    pub async fn fail(
        &self,
        lease: &Lease,
        error: JobError,
        retry: RetryPolicy,
    ) -> Result<FailOutcome> {
        let lease = lease.clone();
        let delay = retry.delay(lease.attempt);
        self.writer
            .call(false, move |c| Box::pin(ops::fail(c, lease, error, delay)))
            .await
    }

    /// See [`crate::Store::cancelled`].
    pub async fn cancelled(&self, lease: &Lease) -> Result<()> {
        let lease = lease.clone();
        self.writer
            .call(false, move |c| {
                Box::pin(async move { ops::finish(c, &lease, "cancelled", None).await })
            })
            .await
    }

    /// See [`crate::Store::cancel`].
    pub async fn cancel(&self, id: Uuid, owner: &str) -> Result<Option<Job>> {
        let owner = owner.to_owned();
        self.writer
            .call(false, move |c| Box::pin(ops::cancel(c, id, owner)))
            .await
    }

    /// See [`crate::Store::delete`].
    pub async fn delete(&self, id: Uuid, owner: &str) -> Result<bool> {
        let owner = owner.to_owned();
        self.writer
            .call(false, move |c| Box::pin(ops::delete(c, id, owner)))
            .await
    }

    /// See [`crate::Store::rescue_expired`].
    pub async fn rescue_expired(&self) -> Result<u64> {
        self.writer
            .call(true, move |c| Box::pin(ops::rescue_expired(c)))
            .await
    }

    /// See [`crate::Store::prune`].
    pub async fn prune(&self, finished_before: DateTime<Utc>) -> Result<Vec<Uuid>> {
        let before = rows::micros(finished_before);
        let mut pruned = Vec::new();
        loop {
            let chunk = self
                .writer
                .call(false, move |c| {
                    Box::pin(ops::prune_chunk(c, before, PRUNE_CHUNK))
                })
                .await?;
            let last = (chunk.len() as i64) < PRUNE_CHUNK;
            pruned.extend(chunk);
            if last {
                return Ok(pruned);
            }
        }
    }

    /// See [`crate::Store::create_key`].
    pub async fn create_key(&self, name: &str, admin: bool) -> Result<(KeyInfo, String)> {
        let secret = new_secret();
        let (name, hash) = (name.to_owned(), hash_secret(&secret));
        let info = self
            .writer
            .call(false, move |c| {
                Box::pin(ops::create_key(c, name, admin, hash))
            })
            .await?;
        Ok((info, secret))
    }

    /// See [`crate::Store::verify_key`].
    pub async fn verify_key(&self, secret: &str) -> Result<Option<KeyInfo>> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE key_hash = ?")
            .bind(hash_secret(secret))
            .fetch_optional(&self.readers)
            .await
            .map_err(QueueError::db("verifying an API key"))?;
        row.as_ref().map(rows::key).transpose()
    }

    /// See [`crate::Store::get`].
    pub async fn get(&self, id: Uuid, owner: Option<&str>) -> Result<Option<Job>> {
        let row = sqlx::query("SELECT * FROM jobs WHERE id = ?1 AND (?2 IS NULL OR owner = ?2)")
            .bind(id)
            .bind(owner)
            .fetch_optional(&self.readers)
            .await
            .map_err(QueueError::db("reading a job"))?;
        row.as_ref().map(rows::job).transpose()
    }

    /// See [`crate::Store::list`].
    pub async fn list(
        &self,
        owner: &str,
        filter: &ListFilter,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<Page<Job>> {
        let limit = clamp_limit(limit);
        // Optional predicates are left out of the SQL rather than written as
        // `? IS NULL OR ...`, so the cursor becomes an index range seek.
        let mut sql = String::from("SELECT * FROM jobs WHERE owner = ?");
        if filter.state.is_some() {
            sql.push_str(" AND state = ?");
        }
        if filter.pipeline.is_some() {
            sql.push_str(" AND pipeline = ?");
        }
        if cursor.is_some() {
            sql.push_str(" AND (created_at, id) < (?, ?)");
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
        let mut query = sqlx::query(&sql).bind(owner);
        if let Some(state) = filter.state {
            query = query.bind(state.as_str());
        }
        if let Some(pipeline) = &filter.pipeline {
            query = query.bind(pipeline);
        }
        if let Some(cursor) = cursor {
            query = query.bind(rows::micros(cursor.created_at)).bind(cursor.id);
        }
        let found = query
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.readers)
            .await
            .map_err(QueueError::db("listing jobs"))?;
        let mut items = found.iter().map(rows::job).collect::<Result<Vec<_>>>()?;
        Ok(crate::page::paginate(&mut items, limit))
    }

    /// See [`crate::Store::counts`].
    pub async fn counts(&self) -> Result<HashMap<JobState, u64>> {
        let found: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .fetch_all(&self.readers)
                .await
                .map_err(QueueError::db("counting jobs"))?;
        crate::page::count_states(found)
    }

    /// See [`crate::Store::wait_for_work`]. Only this process's writes signal; other
    /// processes on the same file are noticed when `timeout` runs out.
    pub async fn wait_for_work(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.wake.notified()).await;
    }

    /// Finishes pending writes and closes every connection.
    pub async fn close(&self) {
        self.writer.close().await;
        self.readers.close().await;
    }
}
