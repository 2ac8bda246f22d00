//! PostgreSQL write operations. Every timestamp is the database's `now()`, so processes
//! on different hosts agree on lease expiry and `run_at`. No in-process state is needed
//! for correctness: claims lock rows (`FOR UPDATE SKIP LOCKED`), worker writes are fenced.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use super::rows;
use crate::error::{QueueError, Result};
use crate::model::{Claimed, Enqueued, FailOutcome, Heartbeat, Job, JobError, Lease};
use crate::prepared::{PreparedJob, duration_micros, lease_expired_error};

/// A statement with its parameters bound so far.
type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The fence every worker write carries, with the lease in `$1..$3`.
const FENCE: &str = "id = $1 AND lease_owner = $2 AND attempt = $3 AND state = 'running'";

fn lost(lease: &Lease) -> QueueError {
    QueueError::LeaseLost {
        job_id: lease.job_id,
        owner: lease.owner.clone(),
        attempt: lease.attempt,
    }
}

fn attempt(lease: &Lease) -> i32 {
    i32::try_from(lease.attempt).unwrap_or(i32::MAX)
}

/// Inserts a job, or returns the existing one for a repeated idempotency key.
pub(super) async fn enqueue(pool: &PgPool, new: PreparedJob) -> Result<Enqueued> {
    let job = &new.job;
    // Loops only if the conflicting job is deleted between our insert and our read.
    for _ in 0..3 {
        let inserted = sqlx::query(
            "INSERT INTO jobs (id, owner, pipeline, lane, priority, state, attempt, max_attempts,
                 input, params, idempotency_key, request_hash, created_at, updated_at, run_at)
             VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $9, $10, now(), now(), now())
             ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
             RETURNING *",
        )
        .bind(new.id)
        .bind(&job.owner)
        .bind(&job.pipeline)
        .bind(&job.lane)
        .bind(job.priority)
        .bind(job.max_attempts as i32)
        .bind(&job.input)
        .bind(&job.params)
        .bind(&job.idempotency_key)
        .bind(&new.request_hash)
        .fetch_optional(pool)
        .await
        .map_err(QueueError::db("inserting a job"))?;
        if let Some(row) = inserted {
            return Ok(Enqueued {
                job: rows::job(&row)?,
                created: true,
            });
        }
        // ON CONFLICT waited for the other insert to commit, so a fresh statement sees it.
        let key = job.idempotency_key.as_deref().unwrap_or_default();
        let existing = sqlx::query("SELECT * FROM jobs WHERE owner = $1 AND idempotency_key = $2")
            .bind(&job.owner)
            .bind(key)
            .fetch_optional(pool)
            .await
            .map_err(QueueError::db("looking up an idempotency key"))?;
        let Some(row) = existing else { continue };
        let hash: Option<String> = sqlx::Row::try_get(&row, "request_hash")
            .map_err(QueueError::db("looking up an idempotency key"))?;
        let existing = rows::job(&row)?;
        if hash.as_deref() != Some(new.request_hash.as_str()) {
            return Err(QueueError::IdempotencyConflict {
                key: key.to_owned(),
                existing: existing.id,
            });
        }
        return Ok(Enqueued {
            job: existing,
            created: false,
        });
    }
    Err(QueueError::InvalidArgument(
        "idempotency key kept changing hands during enqueue; retry the request".into(),
    ))
}

/// The claim statement for `lanes` lanes (0 = every lane). Parameters: `$1` limit, `$2`
/// worker, `$3` lease in microseconds, `$4` the lane (one) or lanes (several).
pub(super) fn claim_sql(lanes: usize) -> String {
    format!("WITH {} SELECT * FROM claimed", claim_ctes(lanes, 1))
}

