//! SQLite write operations. Each runs inside the writer's batch transaction (see
//! `writer.rs`), so none of them opens a transaction of its own, and none writes before
//! returning a non-database error.

use std::time::Duration;

use serde_json::Value;
use sqlx::SqliteConnection;
use uuid::Uuid;

use super::rows::{self, now_micros};
use crate::error::{QueueError, Result};
use crate::keys::KeyInfo;
use crate::model::{Claimed, Enqueued, FailOutcome, Heartbeat, Job, JobError, Lease};
use crate::prepared::{PreparedJob, duration_micros, lease_expired_error};

/// The fence every worker write carries: only the current holder of a running attempt.
const FENCE: &str = "id = ? AND lease_owner = ? AND attempt = ? AND state = 'running'";
/// [`FENCE`] for statements that use numbered parameters `?1..?4`: sqlx numbers anonymous
/// `?` independently of numbered ones, so the two styles must not be mixed.
const FENCE_5: &str = "id = ?5 AND lease_owner = ?6 AND attempt = ?7 AND state = 'running'";

fn lost(lease: &Lease) -> QueueError {
    QueueError::LeaseLost {
        job_id: lease.job_id,
        owner: lease.owner.clone(),
        attempt: lease.attempt,
    }
}

fn to_json(value: &impl serde::Serialize) -> String {
    // Serializing a `Value` or a plain struct of strings cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Inserts a job, or returns the existing one for a repeated idempotency key.
pub(super) async fn enqueue(conn: &mut SqliteConnection, new: PreparedJob) -> Result<Enqueued> {
    let job = &new.job;
    if let Some(key) = &job.idempotency_key {
        let existing = sqlx::query("SELECT * FROM jobs WHERE owner = ? AND idempotency_key = ?")
            .bind(&job.owner)
            .bind(key)
            .fetch_optional(&mut *conn)
            .await
            .map_err(QueueError::db("looking up an idempotency key"))?;
        if let Some(row) = existing {
            let hash: Option<String> = sqlx::Row::try_get(&row, "request_hash")
                .map_err(QueueError::db("looking up an idempotency key"))?;
            let existing = rows::job(&row)?;
            if hash.as_deref() != Some(new.request_hash.as_str()) {
                return Err(QueueError::IdempotencyConflict {
                    key: key.clone(),
                    existing: existing.id,
                });
            }
            return Ok(Enqueued {
                job: existing,
                created: false,
            });
        }
    }
    let now = now_micros();
    sqlx::query(
        "INSERT INTO jobs (id, owner, pipeline, lane, priority, state, attempt, max_attempts,
             input, params, idempotency_key, request_hash, created_at, updated_at, run_at)
         VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(new.id)
    .bind(&job.owner)
    .bind(&job.pipeline)
    .bind(&job.lane)
    .bind(job.priority)
    .bind(job.max_attempts as i64)
    .bind(to_json(&job.input))
    .bind(to_json(&job.params))
    .bind(&job.idempotency_key)
    .bind(&new.request_hash)
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(QueueError::db("inserting a job"))?;
    // Built here rather than decoded from `RETURNING *`: re-parsing the JSON we just
    // wrote is a large share of the writer's time at thousands of inserts per second.
    let at = rows::time(&new.id.to_string(), "created_at", now)?;
    Ok(Enqueued {
        job: new.into_job(at),
        created: true,
    })
}

/// Inserts jobs that carry no idempotency key with one statement (each statement is a
/// round trip to sqlx's SQLite worker thread, which costs more than the row).
pub(super) async fn insert_many(
    conn: &mut SqliteConnection,
    jobs: Vec<PreparedJob>,
) -> Result<Vec<Result<Enqueued>>> {
    // Input and params travel as JSON strings inside the batch, so they are stored exactly
    // as serialized here rather than as SQLite re-renders them.
    let batch: Vec<Value> = jobs
        .iter()
        .map(|p| {
            debug_assert!(p.job.idempotency_key.is_none());
            serde_json::json!({
                "id": hex::encode(p.id.as_bytes()),
                "o": p.job.owner,
                "p": p.job.pipeline,
                "l": p.job.lane,
                "pr": p.job.priority,
                "m": p.job.max_attempts,
                "i": to_json(&p.job.input),
                "pa": to_json(&p.job.params),
                "h": p.request_hash,
            })
        })
        .collect();
    let now = now_micros();
    sqlx::query(
        "INSERT INTO jobs (id, owner, pipeline, lane, priority, state, attempt, max_attempts,
             input, params, request_hash, created_at, updated_at, run_at)
         SELECT unhex(value ->> '$.id'), value ->> '$.o', value ->> '$.p', value ->> '$.l',
             value ->> '$.pr', 'queued', 0, value ->> '$.m', value ->> '$.i',
             value ->> '$.pa', value ->> '$.h', ?1, ?1, ?1
         FROM json_each(?2)",
    )
    .bind(now)
    .bind(to_json(&batch))
    .execute(&mut *conn)
    .await
    .map_err(QueueError::db("inserting jobs"))?;
    Ok(jobs
        .into_iter()
        .map(|new| {
            let at = rows::time(&new.id.to_string(), "created_at", now)?;
            Ok(Enqueued {
                job: new.into_job(at),
                created: true,
            })
        })
        .collect())
}

