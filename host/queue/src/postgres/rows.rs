//! Decoding PostgreSQL rows.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::error::{QueueError, Result};
use crate::keys::KeyInfo;
use crate::model::{Job, JobError, JobState, Progress};

fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column)
        .map_err(QueueError::db("decoding a job row"))
}

/// Decodes a full `jobs` row (`SELECT *` / `RETURNING jobs.*`).
pub(super) fn job(row: &PgRow) -> Result<Job> {
    let id: Uuid = get(row, "id")?;
    let state: String = get(row, "state")?;
    let progress = match (
        get::<Option<i64>>(row, "progress_processed")?,
        get::<Option<i64>>(row, "progress_total")?,
        get::<Option<DateTime<Utc>>>(row, "progress_at")?,
    ) {
        (Some(processed), Some(total), Some(updated_at)) => Some(Progress {
            processed: processed.max(0) as u64,
            total: total.max(0) as u64,
            updated_at,
        }),
        _ => None,
    };
    Ok(Job {
        id,
        owner: get(row, "owner")?,
        pipeline: get(row, "pipeline")?,
        lane: get(row, "lane")?,
        priority: get(row, "priority")?,
        state: state.parse::<JobState>().map_err(|e| QueueError::Corrupt {
            id: id.to_string(),
            reason: e.to_string(),
        })?,
        attempt: get::<i32>(row, "attempt")?.max(0) as u32,
        max_attempts: get::<i32>(row, "max_attempts")?.max(0) as u32,
        input: get(row, "input")?,
        params: get(row, "params")?,
        result: get(row, "result")?,
        error: get::<Option<Json<JobError>>>(row, "error")?.map(|json| json.0),
        progress,
        cancel_requested: get(row, "cancel_requested")?,
        idempotency_key: get(row, "idempotency_key")?,
        lease_owner: get(row, "lease_owner")?,
        lease_expires_at: get(row, "lease_expires_at")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        started_at: get(row, "started_at")?,
        finished_at: get(row, "finished_at")?,
        run_at: get(row, "run_at")?,
    })
}

/// Decodes an `api_keys` row.
pub(super) fn key(row: &PgRow) -> Result<KeyInfo> {
    Ok(KeyInfo {
        id: get(row, "id")?,
        name: get(row, "name")?,
        admin: get(row, "admin")?,
        created_at: get(row, "created_at")?,
        expires_at: get(row, "expires_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}