/// The claim as two CTEs, `next` (the rows to lease) and `claimed` (the leased rows), with
/// its parameters numbered from `$first` in [`claim_sql`]'s order.
fn claim_ctes(lanes: usize, first: usize) -> String {
    let [limit, worker, lease, lane] = [first, first + 1, first + 2, first + 3];
    // One lane (what workers ask for): equality, so `jobs_claim` yields rows already in
    // claim order and the LIMIT stops the scan. `lane = ANY(...)` makes PostgreSQL fetch
    // and sort every waiting job of the lanes on each claim (8 ms at 3,000 waiting vs
    // 0.06 ms), a cost that grows with the backlog.
    let lane_filter = match lanes {
        0 => String::new(),
        1 => format!("AND lane = ${lane}"),
        _ => format!("AND lane = ANY(${lane})"),
    };
    // SKIP LOCKED: concurrent claimers take different rows instead of queueing on locks.
    // `= ANY(ARRAY(...))`: the ids come as one array probed in the primary key, whatever
    // the plan guesses for LIMIT; a join of `next` is planned, in the generic plan, as a
    // hash join over a scan of the whole table.
    format!(
        "next AS (
             SELECT id FROM jobs
             WHERE state IN ('queued', 'retrying') {lane_filter} AND run_at <= now()
             ORDER BY priority DESC, run_at, created_at
             LIMIT ${limit} FOR UPDATE SKIP LOCKED),
         claimed AS (
             UPDATE jobs SET state = 'running', attempt = jobs.attempt + 1,
                 lease_owner = ${worker},
                 lease_expires_at = now() + ${lease} * interval '1 microsecond',
                 started_at = now(), updated_at = now(),
                 progress_processed = NULL, progress_total = NULL, progress_at = NULL
             WHERE jobs.id = ANY(ARRAY(SELECT id FROM next))
             RETURNING jobs.*)"
    )
}

/// Binds a claim's parameters, in [`claim_sql`]'s order, after those already bound.
fn bind_claim<'q>(
    query: PgQuery<'q>,
    worker: &str,
    lanes: &[String],
    limit: usize,
    lease_for: Duration,
) -> PgQuery<'q> {
    let query = query
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind(worker.to_owned())
        .bind(duration_micros(lease_for));
    // Owned: binding a borrowed slice makes the future's `Send` depend on a higher-ranked
    // lifetime that rustc cannot prove, breaking `tokio::spawn` callers.
    match lanes {
        [] => query,
        [lane] => query.bind(lane.clone()),
        _ => query.bind(lanes.to_vec()),
    }
}

/// Leases in claim order, from the rows of `claimed`.
fn leased(worker: &str, mut jobs: Vec<Job>) -> Vec<Claimed> {
    jobs.sort_by(|a, b| {
        (b.priority, a.run_at, a.created_at).cmp(&(a.priority, b.run_at, b.created_at))
    });
    jobs.into_iter()
        .map(|job| Claimed {
            lease: Lease {
                job_id: job.id,
                owner: worker.to_owned(),
                attempt: job.attempt,
            },
            job,
        })
        .collect()
}

/// Leases up to `limit` claimable jobs in `lanes` (all lanes when empty).
pub(super) async fn claim(
    pool: &PgPool,
    worker: &str,
    lanes: &[String],
    limit: usize,
    lease_for: Duration,
) -> Result<Vec<Claimed>> {
    let sql = claim_sql(lanes.len());
    let found = bind_claim(sqlx::query(&sql), worker, lanes, limit, lease_for)
        .fetch_all(pool)
        .await
        .map_err(QueueError::db("claiming jobs"))?;
    let jobs = found.iter().map(rows::job).collect::<Result<Vec<Job>>>()?;
    Ok(leased(worker, jobs))
}

/// The fenced completion of `$1..$4` (ids, lease owners, attempts, results) as the CTE
/// `done`, which returns the ids it completed.
const COMPLETE_CTE: &str = "done AS (
    UPDATE jobs SET state = 'succeeded', result = d.result, finished_at = now(),
        updated_at = now(), lease_expires_at = NULL
    FROM unnest($1::uuid[], $2::text[], $3::int[], $4::jsonb[]) AS d(id, owner, attempt, result)
    WHERE jobs.id = d.id AND jobs.lease_owner = d.owner AND jobs.attempt = d.attempt
        AND jobs.state = 'running'
    RETURNING jobs.id)";

