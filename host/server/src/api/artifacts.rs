//! `GET /api/jobs/{id}/artifacts/{step}/{name}`: an artifact, streamed from the store.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::io::ReaderStream;

use super::jobs::owned_job;
use super::{ApiError, ApiResult};
use crate::app::App;
use crate::artifacts::media_type_of;
use crate::auth::Caller;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/jobs/{id}/artifacts/{step}/{name}", get(download))
}

async fn download(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path((id, step, name)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let job = owned_job(&app, &caller, &id).await?;
    let id = job.id;
    let listed = job
        .result
        .as_ref()
        .and_then(|r| r.get("artifacts"))
        .and_then(|a| a.as_array())
        .and_then(|list| {
            list.iter()
                .find(|a| a["step"] == step.as_str() && a["name"] == name.as_str())
                .cloned()
        });
    let path = app.artifacts.artifact(id, &step, &name);
    let (Some(entry), Some(path)) = (listed, path) else {
        return Err(ApiError::not_found(format!(
            "job {id} has no artifact {step}/{name}"
        )));
    };
    let media_type = entry["media_type"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| media_type_of(&name).map(str::to_owned))
        .unwrap_or_else(|| "application/octet-stream".into());
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(ApiError::internal)?;
    let size = file.metadata().await.map_err(ApiError::internal)?.len();
    Ok((
        [
            (header::CONTENT_TYPE, media_type),
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
        ],
        Body::from_stream(ReaderStream::new(file)),
    )
        .into_response())
}
