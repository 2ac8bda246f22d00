//! `GET /api/jobs/{id}/input`: the job's input media as its steps read it (the upload,
//! or the file fetched from the URL or YouTube), for its owner only. With the resolved
//! step configs and input sources in the job view, this is what `framepipe job replay`
//! needs to rerun a step locally on the same bytes.

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
use crate::auth::Caller;
use crate::input::JobInput;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/jobs/{id}/input", get(download))
}

async fn download(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let job = owned_job(&app, &caller, &id).await?;
    let gone = |what: String| {
        ApiError::new(
            axum::http::StatusCode::GONE,
            "INPUT_GONE",
            format!("job {}: {what}", job.id),
        )
    };
    let input =
        JobInput::from_stored(&job.input).map_err(|e| ApiError::bad_request(e.code, e.message))?;
    let (path, media_type) = match input {
        JobInput::None => {
            return Err(ApiError::not_found(format!("job {} has no input", job.id)));
        }
        JobInput::Upload(upload) => match app.artifacts.upload(upload) {
            Some((meta, path)) if meta.owner == job.owner => (path, meta.media_type),
            _ => return Err(gone(format!("upload {upload} has been deleted or pruned"))),
        },
        JobInput::Url(_) | JobInput::Youtube(_) => {
            let fetched = app
                .artifacts
                .input_dir(job.id)
                .map_err(ApiError::internal)?
                .join("input");
            if !fetched.exists() {
                return Err(gone(
                    "its input was not fetched yet, or has been deleted".into(),
                ));
            }
            let media_type = job
                .result
                .as_ref()
                .and_then(|r| r["input"]["media_type"].as_str())
                .unwrap_or("application/octet-stream")
                .to_owned();
            (fetched, media_type)
        }
    };
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| gone("its input file is gone".into()))?;
    let size = file.metadata().await.map_err(ApiError::internal)?.len();
    let mut response = (
        [
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        Body::from_stream(ReaderStream::new(file)),
    )
        .into_response();
    super::artifacts::file_headers(response.headers_mut(), &media_type, "input");
    Ok(response)
}
