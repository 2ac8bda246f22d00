//! `/healthz` (the process answers) and `/readyz` (the queue answers too).
//!
//! `/readyz` needs no key and tells only up or down, from one trivial query. Job counts
//! (a scan of the jobs table), plugin and pipeline counts are for an admin key only.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::ApiError;
use crate::app::App;
use crate::auth::Admin;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(app): State<Arc<App>>, admin: Result<Admin, ApiError>) -> Response {
    if let Err(e) = app.store.ping().await {
        tracing::warn!(error = %e, "readiness: the queue does not answer");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "error": {
                "code": "QUEUE_UNAVAILABLE",
                "message": "the queue database does not answer; the server log has the details",
            }})),
        )
            .into_response();
    }
    if admin.is_err() {
        return Json(json!({"status": "ready"})).into_response();
    }
    let jobs: serde_json::Map<String, serde_json::Value> = match app.store.counts().await {
        Ok(counts) => counts
            .iter()
            .map(|(state, n)| (state.as_str().to_owned(), json!(n)))
            .collect(),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    Json(json!({
        "status": "ready",
        "queue": app.store.backend(),
        "jobs": jobs,
        "plugins": app.registry.all().len(),
        "pipelines": app.pipelines.all().len(),
        "uptime_seconds": app.started.elapsed().as_secs(),
    }))
    .into_response()
}
