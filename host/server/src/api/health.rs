//! `/healthz` (the process answers) and `/readyz` (the queue answers too).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::app::App;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.store.counts().await {
        Ok(counts) => {
            let jobs: serde_json::Map<String, serde_json::Value> = counts
                .iter()
                .map(|(state, n)| (state.as_str().to_owned(), json!(n)))
                .collect();
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
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": {"code": "QUEUE_UNAVAILABLE", "message": e.to_string()}})),
        )
            .into_response(),
    }
}
