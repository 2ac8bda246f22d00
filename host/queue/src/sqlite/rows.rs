//! Decoding SQLite rows and the SQLite column encodings (micros, JSON text, BLOB ids).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::error::{QueueError, Result};
use crate::keys::KeyInfo;
use crate::model::{Job, JobError, JobState, Progress};

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

fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column)
        .map_err(QueueError::db("decoding a job row"))
}

/// Decodes a full `jobs` row (`SELECT *` / `RETURNING *`).
pub(super) fn job(row: &SqliteRow) -> Result<Job> {
    let id: Uuid = get(row, "id")?;
    let key = id.to_string();
    let key = key.as_str();
    let state: String = get(row, "state")?;
    let error: Option<String> = get(row, "error")?;
    let result: Option<String> = get(row, "result")?;
    let progress = match (
        get::<Option<i64>>(row, "progress_processed")?,
        get::<Option<i64>>(row, "progress_total")?,
        get::<Option<i64>>(row, "progress_at")?,
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
        owner: get(row, "owner")?,
        pipeline: get(row, "pipeline")?,
        lane: get(row, "lane")?,
        priority: get(row, "priority")?,
        state: state.parse::<JobState>().map_err(|e| corrupt(key, e))?,
        attempt: get::<i64>(row, "attempt")? as u32,
        max_attempts: get::<i64>(row, "max_attempts")? as u32,
        input: json(key, "input", &get::<String>(row, "input")?)?,
        params: json(key, "params", &get::<String>(row, "params")?)?,
        result: result.map(|text| json(key, "result", &text)).transpose()?,
        error: error
            .map(|text| {
                serde_json::from_str::<JobError>(&text)
                    .map_err(|e| corrupt(key, format!("error is not a JobError: {e}")))
            })
            .transpose()?,
        progress,
        cancel_requested: get(row, "cancel_requested")?,
        idempotency_key: get(row, "idempotency_key")?,
        lease_owner: get(row, "lease_owner")?,
        lease_expires_at: opt_time(key, "lease_expires_at", get(row, "lease_expires_at")?)?,
        created_at: time(key, "created_at", get(row, "created_at")?)?,
        updated_at: time(key, "updated_at", get(row, "updated_at")?)?,
        started_at: opt_time(key, "started_at", get(row, "started_at")?)?,
        finished_at: opt_time(key, "finished_at", get(row, "finished_at")?)?,
        run_at: time(key, "run_at", get(row, "run_at")?)?,
    })
}

/// Decodes an `api_keys` row.
pub(super) fn key(row: &SqliteRow) -> Result<KeyInfo> {
    let id: Uuid = get(row, "id")?;
    Ok(KeyInfo {
        id,
        name: get(row, "name")?,
        admin: get(row, "admin")?,
        created_at: time(&id.to_string(), "created_at", get(row, "created_at")?)?,
    })
}
