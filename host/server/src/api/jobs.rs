//! `/api/jobs`: submit, read, list, cancel, delete.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use framepipe_queue::{Cursor, JobState, ListFilter};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::submit::{SubmitRequest, submit};
use super::view::job_json;
use super::{ApiError, ApiJson, ApiResult};
use crate::app::App;
use crate::auth::Caller;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/jobs", post(create).get(list))
        .route("/api/jobs/", get(list))
        .route("/api/jobs/{id}", get(read).delete(delete))
        .route("/api/jobs/{id}/", get(read).delete(delete))
        .route("/api/jobs/{id}/cancel", post(cancel))
}

/// Parses a job id from the path (a bad one is a 404, as for someone else's job).
pub fn job_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(format!("no job {raw:?}")))
}

/// The caller's job with this id (from the path), or 404 — also for another key's job.
pub async fn owned_job(
    app: &App,
    caller: &Caller,
    raw_id: &str,
) -> ApiResult<framepipe_queue::Job> {
    let id = job_id(raw_id)?;
    app.store
        .get(id, Some(&caller.owner()))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))
}

/// 202 with the job, its `Location` and polling URL.
pub fn accepted(job: &framepipe_queue::Job, created: bool) -> Response {
    let body = job_json(job);
    let location = format!("/api/jobs/{}", job.id);
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

async fn create(
    State(app): State<Arc<App>>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(mut req): ApiJson<SubmitRequest>,
) -> ApiResult<Response> {
    if req.idempotency_key.is_none()
        && let Some(v) = headers.get("idempotency-key")
    {
        req.idempotency_key = Some(
            v.to_str()
                .map_err(|_| {
                    ApiError::bad_request(
                        "INVALID_IDEMPOTENCY_KEY",
                        "the Idempotency-Key header must be text",
                    )
                })?
                .to_owned(),
        );
    }
    let (job, created) = submit(&app, &caller, req).await?;
    Ok(accepted(&job, created))
}

async fn read(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let job = owned_job(&app, &caller, &id).await?;
    Ok(Json(job_json(&job)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    pipeline: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("INVALID_QUERY", e.body_text()))?;
    let state = q
        .status
        .as_deref()
        .map(|s| {
            s.parse::<JobState>().map_err(|_| {
                ApiError::bad_request(
                    "INVALID_QUERY",
                    format!("unknown status {s:?}; use queued, running, retrying, succeeded, failed or cancelled"),
                )
            })
        })
        .transpose()?;
    let cursor = q
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<Cursor>().map_err(|_| {
                ApiError::bad_request(
                    "INVALID_CURSOR",
                    "the cursor is not one this server returned",
                )
            })
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request(
            "INVALID_QUERY",
            "limit must be from 1 to 200",
        ));
    }
    let filter = ListFilter {
        state,
        pipeline: q.pipeline,
    };
    let page = app
        .store
        .list(&caller.owner(), &filter, limit, cursor)
        .await?;
    let next = page.next_cursor.map(|c| c.to_string());
    Ok(Json(json!({
        "jobs": page.items.iter().map(job_json).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

async fn cancel(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = job_id(&id)?;
    let job = app
        .store
        .cancel(id, &caller.owner())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    let status = if job.state == JobState::Running {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(job_json(&job))).into_response())
}

/// Deletes a finished (or not yet started) job with its artifacts; a running job is asked
/// to cancel first (202: delete again once it has stopped).
async fn delete(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = job_id(&id)?;
    let owner = caller.owner();
    let job = app
        .store
        .cancel(id, &owner)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    if job.state == JobState::Running {
        return Ok((StatusCode::ACCEPTED, Json(job_json(&job))).into_response());
    }
    app.store.delete(id, &owner).await?;
    app.artifacts.delete_job(id).map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
