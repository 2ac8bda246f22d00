//! The shared backend: PostgreSQL, for many processes on many hosts.
//!
//! Correctness needs no in-process state: claims use `FOR UPDATE SKIP LOCKED`, worker
//! writes are fenced, timestamps come from the database clock. In-process state only
//! speeds things up (the LISTEN task that wakes idle workers).

mod gather;
mod lead;
mod listen;
mod ops;
mod rows;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use uuid::Uuid;

use self::gather::Gatherer;
use self::lead::Leadership;
use crate::batch::Batcher;
use crate::error::{QueueError, Result};
use crate::keys::{KeyInfo, hash_secret, new_secret};
use crate::model::{Claimed, Enqueued, FailOutcome, Heartbeat, Job, JobError, JobState, Lease};
use crate::page::{Cursor, ListFilter, Page, clamp_limit};
use crate::prepared::PreparedJob;
use crate::retry::RetryPolicy;

/// Every statement here is a short index-driven one whose best plan does not depend on
/// its parameters, yet PostgreSQL keeps planning the claim and completion statements
/// afresh on each execution (their custom plans look cheaper than the generic one).
/// Planning was a third of the server's CPU time in the scale bench; a cached generic
/// plan is planned once per connection.
pub(crate) const GENERIC_PLANS: (&str, &str) = ("plan_cache_mode", "force_generic_plan");

/// Pool size per process; the server's HTTP handlers and workers share it.
const POOL_SIZE: u32 = 16;
/// Most completions per statement.
const MAX_COMPLETE_BATCH: usize = 256;
/// Completion statements running at once.
const COMPLETE_IN_FLIGHT: usize = 2;
/// Rows deleted per statement while pruning, to keep transactions short.
const PRUNE_CHUNK: i64 = 1000;

