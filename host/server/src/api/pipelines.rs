//! `/api/pipelines`: the pipelines in force, and reloading their definitions.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiError, ApiResult};
use crate::app::App;
use crate::auth::Caller;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/pipelines", get(list))
        .route("/api/pipelines/reload", post(reload))
        .route("/api/pipelines/{name}", get(read))
}

async fn list(State(app): State<Arc<App>>, _caller: Caller) -> Json<Value> {
    let all: Vec<Value> = app.pipelines.all().iter().map(|p| p.to_json()).collect();
    Json(json!({ "pipelines": all }))
}

async fn read(
    State(app): State<Arc<App>>,
    _caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    app.pipelines
        .get(&name)
        .map(|p| Json(p.to_json()))
        .ok_or_else(|| ApiError::not_found(format!("no pipeline named {name:?}")))
}

/// Re-reads the definitions; 422 with every error (file and line) keeps the old set.
async fn reload(State(app): State<Arc<App>>, caller: Caller) -> ApiResult<Response> {
    caller.require_admin()?;
    match app.reload_pipelines() {
        Ok(n) => Ok(Json(json!({"reloaded": n})).into_response()),
        Err(errors) => {
            let message = errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ");
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"error": {
                    "code": "INVALID_PIPELINE",
                    "message": format!("definitions not reloaded, the previous ones stay in force: {message}"),
                    "errors": errors,
                }})),
            )
                .into_response())
        }
    }
}