/// Binds `done` as [`COMPLETE_CTE`]'s four arrays (owners and results by reference: a
/// result can be large, and it is only encoded).
fn bind_completions<'q>(query: PgQuery<'q>, done: &'q [(Lease, Value)]) -> PgQuery<'q> {
    let ids: Vec<Uuid> = done.iter().map(|(l, _)| l.job_id).collect();
    let owners: Vec<&str> = done.iter().map(|(l, _)| l.owner.as_str()).collect();
    let attempts: Vec<i32> = done.iter().map(|(l, _)| attempt(l)).collect();
    let results: Vec<&Value> = done.iter().map(|(_, r)| r).collect();
    query.bind(ids).bind(owners).bind(attempts).bind(results)
}

/// One answer per completion: `Ok` if `updated` holds its id, else its lease was lost.
fn completion_answers(done: &[(Lease, Value)], updated: HashSet<Uuid>) -> Vec<Result<()>> {
    done.iter()
        .map(|(lease, _)| {
            if updated.contains(&lease.job_id) {
                Ok(())
            } else {
                Err(lost(lease))
            }
        })
        .collect()
}

/// Completes `done` and leases up to `limit` more jobs in one statement: one round trip
/// and one commit where a worker would otherwise spend two.
pub(super) async fn complete_and_claim(
    pool: &PgPool,
    done: &[(Lease, Value)],
    worker: &str,
    lanes: &[String],
    limit: usize,
    lease_for: Duration,
) -> Result<(Vec<Result<()>>, Vec<Claimed>)> {
    // Both halves in one result: the claimed rows, then one row per completed id with the
    // job columns NULL.
    let sql = format!(
        "WITH {COMPLETE_CTE}, {}
         SELECT claimed.*, NULL::uuid AS done_id FROM claimed
         UNION ALL
         SELECT (NULL::jobs).*, done.id FROM done",
        claim_ctes(lanes.len(), 5)
    );
    let query = bind_completions(sqlx::query(&sql), done);
    let found = bind_claim(query, worker, lanes, limit, lease_for)
        .fetch_all(pool)
        .await
        .map_err(QueueError::db("completing and claiming jobs"))?;
    let mut updated = HashSet::new();
    let mut jobs = Vec::new();
    for row in &found {
        let done_id: Option<Uuid> = sqlx::Row::try_get(row, "done_id")
            .map_err(QueueError::db("completing and claiming jobs"))?;
        match done_id {
            Some(id) => {
                updated.insert(id);
            }
            None => jobs.push(rows::job(row)?),
        }
    }
    Ok((completion_answers(done, updated), leased(worker, jobs)))
}

/// Extends a lease and reports whether cancellation was requested.
pub(super) async fn heartbeat(
    pool: &PgPool,
    lease: &Lease,
    lease_for: Duration,
) -> Result<Heartbeat> {
    let cancel: Option<bool> = sqlx::query_scalar(&format!(
        "UPDATE jobs SET lease_expires_at = now() + $4 * interval '1 microsecond'
         WHERE {FENCE} RETURNING cancel_requested"
    ))
    .bind(lease.job_id)
    .bind(&lease.owner)
    .bind(attempt(lease))
    .bind(duration_micros(lease_for))
    .fetch_optional(pool)
    .await
    .map_err(QueueError::db("renewing a lease"))?;
    cancel
        .map(|cancel_requested| Heartbeat { cancel_requested })
        .ok_or_else(|| lost(lease))
}

/// Records progress of the leased attempt.
pub(super) async fn progress(
    pool: &PgPool,
    lease: &Lease,
    processed: u64,
    total: u64,
) -> Result<()> {
    let done = sqlx::query(&format!(
        "UPDATE jobs SET progress_processed = $4, progress_total = $5, progress_at = now(),
             updated_at = now() WHERE {FENCE}"
    ))
    .bind(lease.job_id)
    .bind(&lease.owner)
    .bind(attempt(lease))
    .bind(i64::try_from(processed).unwrap_or(i64::MAX))
    .bind(i64::try_from(total).unwrap_or(i64::MAX))
    .execute(pool)
    .await
    .map_err(QueueError::db("recording progress"))?;
    if done.rows_affected() == 0 {
        return Err(lost(lease));
    }
    Ok(())
}

