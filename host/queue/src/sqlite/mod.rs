//! The embedded backend: one SQLite file in WAL mode.
//!
//! Writes go through one writer thread with group commit (`writer.rs`), which calls SQLite
//! directly (rusqlite); reads use read-only connections on tokio's blocking pool
//! (`readers.rs`), which WAL lets run beside the writer. Timestamps come from this
//! host's clock: SQLite serves one host (several processes on one file still work, since
//! every write takes the file's write lock with `BEGIN IMMEDIATE`).

mod ops;
mod readers;
mod rows;
mod schema;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;
use tokio::sync::Notify;
use uuid::Uuid;

use self::readers::Readers;
use self::rows::{JOB_COLUMNS, KEY_COLUMNS};
use self::writer::Writer;
use crate::error::{QueueError, Result};
use crate::keys::{KeyInfo, hash_secret, new_secret};
use crate::model::{Claimed, Enqueued, FailOutcome, Heartbeat, Job, JobError, JobState, Lease};
use crate::page::{Cursor, ListFilter, Page, clamp_limit};
use crate::prepared::PreparedJob;
use crate::retry::RetryPolicy;

/// Rows deleted per write batch while pruning, so enqueues interleave with a big prune.
const PRUNE_CHUNK: i64 = 1000;

/// The SQLite store. Cheap to clone; clones share the writer and the readers.
#[derive(Clone)]
pub struct SqliteStore {
    writer: Writer,
    readers: Readers,
    wake: Arc<Notify>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database file at `path` and migrates it.
    pub async fn open(path: &Path) -> Result<Self> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(path))
            .await
            .map_err(|_| QueueError::Closed)?
    }

    /// Opens from a `sqlite:` URL (`sqlite:///abs/path.db`, `sqlite://rel.db`,
    /// `sqlite:rel.db`). Query parameters and in-memory databases are refused: the queue
    /// must be a file that survives the process.
    pub async fn open_url(url: &str) -> Result<Self> {
        let invalid = |reason: &str| QueueError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| invalid("expected sqlite:PATH or sqlite://PATH"))?;
        if path.contains('?') {
            return Err(invalid(
                "query parameters are not supported; pass a plain file path",
            ));
        }
        if path.is_empty() || path.starts_with(':') {
            return Err(invalid(
                "the queue needs a database file, not an in-memory database",
            ));
        }
        Self::open(Path::new(path)).await
    }

    fn open_blocking(path: PathBuf) -> Result<Self> {
        let conn = schema::open_writer(&path)?;
        schema::migrate(&conn)?;
        let wake = Arc::new(Notify::new());
        let writer = Writer::spawn(&path, conn, wake.clone())?;
        Ok(SqliteStore {
            writer,
            readers: Readers::new(path),
            wake,
        })
    }

    /// See [`crate::Store::enqueue`].
    pub(crate) async fn enqueue(&self, job: PreparedJob) -> Result<Enqueued> {
        let row = ops::NewRow::new(job);
        self.writer.call(true, move |c| ops::enqueue(c, row)).await
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
                ops::claim(c, &worker, &lanes, limit, lease_for)
            })
            .await
    }

    /// See [`crate::Store::heartbeat`].
    pub async fn heartbeat(&self, lease: &Lease, lease_for: Duration) -> Result<Heartbeat> {
        let lease = lease.clone();
        self.writer
            .call(false, move |c| ops::heartbeat(c, &lease, lease_for))
            .await
    }

    /// See [`crate::Store::progress`].
    pub async fn progress(&self, lease: &Lease, processed: u64, total: u64) -> Result<()> {
        let lease = lease.clone();
        self.writer
            .call(false, move |c| ops::progress(c, &lease, processed, total))
            .await
    }

    /// See [`crate::Store::complete`].
    pub async fn complete(&self, lease: &Lease, result: Value) -> Result<()> {
        let (lease, result) = (lease.clone(), ops::to_json(&result));
        self.writer
            .call(false, move |c| {
                ops::finish(c, &lease, "succeeded", Some(&result))
            })
            .await
    }

    /// See [`crate::Store::complete_many`].
    pub async fn complete_many(&self, done: Vec<(Lease, Value)>) -> Result<Vec<Result<()>>> {
        let done: Vec<(Lease, String)> = done
            .into_iter()
            .map(|(lease, result)| (lease, ops::to_json(&result)))
            .collect();
        self.writer
            .call(false, move |c| ops::complete_many(c, &done))
            .await
    }

    /// See [`crate::Store::complete_and_claim`].
    pub async fn complete_and_claim(
        &self,
        done: &[(Lease, Value)],
        worker: &str,
        lanes: &[String],
        limit: usize,
        lease_for: Duration,
    ) -> Result<(Vec<Result<()>>, Vec<Claimed>)> {
        let done: Vec<(Lease, String)> = done
            .iter()
            .map(|(lease, result)| (lease.clone(), ops::to_json(result)))
            .collect();
        let (worker, lanes) = (worker.to_owned(), lanes.to_vec());
        self.writer
            .call(false, move |c| {
                let answers = ops::complete_many(c, &done)?;
                let claimed = match limit {
                    0 => Vec::new(),
                    _ => ops::claim(c, &worker, &lanes, limit, lease_for)?,
                };
                Ok((answers, claimed))
            })
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
            .call(false, move |c| ops::fail(c, &lease, &error, delay))
            .await
    }

    /// See [`crate::Store::cancelled`].
    pub async fn cancelled(&self, lease: &Lease) -> Result<()> {
        let lease = lease.clone();
        self.writer
            .call(false, move |c| ops::finish(c, &lease, "cancelled", None))
            .await
    }

    /// See [`crate::Store::cancel`].
    pub async fn cancel(&self, id: Uuid, owner: &str) -> Result<Option<Job>> {
        let owner = owner.to_owned();
        self.writer
            .call(false, move |c| ops::cancel(c, id, &owner))
            .await
    }

    /// See [`crate::Store::delete`].
    pub async fn delete(&self, id: Uuid, owner: &str) -> Result<bool> {
        let owner = owner.to_owned();
        self.writer
            .call(false, move |c| ops::delete(c, id, &owner))
            .await
    }

    /// See [`crate::Store::rescue_expired`].
    pub async fn rescue_expired(&self) -> Result<u64> {
        self.writer.call(true, ops::rescue_expired).await
    }

    /// See [`crate::Store::prune`].
    pub async fn prune(&self, finished_before: DateTime<Utc>) -> Result<Vec<Uuid>> {
        let before = rows::micros(finished_before);
        let mut pruned = Vec::new();
        loop {
            let chunk = self
                .writer
                .call(false, move |c| ops::prune_chunk(c, before, PRUNE_CHUNK))
                .await?;
            let last = (chunk.len() as i64) < PRUNE_CHUNK;
            pruned.extend(chunk);
            if last {
                return Ok(pruned);
            }
        }
    }

    /// See [`crate::Store::create_key`].
    pub async fn create_key(
        &self,
        name: &str,
        admin: bool,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(KeyInfo, String)> {
        let secret = new_secret();
        let (name, hash) = (name.to_owned(), hash_secret(&secret));
        let expires = expires_at.map(rows::micros);
        let info = self
            .writer
            .call(false, move |c| {
                ops::create_key(c, &name, admin, &hash, expires)
            })
            .await?;
        Ok((info, secret))
    }

    /// See [`crate::Store::list_keys`].
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        self.readers
            .read(|c| {
                let context = "listing API keys";
                let mut statement = c
                    .prepare_cached(&format!(
                        "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
                    ))
                    .map_err(QueueError::db(context))?;
                let mut found = statement.query([]).map_err(QueueError::db(context))?;
                let mut keys = Vec::new();
                while let Some(row) = found.next().map_err(QueueError::db(context))? {
                    keys.push(rows::key(row)?);
                }
                Ok(keys)
            })
            .await
    }

    /// See [`crate::Store::revoke_key`].
    pub async fn revoke_key(&self, id: Uuid) -> Result<Option<KeyInfo>> {
        self.writer
            .call(false, move |c| {
                c.prepare_cached(&format!(
                    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? \
                     RETURNING {KEY_COLUMNS}"
                ))
                .and_then(|mut s| {
                    s.query_row(params![rows::now_micros(), id], |row| Ok(rows::key(row)))
                        .optional()
                })
                .map_err(QueueError::db("revoking an API key"))?
                .transpose()
            })
            .await
    }

    /// See [`crate::Store::delete_key`].
    pub async fn delete_key(&self, id: Uuid) -> Result<bool> {
        self.writer
            .call(false, move |c| {
                c.execute("DELETE FROM api_keys WHERE id = ?", params![id])
                    .map(|n| n > 0)
                    .map_err(QueueError::db("deleting an API key"))
            })
            .await
    }

    /// See [`crate::Store::verify_key`].
    pub async fn verify_key(&self, secret: &str) -> Result<Option<KeyInfo>> {
        let hash = hash_secret(secret);
        self.readers
            .read(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?"
                ))
                .and_then(|mut s| s.query_row([hash], |row| Ok(rows::key(row))).optional())
                .map_err(QueueError::db("verifying an API key"))?
                .transpose()
            })
            .await
    }

    /// See [`crate::Store::get`].
    pub async fn get(&self, id: Uuid, owner: Option<&str>) -> Result<Option<Job>> {
        let owner = owner.map(str::to_owned);
        self.readers
            .read(move |c| {
                c.prepare_cached(&format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1 AND (?2 IS NULL OR owner = ?2)"
                ))
                .and_then(|mut s| {
                    s.query_row(params![id, owner], |row| Ok(rows::job(row)))
                        .optional()
                })
                .map_err(QueueError::db("reading a job"))?
                .transpose()
            })
            .await
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
        let mut sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE owner = ?");
        let mut values: Vec<rusqlite::types::Value> = vec![owner.to_owned().into()];
        if let Some(state) = filter.state {
            sql.push_str(" AND state = ?");
            values.push(state.as_str().to_owned().into());
        }
        if let Some(pipeline) = &filter.pipeline {
            sql.push_str(" AND pipeline = ?");
            values.push(pipeline.clone().into());
        }
        if let Some(cursor) = cursor {
            sql.push_str(" AND (created_at, id) < (?, ?)");
            values.push(rows::micros(cursor.created_at).into());
            values.push(cursor.id.as_bytes().to_vec().into());
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
        values.push((i64::from(limit) + 1).into());
        let mut items = self
            .readers
            .read(move |c| {
                let context = "listing jobs";
                let mut statement = c.prepare_cached(&sql).map_err(QueueError::db(context))?;
                let mut found = statement
                    .query(rusqlite::params_from_iter(values))
                    .map_err(QueueError::db(context))?;
                let mut jobs = Vec::new();
                while let Some(row) = found.next().map_err(QueueError::db(context))? {
                    jobs.push(rows::job(row)?);
                }
                Ok(jobs)
            })
            .await?;
        Ok(crate::page::paginate(&mut items, limit))
    }

    /// See [`crate::Store::ping`].
    pub async fn ping(&self) -> Result<()> {
        self.readers
            .read(|c| {
                c.query_row("SELECT 1", [], |_| Ok(()))
                    .map_err(QueueError::db("pinging the database"))
            })
            .await
    }

    /// See [`crate::Store::active_jobs`].
    pub async fn active_jobs(&self, owner: &str) -> Result<u64> {
        let owner = owner.to_owned();
        self.readers
            .read(move |c| {
                c.prepare_cached(
                    "SELECT COUNT(*) FROM jobs WHERE owner = ? \
                     AND state IN ('queued', 'retrying', 'running')",
                )
                .and_then(|mut s| s.query_row([owner], |row| row.get::<_, i64>(0)))
                .map(|n| n.max(0) as u64)
                .map_err(QueueError::db("counting a key's active jobs"))
            })
            .await
    }

    /// See [`crate::Store::counts`].
    pub async fn counts(&self) -> Result<HashMap<JobState, u64>> {
        let found = self
            .readers
            .read(|c| {
                let context = "counting jobs";
                let mut statement = c
                    .prepare_cached("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                    .map_err(QueueError::db(context))?;
                statement
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<(String, i64)>>>())
                    .map_err(QueueError::db(context))
            })
            .await?;
        crate::page::count_states(found)
    }

    /// See [`crate::Store::lane_counts`]. Ages are taken against this host's clock, like
    /// every SQLite timestamp.
    pub async fn lane_counts(&self) -> Result<Vec<crate::model::LaneCount>> {
        let now = rows::now_micros();
        let found = self
            .readers
            .read(move |c| {
                let context = "counting jobs per lane";
                let mut statement = c
                    .prepare_cached(
                        "SELECT lane, state, COUNT(*),
                                MIN(CASE WHEN state IN ('queued', 'retrying') AND run_at <= ?1
                                         THEN run_at END)
                         FROM jobs GROUP BY lane, state",
                    )
                    .map_err(QueueError::db(context))?;
                statement
                    .query_map([now], |row| {
                        let oldest: Option<i64> = row.get(3)?;
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            oldest.map(|at| (now - at) as f64 / 1e6),
                        ))
                    })
                    .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                    .map_err(QueueError::db(context))
            })
            .await?;
        crate::page::lane_counts(found)
    }

    /// See [`crate::Store::wait_for_work`]. Only this process's writes signal; other
    /// processes on the same file are noticed when `timeout` runs out.
    pub async fn wait_for_work(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.wake.notified()).await;
    }

    /// Finishes pending writes and closes every connection.
    pub async fn close(&self) {
        self.writer.close().await;
        self.readers.close();
    }
}