/// Leases up to `limit` claimable jobs in `lanes` (all lanes when empty).
pub(super) async fn claim(
    conn: &mut SqliteConnection,
    worker: String,
    lanes: Vec<String>,
    limit: usize,
    lease_for: Duration,
) -> Result<Vec<Claimed>> {
    let now = now_micros();
    // The predicate repeats the partial indexes' `state IN (...)` verbatim so SQLite can
    // use them. One lane: `jobs_claim` yields rows in claim order. Several lanes or all:
    // walk `jobs_claim_any_lane` in claim order (`+lane` keeps the planner from picking
    // the lane index and sorting every waiting job of those lanes).
    let lane_filter = match lanes.len() {
        0 => "",
        1 => "AND lane = ?5 ->> '$[0]'",
        _ => "AND +lane IN (SELECT value FROM json_each(?5))",
    };
    let sql = format!(
        "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?1,
             lease_expires_at = ?2, started_at = ?3, updated_at = ?3,
             progress_processed = NULL, progress_total = NULL, progress_at = NULL
         WHERE id IN (SELECT id FROM jobs
                      WHERE state IN ('queued', 'retrying') {lane_filter} AND run_at <= ?3
                      ORDER BY priority DESC, run_at, created_at LIMIT ?4)
         RETURNING *"
    );
    let mut query = sqlx::query(&sql)
        .bind(&worker)
        .bind(now.saturating_add(duration_micros(lease_for)))
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX));
    if !lanes.is_empty() {
        query = query.bind(to_json(&lanes));
    }
    let found = query
        .fetch_all(&mut *conn)
        .await
        .map_err(QueueError::db("claiming jobs"))?;
    let mut jobs = found.iter().map(rows::job).collect::<Result<Vec<Job>>>()?;
    // RETURNING yields rows in no particular order; hand them out in claim order.
    jobs.sort_by(|a, b| {
        (b.priority, a.run_at, a.created_at).cmp(&(a.priority, b.run_at, b.created_at))
    });
    Ok(jobs
        .into_iter()
        .map(|job| Claimed {
            lease: Lease {
                job_id: job.id,
                owner: worker.clone(),
                attempt: job.attempt,
            },
            job,
        })
        .collect())
}

/// Extends a lease and reports whether cancellation was requested.
pub(super) async fn heartbeat(
    conn: &mut SqliteConnection,
    lease: Lease,
    lease_for: Duration,
) -> Result<Heartbeat> {
    let expires = now_micros().saturating_add(duration_micros(lease_for));
    let cancel: Option<bool> = sqlx::query_scalar(&format!(
        "UPDATE jobs SET lease_expires_at = ? WHERE {FENCE} RETURNING cancel_requested"
    ))
    .bind(expires)
    .bind(lease.job_id)
    .bind(&lease.owner)
    .bind(lease.attempt as i64)
    .fetch_optional(&mut *conn)
    .await
    .map_err(QueueError::db("renewing a lease"))?;
    match cancel {
        Some(cancel_requested) => Ok(Heartbeat { cancel_requested }),
        None => Err(lost(&lease)),
    }
}