/// Finishes the leased attempt in a terminal state (`succeeded` or `cancelled`).
pub(super) async fn finish(
    pool: &PgPool,
    lease: &Lease,
    state: &'static str,
    result: Option<&Value>,
) -> Result<()> {
    let done = sqlx::query(&format!(
        "UPDATE jobs SET state = $4, result = $5, finished_at = now(), updated_at = now(),
             lease_expires_at = NULL WHERE {FENCE}"
    ))
    .bind(lease.job_id)
    .bind(&lease.owner)
    .bind(attempt(lease))
    .bind(state)
    .bind(result)
    .execute(pool)
    .await
    .map_err(QueueError::db("finishing a job"))?;
    if done.rows_affected() == 0 {
        return Err(lost(lease));
    }
    Ok(())
}

/// Completes many attempts with one fenced statement (one round trip, one commit).
pub(super) async fn complete_many(
    pool: &PgPool,
    done: Vec<(Lease, Value)>,
) -> Result<Vec<Result<()>>> {
    let sql = format!("WITH {COMPLETE_CTE} SELECT id FROM done");
    let rows = bind_completions(sqlx::query(&sql), &done)
        .fetch_all(pool)
        .await
        .map_err(QueueError::db("completing jobs"))?;
    let updated = rows
        .iter()
        .map(|row| sqlx::Row::try_get::<Uuid, _>(row, 0))
        .collect::<std::result::Result<_, _>>()
        .map_err(QueueError::db("completing jobs"))?;
    Ok(completion_answers(&done, updated))
}

/// Records a failed attempt: back to `retrying` after `delay`, or `failed`.
pub(super) async fn fail(
    pool: &PgPool,
    lease: &Lease,
    error: JobError,
    delay: Duration,
) -> Result<FailOutcome> {
    let row: Option<(String, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(&format!(
        "UPDATE jobs SET
             state = CASE WHEN $4 AND attempt < max_attempts AND NOT cancel_requested
                          THEN 'retrying' ELSE 'failed' END,
             run_at = CASE WHEN $4 AND attempt < max_attempts AND NOT cancel_requested
                           THEN now() + $5 * interval '1 microsecond' ELSE run_at END,
             finished_at = CASE WHEN $4 AND attempt < max_attempts AND NOT cancel_requested
                                THEN NULL ELSE now() END,
             error = $6, updated_at = now(), lease_expires_at = NULL
         WHERE {FENCE}
         RETURNING state, run_at"
    ))
    .bind(lease.job_id)
    .bind(&lease.owner)
    .bind(attempt(lease))
    .bind(error.retryable)
    .bind(duration_micros(delay))
    .bind(Json(&error))
    .fetch_optional(pool)
    .await
    .map_err(QueueError::db("recording a failed attempt"))?;
    match row {
        None => Err(lost(lease)),
        Some((state, run_at)) if state == "retrying" => Ok(FailOutcome::Retrying { run_at }),
        Some(_) => Ok(FailOutcome::Failed),
    }
}

/// The owner cancels: queued/retrying jobs end at once, running ones get a request.
pub(super) async fn cancel(pool: &PgPool, id: Uuid, owner: &str) -> Result<Option<Job>> {
    let row = sqlx::query(
        "UPDATE jobs SET
             state = CASE WHEN state IN ('queued', 'retrying') THEN 'cancelled' ELSE state END,
             finished_at = CASE WHEN state IN ('queued', 'retrying') THEN now()
                                ELSE finished_at END,
             cancel_requested = (state = 'running') OR cancel_requested,
             updated_at = CASE WHEN state IN ('queued', 'retrying', 'running') THEN now()
                               ELSE updated_at END
         WHERE id = $1 AND owner = $2
         RETURNING *",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await
    .map_err(QueueError::db("cancelling a job"))?;
    row.as_ref().map(rows::job).transpose()
}

/// Expired leases: back to `retrying` (attempts left), else `failed`; a job whose owner
/// asked to cancel ends `cancelled`.
pub(super) async fn rescue_expired(pool: &PgPool) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE jobs SET
             state = CASE WHEN cancel_requested THEN 'cancelled'
                          WHEN attempt < max_attempts THEN 'retrying' ELSE 'failed' END,
             finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts
                                THEN now() ELSE NULL END,
             error = $1, run_at = now(), updated_at = now(), lease_expires_at = NULL
         WHERE state = 'running' AND lease_expires_at < now()",
    )
    .bind(Json(lease_expired_error()))
    .execute(pool)
    .await
    .map_err(QueueError::db("rescuing expired leases"))?;
    if done.rows_affected() > 0 {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(super::listen::CHANNEL)
            .execute(pool)
            .await
            .map_err(QueueError::db("notifying workers"))?;
    }
    Ok(done.rows_affected())
}

