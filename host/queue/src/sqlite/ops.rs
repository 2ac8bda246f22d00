//! SQLite write operations. Each runs on the writer thread inside its batch transaction
//! (see `writer.rs`), so none of them opens a transaction of its own, and none writes
//! before returning a non-database error. Statements are prepared once per connection
//! (`prepare_cached`).

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Params, params};
use uuid::Uuid;

use super::rows::{self, JOB_COLUMNS, KEY_COLUMNS, now_micros};
use crate::error::{QueueError, Result};
use crate::keys::KeyInfo;
use crate::model::{Claimed, Enqueued, FailOutcome, Heartbeat, Job, JobError, Lease};
use crate::prepared::{PreparedJob, duration_micros, lease_expired_error};

/// The fence every worker write carries: only the current holder of a running attempt.
/// Its parameters are numbered `?1..?3` (job id, lease owner, attempt); statements number
/// their own parameters from `?4`.
const FENCE: &str = "id = ?1 AND lease_owner = ?2 AND attempt = ?3 AND state = 'running'";

fn lost(lease: &Lease) -> QueueError {
    QueueError::LeaseLost {
        job_id: lease.job_id,
        owner: lease.owner.clone(),
        attempt: lease.attempt,
    }
}

/// JSON text of a value. Callers serialize before handing an operation to the writer, so
/// the one writer thread spends its time in SQLite only.
pub(super) fn to_json(value: &impl serde::Serialize) -> String {
    // Serializing a `Value` or a plain struct of strings cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

/// Runs a job-returning statement and decodes every row.
fn query_jobs(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    context: &'static str,
) -> Result<Vec<Job>> {
    let mut statement = conn.prepare_cached(sql).map_err(QueueError::db(context))?;
    let mut found = statement.query(params).map_err(QueueError::db(context))?;
    let mut jobs = Vec::new();
    while let Some(row) = found.next().map_err(QueueError::db(context))? {
        jobs.push(rows::job(row)?);
    }
    Ok(jobs)
}

/// Runs a fenced statement for `lease`; `LeaseLost` when it changed no row.
fn fenced(conn: &Connection, sql: &str, params: impl Params, lease: &Lease) -> Result<()> {
    let changed = conn
        .prepare_cached(sql)
        .and_then(|mut s| s.execute(params))
        .map_err(QueueError::db("writing a leased job"))?;
    if changed == 0 {
        return Err(lost(lease));
    }
    Ok(())
}

/// A job to insert, with its input and params already serialized.
pub(super) struct NewRow {
    pub job: PreparedJob,
    pub input: String,
    pub params: String,
}

impl NewRow {
    pub(super) fn new(job: PreparedJob) -> NewRow {
        NewRow {
            input: to_json(&job.job.input),
            params: to_json(&job.job.params),
            job,
        }
    }
}

/// Inserts a job, or returns the existing one for a repeated idempotency key.
pub(super) fn enqueue(conn: &Connection, row: NewRow) -> Result<Enqueued> {
    let NewRow {
        job: new,
        input,
        params,
    } = row;
    let job = &new.job;
    if let Some(key) = &job.idempotency_key {
        let existing = conn
            .prepare_cached(&format!(
                "SELECT request_hash, {JOB_COLUMNS} FROM jobs
                 WHERE owner = ? AND idempotency_key = ?"
            ))
            .and_then(|mut s| {
                s.query_row(params![job.owner, key], |row| {
                    Ok((row.get::<_, Option<String>>(0)?, rows::job_at(row, 1)))
                })
                .optional()
            })
            .map_err(QueueError::db("looking up an idempotency key"))?;
        if let Some((hash, existing)) = existing {
            let existing = existing?;
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
    conn.prepare_cached(
        "INSERT INTO jobs (id, owner, pipeline, lane, priority, state, attempt, max_attempts,
             input, params, idempotency_key, request_hash, created_at, updated_at, run_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'queued', 0, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?11)",
    )
    .and_then(|mut s| {
        s.execute(params![
            new.id,
            job.owner,
            job.pipeline,
            job.lane,
            job.priority,
            job.max_attempts,
            input,
            params,
            job.idempotency_key,
            new.request_hash,
            now,
        ])
    })
    .map_err(QueueError::db("inserting a job"))?;
    // Built here rather than decoded from `RETURNING`: re-parsing the JSON just written
    // would be a large share of the writer's time at thousands of inserts per second.
    let at = rows::time(&new.id.to_string(), "created_at", now)?;
    Ok(Enqueued {
        job: new.into_job(at),
        created: true,
    })
}

/// Leases up to `limit` claimable jobs in `lanes` (all lanes when empty).
pub(super) fn claim(
    conn: &Connection,
    worker: &str,
    lanes: &[String],
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
        1 => "AND lane = ?5",
        _ => "AND +lane IN (SELECT value FROM json_each(?5))",
    };
    let sql = format!(
        "UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?1,
             lease_expires_at = ?2, started_at = ?3, updated_at = ?3,
             progress_processed = NULL, progress_total = NULL, progress_at = NULL
         WHERE id IN (SELECT id FROM jobs
                      WHERE state IN ('queued', 'retrying') {lane_filter} AND run_at <= ?3
                      ORDER BY priority DESC, run_at, created_at LIMIT ?4)
         RETURNING {JOB_COLUMNS}"
    );
    let expires = now.saturating_add(duration_micros(lease_for));
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let context = "claiming jobs";
    let mut jobs = match lanes {
        [] => query_jobs(conn, &sql, params![worker, expires, now, limit], context)?,
        [lane] => query_jobs(
            conn,
            &sql,
            params![worker, expires, now, limit, lane],
            context,
        )?,
        _ => {
            let lanes = to_json(&lanes);
            query_jobs(
                conn,
                &sql,
                params![worker, expires, now, limit, lanes],
                context,
            )?
        }
    };
    // RETURNING yields rows in no particular order; hand them out in claim order.
    jobs.sort_by(|a, b| {
        (b.priority, a.run_at, a.created_at).cmp(&(a.priority, b.run_at, b.created_at))
    });
    Ok(jobs
        .into_iter()
        .map(|job| Claimed {
            lease: Lease {
                job_id: job.id,
                owner: worker.to_owned(),
                attempt: job.attempt,
            },
            job,
        })
        .collect())
}

/// Extends a lease and reports whether cancellation was requested.
pub(super) fn heartbeat(
    conn: &Connection,
    lease: &Lease,
    lease_for: Duration,
) -> Result<Heartbeat> {
    let expires = now_micros().saturating_add(duration_micros(lease_for));
    let cancel: Option<bool> = conn
        .prepare_cached(&format!(
            "UPDATE jobs SET lease_expires_at = ?4 WHERE {FENCE} RETURNING cancel_requested"
        ))
        .and_then(|mut s| {
            s.query_row(
                params![lease.job_id, lease.owner, lease.attempt, expires],
                |row| row.get(0),
            )
            .optional()
        })
        .map_err(QueueError::db("renewing a lease"))?;
    match cancel {
        Some(cancel_requested) => Ok(Heartbeat { cancel_requested }),
        None => Err(lost(lease)),
    }
}

/// Records progress of the leased attempt.
pub(super) fn progress(conn: &Connection, lease: &Lease, processed: u64, total: u64) -> Result<()> {
    let sql = format!(
        "UPDATE jobs SET progress_processed = ?4, progress_total = ?5, progress_at = ?6,
             updated_at = ?6 WHERE {FENCE}"
    );
    let params = params![
        lease.job_id,
        lease.owner,
        lease.attempt,
        i64::try_from(processed).unwrap_or(i64::MAX),
        i64::try_from(total).unwrap_or(i64::MAX),
        now_micros(),
    ];
    fenced(conn, &sql, params, lease)
}

/// Finishes the leased attempt in a terminal state (`succeeded` or `cancelled`) with the
/// JSON text of its result.
pub(super) fn finish(
    conn: &Connection,
    lease: &Lease,
    state: &'static str,
    result: Option<&str>,
) -> Result<()> {
    let sql = format!(
        "UPDATE jobs SET state = ?4, result = ?5, finished_at = ?6, updated_at = ?6,
             lease_expires_at = NULL WHERE {FENCE}"
    );
    let params = params![
        lease.job_id,
        lease.owner,
        lease.attempt,
        state,
        result,
        now_micros(),
    ];
    fenced(conn, &sql, params, lease)
}

/// Completes many leased attempts; one result per input (a stale lease fails only its
/// own entry).
pub(super) fn complete_many(
    conn: &Connection,
    done: &[(Lease, String)],
) -> Result<Vec<Result<()>>> {
    let mut answers = Vec::with_capacity(done.len());
    for (lease, result) in done {
        match finish(conn, lease, "succeeded", Some(result)) {
            Err(error @ QueueError::Database { .. }) => return Err(error),
            answer => answers.push(answer),
        }
    }
    Ok(answers)
}

/// Records a failed attempt: back to `retrying` after `delay`, or `failed`.
pub(super) fn fail(
    conn: &Connection,
    lease: &Lease,
    error: &JobError,
    delay: Duration,
) -> Result<FailOutcome> {
    let now = now_micros();
    let retry_at = now.saturating_add(duration_micros(delay));
    // A job whose owner asked to cancel is not retried.
    let row: Option<(String, i64)> = conn
        .prepare_cached(&format!(
            "UPDATE jobs SET
                 state = CASE WHEN ?4 AND attempt < max_attempts AND NOT cancel_requested
                              THEN 'retrying' ELSE 'failed' END,
                 run_at = CASE WHEN ?4 AND attempt < max_attempts AND NOT cancel_requested
                               THEN ?5 ELSE run_at END,
                 finished_at = CASE WHEN ?4 AND attempt < max_attempts AND NOT cancel_requested
                                    THEN NULL ELSE ?6 END,
                 error = ?7, updated_at = ?6, lease_expires_at = NULL
             WHERE {FENCE}
             RETURNING state, run_at"
        ))
        .and_then(|mut s| {
            s.query_row(
                params![
                    lease.job_id,
                    lease.owner,
                    lease.attempt,
                    error.retryable,
                    retry_at,
                    now,
                    to_json(error),
                ],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
        })
        .map_err(QueueError::db("recording a failed attempt"))?;
    match row {
        None => Err(lost(lease)),
        Some((state, run_at)) if state == "retrying" => Ok(FailOutcome::Retrying {
            run_at: chrono::DateTime::from_timestamp_micros(run_at).unwrap_or_default(),
        }),
        Some(_) => Ok(FailOutcome::Failed),
    }
}

/// The owner cancels: queued/retrying jobs end at once, running ones get a request.
pub(super) fn cancel(conn: &Connection, id: Uuid, owner: &str) -> Result<Option<Job>> {
    let sql = format!(
        "UPDATE jobs SET
             state = CASE WHEN state IN ('queued', 'retrying') THEN 'cancelled' ELSE state END,
             finished_at = CASE WHEN state IN ('queued', 'retrying') THEN ?1 ELSE finished_at END,
             cancel_requested = CASE WHEN state = 'running' THEN 1 ELSE cancel_requested END,
             updated_at = CASE WHEN state IN ('queued', 'retrying', 'running') THEN ?1
                               ELSE updated_at END
         WHERE id = ?2 AND owner = ?3
         RETURNING {JOB_COLUMNS}"
    );
    let jobs = query_jobs(
        conn,
        &sql,
        params![now_micros(), id, owner],
        "cancelling a job",
    )?;
    Ok(jobs.into_iter().next())
}

/// Deletes one of the owner's jobs.
pub(super) fn delete(conn: &Connection, id: Uuid, owner: &str) -> Result<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM jobs WHERE id = ? AND owner = ?")
        .and_then(|mut s| s.execute(params![id, owner]))
        .map_err(QueueError::db("deleting a job"))?;
    Ok(deleted > 0)
}

/// Expired leases: back to `retrying` (attempts left), else `failed`; a job whose owner
/// asked to cancel ends `cancelled` instead.
pub(super) fn rescue_expired(conn: &Connection) -> Result<u64> {
    let rescued = conn
        .prepare_cached(
            "UPDATE jobs SET
                 state = CASE WHEN cancel_requested THEN 'cancelled'
                              WHEN attempt < max_attempts THEN 'retrying' ELSE 'failed' END,
                 finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts
                                    THEN ?1 ELSE NULL END,
                 error = ?2, run_at = ?1, updated_at = ?1, lease_expires_at = NULL
             WHERE state = 'running' AND lease_expires_at < ?1",
        )
        .and_then(|mut s| s.execute(params![now_micros(), to_json(&lease_expired_error())]))
        .map_err(QueueError::db("rescuing expired leases"))?;
    Ok(rescued as u64)
}

/// Deletes up to `limit` terminal jobs finished before `before`; returns their ids.
pub(super) fn prune_chunk(conn: &Connection, before: i64, limit: i64) -> Result<Vec<Uuid>> {
    let context = "pruning finished jobs";
    let mut statement = conn
        .prepare_cached(
            "DELETE FROM jobs WHERE id IN (
                 SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled')
                     AND finished_at < ? LIMIT ?)
             RETURNING id",
        )
        .map_err(QueueError::db(context))?;
    let ids = statement
        .query_map(params![before, limit], |row| row.get(0))
        .and_then(|ids| ids.collect::<rusqlite::Result<Vec<Uuid>>>())
        .map_err(QueueError::db(context))?;
    Ok(ids)
}

/// Stores a new API key by its hash.
pub(super) fn create_key(
    conn: &Connection,
    name: &str,
    admin: bool,
    key_hash: &str,
    expires_at: Option<i64>,
) -> Result<KeyInfo> {
    conn.prepare_cached(&format!(
        "INSERT INTO api_keys (id, name, admin, key_hash, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING {KEY_COLUMNS}"
    ))
    .and_then(|mut s| {
        s.query_row(
            params![
                Uuid::now_v7(),
                name,
                admin,
                key_hash,
                now_micros(),
                expires_at
            ],
            |row| Ok(rows::key(row)),
        )
    })
    .map_err(QueueError::db("creating an API key"))?
}
