//! Group commit for PostgreSQL enqueues: concurrent enqueues of this process are inserted
//! with one multi-row statement (one round trip, one commit; see [`crate::batch`]).
//!
//! Rows whose idempotency key already exists are skipped by `ON CONFLICT DO NOTHING` and
//! then resolved one by one through the ordinary path ([`super::ops::enqueue`]), which
//! returns the existing job or reports a conflict. Correctness still lives in the
//! database (the unique index), so processes on other hosts need no coordination.

use std::collections::HashMap;

use sqlx::PgPool;
use uuid::Uuid;

use super::{ops, rows};
use crate::batch::Batcher;
use crate::error::{QueueError, Result};
use crate::model::{Enqueued, Job};
use crate::prepared::PreparedJob;

/// Most jobs per INSERT statement.
const MAX_BATCH: usize = 1000;
/// Insert statements running at once (each holds one pooled connection).
const IN_FLIGHT: usize = 4;

/// Handle to the gathering task; cheap to clone. The task stops when all handles drop.
#[derive(Clone)]
pub(super) struct Gatherer {
    batcher: Batcher<PreparedJob, Enqueued>,
}

impl Gatherer {
    /// Starts the task on `pool`.
    pub(super) fn spawn(pool: PgPool) -> Gatherer {
        let batcher = Batcher::spawn(MAX_BATCH, IN_FLIGHT, move |jobs| {
            let pool = pool.clone();
            async move { insert_batch(&pool, jobs).await }
        });
        Gatherer { batcher }
    }

    /// Enqueues through the next batch.
    pub(super) async fn enqueue(&self, job: PreparedJob) -> Result<Enqueued> {
        self.batcher.call(job).await
    }
}

async fn insert_batch(pool: &PgPool, batch: Vec<PreparedJob>) -> Result<Vec<Result<Enqueued>>> {
    let inserted = insert_rows(pool, &batch).await?;
    let mut inserted: HashMap<Uuid, Job> = inserted.into_iter().map(|j| (j.id, j)).collect();
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch {
        answers.push(match inserted.remove(&job.id) {
            Some(job) => Ok(Enqueued { job, created: true }),
            // Skipped for an existing idempotency key: resolve it the slow way.
            None => ops::enqueue(pool, job).await,
        });
    }
    Ok(answers)
}

async fn insert_rows(pool: &PgPool, batch: &[PreparedJob]) -> Result<Vec<Job>> {
    let jobs = || batch.iter();
    let ids: Vec<Uuid> = jobs().map(|p| p.id).collect();
    let owners: Vec<&str> = jobs().map(|p| p.job.owner.as_str()).collect();
    let pipelines: Vec<&str> = jobs().map(|p| p.job.pipeline.as_str()).collect();
    let lanes: Vec<&str> = jobs().map(|p| p.job.lane.as_str()).collect();
    let priorities: Vec<i32> = jobs().map(|p| p.job.priority).collect();
    let attempts: Vec<i32> = jobs().map(|p| p.job.max_attempts as i32).collect();
    let inputs: Vec<&serde_json::Value> = jobs().map(|p| &p.job.input).collect();
    let params: Vec<&serde_json::Value> = jobs().map(|p| &p.job.params).collect();
    let keys: Vec<Option<&str>> = jobs().map(|p| p.job.idempotency_key.as_deref()).collect();
    let hashes: Vec<&str> = jobs().map(|p| p.request_hash.as_str()).collect();
    let found = sqlx::query(
        "INSERT INTO jobs (id, owner, pipeline, lane, priority, state, attempt, max_attempts,
             input, params, idempotency_key, request_hash, created_at, updated_at, run_at)
         SELECT id, owner, pipeline, lane, priority, 'queued', 0, max_attempts,
             input, params, idempotency_key, request_hash, now(), now(), now()
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[],
                     $7::jsonb[], $8::jsonb[], $9::text[], $10::text[])
             AS t(id, owner, pipeline, lane, priority, max_attempts, input, params,
                  idempotency_key, request_hash)
         ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
         RETURNING *",
    )
    .bind(&ids)
    .bind(&owners)
    .bind(&pipelines)
    .bind(&lanes)
    .bind(&priorities)
    .bind(&attempts)
    .bind(&inputs)
    .bind(&params)
    .bind(&keys)
    .bind(&hashes)
    .fetch_all(pool)
    .await
    .map_err(QueueError::db("inserting a batch of jobs"))?;
    found.iter().map(rows::job).collect()
}