/// Records progress of the leased attempt.
pub(super) async fn progress(
    conn: &mut SqliteConnection,
    lease: Lease,
    processed: u64,
    total: u64,
) -> Result<()> {
    let now = now_micros();
    let done = sqlx::query(&format!(
        "UPDATE jobs SET progress_processed = ?, progress_total = ?, progress_at = ?,
             updated_at = ? WHERE {FENCE}"
    ))
    .bind(i64::try_from(processed).unwrap_or(i64::MAX))
    .bind(i64::try_from(total).unwrap_or(i64::MAX))
    .bind(now)
    .bind(now)
    .bind(lease.job_id)
    .bind(&lease.owner)
    .bind(lease.attempt as i64)
    .execute(&mut *conn)
    .await
    .map_err(QueueError::db("recording progress"))?;
    if done.rows_affected() == 0 {
        return Err(lost(&lease));
    }
    Ok(())
}

/// Finishes the leased attempt in a terminal state (`succeeded` or `cancelled`).
pub(super) async fn finish(
    conn: &mut SqliteConnection,
    lease: &Lease,
    state: &'static str,
    result: Option<&Value>,
) -> Result<()> {
    let now = now_micros();
    let done = sqlx::query(&format!(
        "UPDATE jobs SET state = ?, result = ?, finished_at = ?, updated_at = ?,
             lease_expires_at = NULL WHERE {FENCE}"
    ))
    .bind(state)
    .bind(result.map(to_json))
    .bind(now)
    .bind(now)
    .bind(lease.job_id)
    .bind(&lease.owner)
    .bind(lease.attempt as i64)
    .execute(&mut *conn)
    .await
    .map_err(QueueError::db("finishing a job"))?;
    if done.rows_affected() == 0 {
        return Err(lost(lease));
    }
    Ok(())
}

/// Completes many leased attempts with one fenced statement; one result per input.
pub(super) async fn complete_many(
    conn: &mut SqliteConnection,
    done: Vec<(Lease, Value)>,
) -> Result<Vec<Result<()>>> {
    // One UPDATE joined with the batch as a JSON array instead of one UPDATE per job:
    // each statement is a round trip to sqlx's SQLite worker thread.
    let batch: Vec<Value> = done
        .iter()
        .map(|(lease, result)| {
            serde_json::json!({
                "id": hex::encode(lease.job_id.as_bytes()),
                "o": lease.owner,
                "a": lease.attempt,
                "r": result,
            })
        })
        .collect();
    let now = now_micros();
    let updated: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE jobs SET state = 'succeeded', result = d.value -> '$.r', finished_at = ?1,
             updated_at = ?1, lease_expires_at = NULL
         FROM json_each(?2) AS d
         WHERE jobs.id = unhex(d.value ->> '$.id') AND jobs.lease_owner = d.value ->> '$.o'
             AND jobs.attempt = d.value ->> '$.a' AND jobs.state = 'running'
         RETURNING jobs.id",
    )
    .bind(now)
    .bind(to_json(&batch))
    .fetch_all(&mut *conn)
    .await
    .map_err(QueueError::db("completing jobs"))?;
    let updated: std::collections::HashSet<Uuid> = updated.into_iter().collect();
    Ok(done
        .iter()
        .map(|(lease, _)| {
            if updated.contains(&lease.job_id) {
                Ok(())
            } else {
                Err(lost(lease))
            }
        })
        .collect())
}

/// Records a failed attempt: back to `retrying` after `delay`, or `failed`.
pub(super) async fn fail(
    conn: &mut SqliteConnection,
    lease: Lease,
    error: JobError,
    delay: Duration,
) -> Result<FailOutcome> {
    let now = now_micros();
    let retry_at = now.saturating_add(duration_micros(delay));
    // A job whose owner asked to cancel is not retried.
    let row: Option<(String, i64)> = sqlx::query_as(&format!(
        "UPDATE jobs SET
             state = CASE WHEN ?1 AND attempt < max_attempts AND NOT cancel_requested
                          THEN 'retrying' ELSE 'failed' END,
             run_at = CASE WHEN ?1 AND attempt < max_attempts AND NOT cancel_requested
                           THEN ?2 ELSE run_at END,
             finished_at = CASE WHEN ?1 AND attempt < max_attempts AND NOT cancel_requested
                                THEN NULL ELSE ?3 END,
             error = ?4, updated_at = ?3, lease_expires_at = NULL
         WHERE {FENCE_5}
         RETURNING state, run_at"
    ))
    .bind(error.retryable)
    .bind(retry_at)
    .bind(now)
    .bind(to_json(&error))
    .bind(lease.job_id)
    .bind(&lease.owner)
    .bind(lease.attempt as i64)
    .fetch_optional(&mut *conn)
    .await
    .map_err(QueueError::db("recording a failed attempt"))?;
    match row {
        None => Err(lost(&lease)),
        Some((state, run_at)) if state == "retrying" => Ok(FailOutcome::Retrying {
            run_at: chrono::DateTime::from_timestamp_micros(run_at).unwrap_or_default(),
        }),
        Some(_) => Ok(FailOutcome::Failed),
    }
}

