//! `/api/plugins`: the registry. Uploading a component needs an admin key; it is checked
//! against the WIT world before it is accepted.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use framepipe_runtime::Plugin;
use serde_json::{Value, json};

use super::{ApiError, ApiResult};
use crate::app::App;
use crate::auth::Caller;

/// Largest component accepted by upload.
const MAX_COMPONENT_BYTES: usize = 100 << 20;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/plugins", get(list).post(upload))
        .layer(DefaultBodyLimit::max(MAX_COMPONENT_BYTES))
}

/// The JSON of a plugin.
pub fn plugin_json(plugin: &Plugin) -> Value {
    let info = plugin.info();
    json!({
        "name": info.name,
        "version": info.version,
        "description": info.description,
        "digest": info.digest,
        "wit_version": info.wit_version,
        "size_bytes": info.size_bytes,
        "inputs": info.inputs,
        "outputs": info.outputs,
        "config_schema": info.config_schema,
        "capabilities": {"hosts": info.hosts, "min_memory_mib": info.min_memory_mib},
        "compile_ms": (info.compile_ms * 100.0).round() / 100.0,
        "compile_cache_hit": info.cache_hit,
    })
}

async fn list(State(app): State<Arc<App>>, _caller: Caller) -> Json<Value> {
    let plugins: Vec<Value> = app.registry.all().iter().map(|p| plugin_json(p)).collect();
    Json(json!({ "plugins": plugins }))
}

async fn upload(State(app): State<Arc<App>>, caller: Caller, body: Bytes) -> ApiResult<Response> {
    caller.require_admin()?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "EMPTY_FILE",
            "send the component (.wasm) as the request body",
        ));
    }
    let known = app
        .registry
        .by_digest(&framepipe_runtime::digest(&body))
        .is_some();
    match app.registry.add_and_store(&body).await {
        Ok(plugin) => {
            tracing::info!(name = %plugin.info().name, version = %plugin.info().version, digest = %plugin.info().digest, "plugin registered");
            let status = if known {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Ok((status, Json(plugin_json(&plugin))).into_response())
        }
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            e.code(),
            e.to_string(),
        )),
    }
}
