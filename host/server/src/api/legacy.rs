//! The old app's endpoints, kept so its frontend works unchanged:
//! `POST /api/get-youtube-frame/ {youtube_url}` and `POST /api/people-count/` (multipart
//! `video`, or `youtube_url`). Both answer 202 with `{job_id, polling_url}` and the job.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header;
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};

use super::body_limit::RouteLimit;
use super::form::{duplicate_file, multipart_error, text_field};
use super::jobs::accepted;
use super::submit::{SubmitRequest, submit};
use super::uploads::receive;
use super::{ApiError, ApiJson, ApiResult};
use crate::app::App;
use crate::auth::Caller;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/get-youtube-frame/", post(youtube_frame))
        .route("/api/get-youtube-frame", post(youtube_frame))
        .route("/api/people-count/", post(people_count))
        .route("/api/people-count", post(people_count))
}

#[derive(Debug, Deserialize)]
struct YoutubeFrame {
    youtube_url: Option<String>,
}

async fn youtube_frame(
    State(app): State<Arc<App>>,
    caller: Caller,
    ApiJson(body): ApiJson<YoutubeFrame>,
) -> ApiResult<Response> {
    let url = body
        .youtube_url
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("MISSING_INPUT", "give `youtube_url`"))?;
    let (job, created) = submit(
        &app,
        &caller,
        SubmitRequest {
            pipeline: "youtube-preview".into(),
            input: json!({"youtube_url": url}),
            params: Value::Null,
            priority: None,
            idempotency_key: None,
        },
    )
    .await?;
    Ok(accepted(&job, created))
}

async fn people_count(
    State(app): State<Arc<App>>,
    caller: Caller,
    request: Request,
) -> ApiResult<Response> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let limit = request.extensions().get::<RouteLimit>().copied();
    let max_field = app.config.file.http.max_form_field_bytes;
    let mut params = serde_json::Map::new();
    let input = if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, &app)
            .await
            .map_err(|e| ApiError::bad_request("INVALID_MULTIPART", e.body_text()))?;
        let mut upload = None;
        let mut youtube_url = None;
        let result: ApiResult<()> = async {
            while let Some(field) = multipart
                .next_field()
                .await
                .map_err(|e| multipart_error(&e, limit))?
            {
                let name = field.name().unwrap_or("").to_owned();
                match name.as_str() {
                    "video" | "file" => {
                        if upload.is_some() {
                            return Err(duplicate_file(&name));
                        }
                        let filename = field.file_name().unwrap_or("").to_owned();
                        upload = Some(receive(&app, &caller, &filename, None, field).await?);
                    }
                    "youtube_url" => {
                        let text = text_field(field, max_field).await?;
                        if !text.trim().is_empty() {
                            youtube_url = Some(text);
                        }
                    }
                    "every_seconds" | "threshold" => {
                        let text = text_field(field, max_field).await?;
                        let n: f64 = text.trim().parse().map_err(|_| {
                            ApiError::bad_request(
                                "INVALID_PARAMS",
                                format!("`{name}` must be a number"),
                            )
                        })?;
                        params.insert(name, json!(n));
                    }
                    // Other fields are skipped as they stream by, never stored.
                    _ => {}
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            // A refused form keeps nothing: the file it carried is removed.
            if let Some(meta) = &upload {
                let _ = app.artifacts.delete_upload(meta.id);
            }
            return Err(e);
        }
        match (upload, youtube_url) {
            (Some(meta), _) => Some(json!({"upload": meta.id})),
            (None, Some(url)) => Some(json!({"youtube_url": url})),
            (None, None) => None,
        }
    } else {
        let ApiJson(body) = ApiJson::<Value>::from_request(request, &app).await?;
        body.get("youtube_url")
            .and_then(Value::as_str)
            .filter(|u| !u.trim().is_empty())
            .map(|u| json!({"youtube_url": u}))
    };
    let input = input.ok_or_else(|| {
        ApiError::bad_request(
            "MISSING_INPUT",
            "send a multipart `video` file or a `youtube_url`",
        )
    })?;
    let (job, created) = submit(
        &app,
        &caller,
        SubmitRequest {
            pipeline: "people-count".into(),
            input,
            params: Value::Object(params),
            priority: None,
            idempotency_key: None,
        },
    )
    .await?;
    Ok(accepted(&job, created))
}
