//! `/api/plugins`: the registry. Uploading a component needs an admin key; it is checked
//! against the WIT world before it is accepted.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use framepipe_runtime::Plugin;
use serde_json::{Value, json};

use super::body_limit::{BodyFault, RouteLimit};
use super::{ApiError, ApiResult};
use crate::app::App;
use crate::auth::{Admin, Caller};

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/plugins", get(list).post(upload))
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

/// The admin check is an extractor of the head, so a non-admin's body is never read.
async fn upload(
    State(app): State<Arc<App>>,
    _admin: Admin,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let limit = Some(RouteLimit {
        bytes: app.config.file.http.max_plugin_bytes,
        code: "BODY_TOO_LARGE",
        whole_within_timeout: false,
    });
    let body = body.map_err(|e| match BodyFault::of(&e) {
        Some(fault) => fault.to_error(limit),
        None if e.status() == StatusCode::PAYLOAD_TOO_LARGE => BodyFault::TooLarge.to_error(limit),
        None => ApiError::bad_request("INVALID_BODY", e.body_text()),
    })?;
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