/// The owner cancels: queued/retrying jobs end at once, running ones get a request.
pub(super) async fn cancel(
    conn: &mut SqliteConnection,
    id: Uuid,
    owner: String,
) -> Result<Option<Job>> {
    let now = now_micros();
    let row = sqlx::query(
        "UPDATE jobs SET
             state = CASE WHEN state IN ('queued', 'retrying') THEN 'cancelled' ELSE state END,
             finished_at = CASE WHEN state IN ('queued', 'retrying') THEN ?1 ELSE finished_at END,
             cancel_requested = CASE WHEN state = 'running' THEN 1 ELSE cancel_requested END,
             updated_at = CASE WHEN state IN ('queued', 'retrying', 'running') THEN ?1
                               ELSE updated_at END
         WHERE id = ?2 AND owner = ?3
         RETURNING *",
    )
    .bind(now)
    .bind(id)
    .bind(owner)
    .fetch_optional(&mut *conn)
    .await
    .map_err(QueueError::db("cancelling a job"))?;
    row.as_ref().map(rows::job).transpose()
}

/// Deletes one of the owner's jobs.
pub(super) async fn delete(conn: &mut SqliteConnection, id: Uuid, owner: String) -> Result<bool> {
    let done = sqlx::query("DELETE FROM jobs WHERE id = ? AND owner = ?")
        .bind(id)
        .bind(owner)
        .execute(&mut *conn)
        .await
        .map_err(QueueError::db("deleting a job"))?;
    Ok(done.rows_affected() > 0)
}

/// Expired leases: back to `retrying` (attempts left), else `failed`; a job whose owner
/// asked to cancel ends `cancelled` instead.
pub(super) async fn rescue_expired(conn: &mut SqliteConnection) -> Result<u64> {
    let now = now_micros();
    let done = sqlx::query(
        "UPDATE jobs SET
             state = CASE WHEN cancel_requested THEN 'cancelled'
                          WHEN attempt < max_attempts THEN 'retrying' ELSE 'failed' END,
             finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts
                                THEN ?1 ELSE NULL END,
             error = ?2, run_at = ?1, updated_at = ?1, lease_expires_at = NULL
         WHERE state = 'running' AND lease_expires_at < ?1",
    )
    .bind(now)
    .bind(to_json(&lease_expired_error()))
    .execute(&mut *conn)
    .await
    .map_err(QueueError::db("rescuing expired leases"))?;
    Ok(done.rows_affected())
}

/// Deletes up to `limit` terminal jobs finished before `before`; returns their ids.
pub(super) async fn prune_chunk(
    conn: &mut SqliteConnection,
    before: i64,
    limit: i64,
) -> Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "DELETE FROM jobs WHERE id IN (
             SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled')
                 AND finished_at < ? LIMIT ?)
         RETURNING id",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .map_err(QueueError::db("pruning finished jobs"))
}

/// Stores a new API key by its hash.
pub(super) async fn create_key(
    conn: &mut SqliteConnection,
    name: String,
    admin: bool,
    key_hash: String,
) -> Result<KeyInfo> {
    let row = sqlx::query(
        "INSERT INTO api_keys (id, name, admin, key_hash, created_at) VALUES (?, ?, ?, ?, ?)
         RETURNING *",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(admin)
    .bind(key_hash)
    .bind(now_micros())
    .fetch_one(&mut *conn)
    .await
    .map_err(QueueError::db("creating an API key"))?;
    rows::key(&row)
}