/// Deletes up to `limit` terminal jobs finished before `before`; returns their ids.
pub(super) async fn prune_chunk(
    pool: &PgPool,
    before: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "DELETE FROM jobs WHERE id IN (
             SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled')
                 AND finished_at < $1 LIMIT $2)
         RETURNING id",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(QueueError::db("pruning finished jobs"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    /// The plan of a claim over a backlog: `(sorts, most rows one scan returns)`, from
    /// `EXPLAIN (ANALYZE, FORMAT JSON)` of the prepared claim inside a transaction that is
    /// rolled back. Prepared, so that the plan is the one the store's connections run
    /// (the cached generic plan, see [`super::super::GENERIC_PLANS`]).
    async fn claim_plan(conn: &mut sqlx::PgConnection, lane: &str) -> (bool, i64) {
        let mut tx = conn.begin().await.unwrap();
        let prepare = format!(
            "PREPARE claim(bigint, text, bigint, text) AS {}",
            claim_sql(1)
        );
        sqlx::raw_sql(&prepare).execute(&mut *tx).await.unwrap();
        let plan: Value = sqlx::query_scalar(&format!(
            "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE claim(4, 'w', 30000000, '{lane}')"
        ))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        tx.rollback().await.unwrap();
        let (mut sorts, mut scanned) = (false, 0);
        let mut stack = vec![plan];
        while let Some(node) = stack.pop() {
            match node {
                Value::Array(items) => stack.extend(items),
                Value::Object(map) => {
                    let kind = map.get("Node Type").and_then(Value::as_str).unwrap_or("");
                    sorts |= kind == "Sort";
                    if kind.contains("Scan") && kind != "CTE Scan" {
                        let rows = map.get("Actual Rows").and_then(Value::as_i64).unwrap_or(0);
                        scanned = scanned.max(rows);
                    }
                    stack.extend(map.into_iter().map(|(_, v)| v));
                }
                _ => {}
            }
        }
        (sorts, scanned)
    }

    /// A worker's claim (one lane) reads a few index entries however long the backlog,
    /// instead of fetching and sorting every waiting job.
    #[tokio::test]
    async fn a_one_lane_claim_does_not_scan_the_backlog() {
        let admin_url = framepipe_test_postgres::admin_url();
        let name = format!("framepipe_plan_{}", uuid::Uuid::now_v7().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let url = framepipe_test_postgres::database_url(&admin_url, &name);
        let store = crate::PgStore::open(&url).await.unwrap();
        let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
        let mut conn =
            sqlx::PgConnection::connect_with(&options.options([super::super::GENERIC_PLANS]))
                .await
                .unwrap();
        sqlx::query(
            "INSERT INTO jobs (id, owner, pipeline, lane, priority, state, max_attempts, input,
                 params, created_at, updated_at, run_at)
             SELECT gen_random_uuid(), 'o', 'noop', 'default', 0, 'queued', 3, '{}', '{}',
                 now() - i * interval '1 ms', now(), now() - i * interval '1 ms'
             FROM generate_series(1, 3000) AS i",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query("ANALYZE jobs")
            .execute(&mut conn)
            .await
            .unwrap();

        let (sorts, scanned) = claim_plan(&mut conn, "default").await;
        conn.close().await.unwrap();
        store.close().await;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
        // With `lane = ANY(...)` PostgreSQL 15 sorts here and its scan returns all 3,000;
        // with the leased rows joined back to `jobs`, the generic plan scans all 3,000.
        assert!(
            !sorts && scanned <= 8,
            "one-lane claim: sort {sorts}, a scan returned {scanned} rows"
        );
    }
}