struct Shared {
    options: PgConnectOptions,
    leadership: Leadership,
    listener: JoinHandle<()>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// The PostgreSQL store. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    gatherer: Gatherer,
    completer: Batcher<(Lease, Value), ()>,
    wake: Arc<Notify>,
    shared: Arc<Shared>,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`) and migrates the schema.
    pub async fn open(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| QueueError::InvalidUrl {
                url: url.to_owned(),
                reason: e.to_string(),
            })?
            .options([GENERIC_PLANS]);
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await
            .map_err(QueueError::db("connecting to PostgreSQL"))?;
        // sqlx serializes concurrent migrators with an advisory lock of its own.
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| QueueError::Migrate(Arc::new(e)))?;
        let wake = Arc::new(Notify::new());
        let listener = listen::spawn(pool.clone(), wake.clone());
        let completer = Batcher::spawn(MAX_COMPLETE_BATCH, COMPLETE_IN_FLIGHT, {
            let pool = pool.clone();
            move |done| {
                let pool = pool.clone();
                async move { ops::complete_many(&pool, done).await }
            }
        });
        Ok(PgStore {
            gatherer: Gatherer::spawn(pool.clone()),
            completer,
            pool,
            wake,
            shared: Arc::new(Shared {
                options,
                leadership: Leadership::default(),
                listener,
            }),
        })
    }

    /// See [`crate::Store::enqueue`].
    pub(crate) async fn enqueue(&self, job: PreparedJob) -> Result<Enqueued> {
        self.gatherer.enqueue(job).await
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
        ops::claim(&self.pool, worker, lanes, limit, lease_for).await
    }

    /// See [`crate::Store::heartbeat`].
    pub async fn heartbeat(&self, lease: &Lease, lease_for: Duration) -> Result<Heartbeat> {
        ops::heartbeat(&self.pool, lease, lease_for).await
    }

    /// See [`crate::Store::progress`].
    pub async fn progress(&self, lease: &Lease, processed: u64, total: u64) -> Result<()> {
        ops::progress(&self.pool, lease, processed, total).await
    }

    /// See [`crate::Store::complete`].
    ///
    /// Concurrent completions of this process share one statement and one commit.
    pub async fn complete(&self, lease: &Lease, result: Value) -> Result<()> {
        self.completer.call((lease.clone(), result)).await
    }

    /// See [`crate::Store::complete_many`].
    pub async fn complete_many(&self, done: Vec<(Lease, Value)>) -> Result<Vec<Result<()>>> {
        ops::complete_many(&self.pool, done).await
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
        ops::complete_and_claim(&self.pool, done, worker, lanes, limit, lease_for).await
    }

    /// See [`crate::Store::fail`].
    pub async fn fail(
        &self,
        lease: &Lease,
        error: JobError,
        retry: RetryPolicy,
    ) -> Result<FailOutcome> {
        ops::fail(&self.pool, lease, error, retry.delay(lease.attempt)).await
    }

    /// See [`crate::Store::cancelled`].
    pub async fn cancelled(&self, lease: &Lease) -> Result<()> {
        ops::finish(&self.pool, lease, "cancelled", None).await
    }

    /// See [`crate::Store::cancel`].
    pub async fn cancel(&self, id: Uuid, owner: &str) -> Result<Option<Job>> {
        ops::cancel(&self.pool, id, owner).await
    }

    /// See [`crate::Store::delete`].
    pub async fn delete(&self, id: Uuid, owner: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM jobs WHERE id = $1 AND owner = $2")
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(QueueError::db("deleting a job"))?;
        Ok(done.rows_affected() > 0)
    }

    /// See [`crate::Store::rescue_expired`].
    pub async fn rescue_expired(&self) -> Result<u64> {
        ops::rescue_expired(&self.pool).await
    }

    /// See [`crate::Store::prune`].
    pub async fn prune(&self, finished_before: DateTime<Utc>) -> Result<Vec<Uuid>> {
        let mut pruned = Vec::new();
        loop {
            let chunk = ops::prune_chunk(&self.pool, finished_before, PRUNE_CHUNK).await?;
            let last = (chunk.len() as i64) < PRUNE_CHUNK;
            pruned.extend(chunk);
            if last {
                return Ok(pruned);
            }
        }
    }

    /// See [`crate::Store::get`].
    pub async fn get(&self, id: Uuid, owner: Option<&str>) -> Result<Option<Job>> {
        let row =
            sqlx::query("SELECT * FROM jobs WHERE id = $1 AND ($2::text IS NULL OR owner = $2)")
                .bind(id)
                .bind(owner)
                .fetch_optional(&self.pool)
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
        // Optional predicates are left out rather than written as `$n IS NULL OR ...`, so
        // the planner sees a plain index range for the cursor.
        let mut sql = String::from("SELECT * FROM jobs WHERE owner = $1");
        let mut n = 1;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if filter.state.is_some() {
            sql += &format!(" AND state = {}", param());
        }
        if filter.pipeline.is_some() {
            sql += &format!(" AND pipeline = {}", param());
        }
        if cursor.is_some() {
            sql += &format!(" AND (created_at, id) < ({}, {})", param(), param());
        }
        sql += &format!(" ORDER BY created_at DESC, id DESC LIMIT {}", param());
        let mut query = sqlx::query(&sql).bind(owner);
        if let Some(state) = filter.state {
            query = query.bind(state.as_str());
        }
        if let Some(pipeline) = &filter.pipeline {
            query = query.bind(pipeline);
        }
        if let Some(cursor) = cursor {
            query = query.bind(cursor.created_at).bind(cursor.id);
        }
        let found = query
            .bind(i64::from(limit) + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(QueueError::db("listing jobs"))?;
        let mut items = found.iter().map(rows::job).collect::<Result<Vec<_>>>()?;
        Ok(crate::page::paginate(&mut items, limit))
    }

    /// See [`crate::Store::ping`].
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(QueueError::db("pinging the database"))?;
        Ok(())
    }

    /// See [`crate::Store::active_jobs`].
    pub async fn active_jobs(&self, owner: &str) -> Result<u64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM jobs WHERE owner = $1 \
             AND state IN ('queued', 'retrying', 'running')",
        )
        .bind(owner)
        .fetch_one(&self.pool)
        .await
        .map_err(QueueError::db("counting a key's active jobs"))?;
        Ok(n.max(0) as u64)
    }

    /// See [`crate::Store::counts`].
    pub async fn counts(&self) -> Result<HashMap<JobState, u64>> {
        let found: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .fetch_all(&self.pool)
                .await
                .map_err(QueueError::db("counting jobs"))?;
        crate::page::count_states(found)
    }

    /// See [`crate::Store::lane_counts`]. Ages come from the database clock, so every
    /// process reports the same.
    pub async fn lane_counts(&self) -> Result<Vec<crate::model::LaneCount>> {
        let found: Vec<(String, String, i64, Option<f64>)> = sqlx::query_as(
            "SELECT lane, state, COUNT(*),
                    EXTRACT(EPOCH FROM now() - MIN(run_at) FILTER (
                        WHERE state IN ('queued', 'retrying') AND run_at <= now()))::float8
             FROM jobs GROUP BY lane, state",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(QueueError::db("counting jobs per lane"))?;
        crate::page::lane_counts(found)
    }

    /// See [`crate::Store::wait_for_work`].
    pub async fn wait_for_work(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.wake.notified()).await;
    }

    /// See [`crate::Store::create_key`].
    pub async fn create_key(
        &self,
        name: &str,
        admin: bool,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(KeyInfo, String)> {
        let secret = new_secret();
        let row = sqlx::query(
            "INSERT INTO api_keys (id, name, admin, key_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, now(), $5) RETURNING *",
        )
        .bind(Uuid::now_v7())
        .bind(name)
        .bind(admin)
        .bind(hash_secret(&secret))
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await
        .map_err(QueueError::db("creating an API key"))?;
        Ok((rows::key(&row)?, secret))
    }

    /// See [`crate::Store::list_keys`].
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let found = sqlx::query("SELECT * FROM api_keys ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(QueueError::db("listing API keys"))?;
        found.iter().map(rows::key).collect()
    }

    /// See [`crate::Store::revoke_key`].
    pub async fn revoke_key(&self, id: Uuid) -> Result<Option<KeyInfo>> {
        let row = sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(QueueError::db("revoking an API key"))?;
        row.as_ref().map(rows::key).transpose()
    }

    /// See [`crate::Store::delete_key`].
    pub async fn delete_key(&self, id: Uuid) -> Result<bool> {
        let done = sqlx::query("DELETE FROM api_keys WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(QueueError::db("deleting an API key"))?;
        Ok(done.rows_affected() > 0)
    }

    /// See [`crate::Store::verify_key`].
    pub async fn verify_key(&self, secret: &str) -> Result<Option<KeyInfo>> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE key_hash = $1")
            .bind(hash_secret(secret))
            .fetch_optional(&self.pool)
            .await
            .map_err(QueueError::db("verifying an API key"))?;
        row.as_ref().map(rows::key).transpose()
    }

    /// See [`crate::Store::try_lead`].
    pub async fn try_lead(&self) -> Result<bool> {
        self.shared.leadership.try_lead(&self.shared.options).await
    }

    /// Gives up leadership, stops listening and closes the pool.
    pub async fn close(&self) {
        self.shared.leadership.resign().await;
        self.shared.listener.abort();
        self.pool.close().await;
    }
}
