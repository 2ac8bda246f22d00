//! `/api/keys` (admin keys only): list, create (with an optional lifetime), revoke.
//! A revoked key is refused by every process within about a second (see `auth`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use framepipe_queue::KeyInfo;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ApiError, ApiJson, ApiResult};
use crate::app::App;
use crate::auth::Admin;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/keys", get(list).post(create))
        .route("/api/keys/{id}", delete(revoke))
}

/// The JSON of a key (never its secret).
fn key_json(key: &KeyInfo) -> Value {
    let now = chrono::Utc::now();
    json!({
        "id": key.id,
        "name": key.name,
        "admin": key.admin,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "usable": key.usable_at(now),
    })
}

async fn list(State(app): State<Arc<App>>, _admin: Admin) -> ApiResult<Json<Value>> {
    let keys = app.store.list_keys().await?;
    Ok(Json(
        json!({"keys": keys.iter().map(key_json).collect::<Vec<_>>()}),
    ))
}

/// The body of `POST /api/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    #[serde(default)]
    admin: bool,
    /// Lifetime in seconds (none: the key does not expire).
    #[serde(default)]
    expires_in_seconds: Option<u64>,
}

async fn create(
    State(app): State<Arc<App>>,
    _admin: Admin,
    ApiJson(req): ApiJson<NewKey>,
) -> ApiResult<Response> {
    if req.name.trim().is_empty() || req.name.len() > 100 {
        return Err(ApiError::bad_request(
            "INVALID_REQUEST",
            "a key's `name` must be 1 to 100 characters",
        ));
    }
    let expires_at = match req.expires_in_seconds {
        None => None,
        Some(0) => {
            return Err(ApiError::bad_request(
                "INVALID_REQUEST",
                "`expires_in_seconds` must be more than 0 (leave it out for a key that does not expire)",
            ));
        }
        Some(s) => {
            let seconds = i64::try_from(s).unwrap_or(i64::MAX).min(100 * 365 * 86_400);
            Some(chrono::Utc::now() + chrono::Duration::seconds(seconds))
        }
    };
    let (info, secret) = app
        .store
        .create_key_expiring(&req.name, req.admin, expires_at)
        .await?;
    tracing::info!(key_id = %info.id, admin = info.admin, "API key created");
    let mut body = key_json(&info);
    body["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn revoke(
    State(app): State<Arc<App>>,
    _admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found(format!("no key {id:?}")))?;
    let key = app
        .store
        .revoke_key(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no key {id}")))?;
    tracing::info!(key_id = %id, "API key revoked");
    Ok(Json(key_json(&key)))
}
