//! `POST /api/uploads`: a file streamed to the artifact store, never held in memory,
//! refused with 413 past the size limit and 415 for a file type no pipeline reads. The
//! type comes from the content when it is a known container (`sniff`), else from an
//! accepted extension; a file with neither is refused once its first bytes are seen.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::body_limit::{BodyFault, RouteLimit, body_timed_out};
use super::form::multipart_error;
use super::{ApiError, ApiResult};
use crate::app::App;
use crate::artifacts::{UploadMeta, media_type_of};
use crate::auth::Caller;
use crate::sniff;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/uploads", post(upload))
        .route("/api/uploads/", post(upload))
}

#[derive(Debug, Deserialize)]
struct UploadQuery {
    filename: Option<String>,
}

/// Multipart (`file` or `video` field) or a raw body with `?filename=clip.mp4`.
async fn upload(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<UploadQuery>,
    request: Request,
) -> ApiResult<Response> {
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let limit = request.extensions().get::<RouteLimit>().copied();
    let meta = if is_multipart {
        let mut multipart = Multipart::from_request(request, &app)
            .await
            .map_err(|e| ApiError::bad_request("INVALID_MULTIPART", e.body_text()))?;
        let mut saved = None;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| multipart_error(&e, limit))?
        {
            if matches!(field.name(), Some("file" | "video")) {
                let filename = field.file_name().unwrap_or("").to_owned();
                saved = Some(receive(&app, &caller, &filename, None, field).await?);
                break;
            }
        }
        saved.ok_or_else(|| {
            ApiError::bad_request("MISSING_INPUT", "the form has no `file` (or `video`) field")
        })?
    } else {
        let filename = q.filename.ok_or_else(|| {
            ApiError::bad_request(
                "MISSING_FILENAME",
                "give the file name as ?filename=clip.mp4, or send multipart/form-data with a `file` field",
            )
        })?;
        let length = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = request.into_body().into_data_stream();
        receive(&app, &caller, &filename, length, body).await?
    };
    Ok((StatusCode::CREATED, axum::Json(upload_json(&meta))).into_response())
}

/// The JSON of an upload.
pub fn upload_json(meta: &UploadMeta) -> serde_json::Value {
    json!({
        "id": meta.id,
        "upload_id": meta.id,
        "filename": meta.filename,
        "media_type": meta.media_type,
        "size": meta.size,
        "created_at": meta.created_at,
        "input": {"upload": meta.id},
    })
}

fn too_large(cap: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "FILE_TOO_LARGE",
        format!("the file is larger than the {} MB limit", cap / 1_000_000),
    )
}

/// Streams one file to a new upload slot with the size cap; removes it on any failure.
pub async fn receive<S, E>(
    app: &App,
    caller: &Caller,
    filename: &str,
    declared_length: Option<u64>,
    stream: S,
) -> ApiResult<UploadMeta>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::error::Error + 'static,
{
    let settings = &app.config.file.uploads;
    let cap = settings.max_bytes;
    let name = Path::new(filename)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_owned();
    let ext = Path::new(&name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let by_name = media_type_of(&name).filter(|_| settings.extensions.contains(&ext));
    if declared_length.is_some_and(|n| n > cap) {
        return Err(too_large(cap));
    }
    let (id, path) = app.artifacts.new_upload().map_err(ApiError::internal)?;
    let result = write_capped(&path, stream, cap).await;
    let size = match result {
        Ok(size) => size,
        Err(e) => {
            let _ = app.artifacts.delete_upload(id);
            return Err(e);
        }
    };
    if size == 0 {
        let _ = app.artifacts.delete_upload(id);
        return Err(ApiError::bad_request("EMPTY_FILE", "the file is empty"));
    }
    let by_content = read_head(&path)
        .await
        .and_then(|h| sniff::media_type_of_content(&h));
    let Some(media_type) = by_content.or(by_name) else {
        let _ = app.artifacts.delete_upload(id);
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_FILE_TYPE",
            format!(
                "file {name:?} is not a video or image this server reads (by its content), nor has it an accepted extension; accepted: {}",
                settings.extensions.join(", ")
            ),
        ));
    };
    let meta = UploadMeta {
        id,
        owner: caller.owner(),
        filename: name,
        media_type: media_type.to_owned(),
        size,
        created_at: Utc::now(),
    };
    app.artifacts
        .finish_upload(&meta)
        .map_err(ApiError::internal)?;
    tracing::info!(upload_id = %id, size, "upload stored");
    Ok(meta)
}

/// The first bytes of a stored upload, for `sniff`.
async fn read_head(path: &Path) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path).await.ok()?;
    let mut head = Vec::with_capacity(sniff::HEAD);
    file.take(sniff::HEAD as u64)
        .read_to_end(&mut head)
        .await
        .ok()?;
    Some(head)
}

async fn write_capped<S, E>(path: &Path, stream: S, cap: u64) -> ApiResult<u64>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::error::Error + 'static,
{
    let mut stream = std::pin::pin!(stream);
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(ApiError::internal)?;
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| match BodyFault::of(&e) {
            Some(BodyFault::TooLarge) => too_large(cap),
            Some(BodyFault::TimedOut) => body_timed_out(),
            None => {
                ApiError::bad_request("UPLOAD_INTERRUPTED", format!("the upload broke off: {e}"))
            }
        })?;
        size += chunk.len() as u64;
        if size > cap {
            return Err(too_large(cap));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    Ok(size)
}
