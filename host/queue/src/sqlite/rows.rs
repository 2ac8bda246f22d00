//! Decoding SQLite rows and the SQLite column encodings (micros, JSON text, BLOB ids).

use chrono::{DateTime, Utc};
use rusqlite::Row;
use rusqlite::types::FromSql;
use serde_json::Value;
use uuid::Uuid;

use crate::error::{QueueError, Result};
use crate::keys::KeyInfo;
use crate::model::{Job, JobError, JobState, Progress};

/// The `jobs` columns every job-returning statement selects, in the order [`job`] reads
/// them (`SELECT {JOB_COLUMNS}` / `RETURNING {JOB_COLUMNS}`).
pub(super) const JOB_COLUMNS: &str = "id, owner, pipeline, lane, priority, state, attempt, \
     max_attempts, input, params, result, error, progress_processed, progress_total, \
     progress_at, cancel_requested, idempotency_key, lease_owner, lease_expires_at, \
     created_at, updated_at, started_at, finished_at, run_at";

/// The `api_keys` columns [`key`] reads, in order.
pub(super) const KEY_COLUMNS: &str = "id, name, admin, created_at, expires_at, revoked_at";

/// Microseconds since the epoch, the stored form of every timestamp.
pub(super) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// The host clock in stored form.
pub(super) fn now_micros() -> i64 {
    micros(Utc::now())
}

fn corrupt(id: &str, reason: impl std::fmt::Display) -> QueueError {
    QueueError::Corrupt {
        id: id.to_owned(),
        reason: reason.to_string(),
    }
}

pub(super) fn time(id: &str, column: &str, value: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(value)
        .ok_or_else(|| corrupt(id, format!("{column} out of range: {value}")))
}

fn opt_time(id: &str, column: &str, value: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    value.map(|v| time(id, column, v)).transpose()
}

fn json(id: &str, column: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| corrupt(id, format!("{column} is not JSON: {e}")))
}

fn get<T: FromSql>(row: &Row<'_>, index: usize) -> Result<T> {
    row.get(index).map_err(QueueError::db("decoding a row"))
}

/// Decodes a `jobs` row selected as [`JOB_COLUMNS`].
pub(super) fn job(row: &Row<'_>) -> Result<Job> {
    job_at(row, 0)
}

/// Decodes [`JOB_COLUMNS`] starting at column `base`.
pub(super) fn job_at(row: &Row<'_>, base: usize) -> Result<Job> {
    let id: Uuid = get(row, base)?;
    let key = id.to_string();
    let key = key.as_str();
    let state: String = get(row, base + 5)?;
    let result: Option<String> = get(row, base + 10)?;
    let error: Option<String> = get(row, base + 11)?;
    let progress = match (
        get::<Option<i64>>(row, base + 12)?,
        get::<Option<i64>>(row, base + 13)?,
        get::<Option<i64>>(row, base + 14)?,
    ) {
        (Some(processed), Some(total), Some(at)) => Some(Progress {
            processed: processed.max(0) as u64,
            total: total.max(0) as u64,
            updated_at: time(key, "progress_at", at)?,
        }),
        _ => None,
    };
    Ok(Job {
        id,
        owner: get(row, base + 1)?,
        pipeline: get(row, base + 2)?,
        lane: get(row, base + 3)?,
        priority: get(row, base + 4)?,
        state: state.parse::<JobState>().map_err(|e| corrupt(key, e))?,
        attempt: get::<i64>(row, base + 6)? as u32,
        max_attempts: get::<i64>(row, base + 7)? as u32,
        input: json(key, "input", &get::<String>(row, base + 8)?)?,
        params: json(key, "params", &get::<String>(row, base + 9)?)?,
        result: result.map(|text| json(key, "result", &text)).transpose()?,
        error: error
            .map(|text| {
                serde_json::from_str::<JobError>(&text)
                    .map_err(|e| corrupt(key, format!("error is not a JobError: {e}")))
            })
            .transpose()?,
        progress,
        cancel_requested: get(row, base + 15)?,
        idempotency_key: get(row, base + 16)?,
        lease_owner: get(row, base + 17)?,
        lease_expires_at: opt_time(key, "lease_expires_at", get(row, base + 18)?)?,
        created_at: time(key, "created_at", get(row, base + 19)?)?,
        updated_at: time(key, "updated_at", get(row, base + 20)?)?,
        started_at: opt_time(key, "started_at", get(row, base + 21)?)?,
        finished_at: opt_time(key, "finished_at", get(row, base + 22)?)?,
        run_at: time(key, "run_at", get(row, base + 23)?)?,
    })
}

/// Decodes an `api_keys` row selected as [`KEY_COLUMNS`].
pub(super) fn key(row: &Row<'_>) -> Result<KeyInfo> {
    let id: Uuid = get(row, 0)?;
    Ok(KeyInfo {
        id,
        name: get(row, 1)?,
        admin: get(row, 2)?,
        created_at: time(&id.to_string(), "created_at", get(row, 3)?)?,
        expires_at: opt_time(&id.to_string(), "expires_at", get(row, 4)?)?,
        revoked_at: opt_time(&id.to_string(), "revoked_at", get(row, 5)?)?,
    })
}
