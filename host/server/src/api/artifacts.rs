//! `GET /api/jobs/{id}/artifacts/{step}/{name}`: an artifact, streamed from the store.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
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
    let mut response = (
        [
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
        ],
        Body::from_stream(ReaderStream::new(file)),
    )
        .into_response();
    file_headers(response.headers_mut(), &media_type, &name);
    Ok(response)
}

/// Media types a browser may show inline: they cannot run script in the server's origin.
const INLINE: &[&str] = &[
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
    "application/json",
    "text/plain",
];

/// Headers of a file a plugin or a client wrote: the type a plugin chose is not trusted
/// to be harmless. The browser must not sniff another type, may show only images, JSON
/// and plain text inline (anything else downloads), and runs no script from it.
pub fn file_headers(headers: &mut HeaderMap, media_type: &str, name: &str) {
    let essence = media_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let inline = INLINE.contains(&essence.as_str());
    let content_type = if inline && essence.starts_with("text/") {
        "text/plain; charset=utf-8".to_owned()
    } else if inline {
        essence
    } else if media_type.parse::<HeaderValue>().is_ok() && !media_type.is_empty() {
        media_type.to_owned()
    } else {
        "application/octet-stream".to_owned()
    };
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    if !inline {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
            headers.insert(header::CONTENT_DISPOSITION, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_downloads_and_images_show_inline() {
        let mut h = HeaderMap::new();
        file_headers(&mut h, "text/html", "page.html");
        assert_eq!(h[header::CONTENT_TYPE], "text/html");
        assert_eq!(
            h[header::CONTENT_DISPOSITION],
            "attachment; filename=\"page.html\""
        );
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let mut h = HeaderMap::new();
        file_headers(&mut h, "image/jpeg", "frame.jpg");
        assert!(h.get(header::CONTENT_DISPOSITION).is_none());
        assert_eq!(
            h[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'; sandbox"
        );
        let mut h = HeaderMap::new();
        file_headers(&mut h, "image/svg+xml", "x\"y.svg");
        assert_eq!(
            h[header::CONTENT_DISPOSITION],
            "attachment; filename=\"x_y.svg\""
        );
    }
}
