//! The REST API: one module per resource, each with its routes; thin handlers that parse,
//! call the domain, and map errors to the `{"error": {"code", "message"}}` envelope.

mod artifacts;
pub mod body_limit;
mod error;
mod events;
mod form;
mod health;
mod job_input;
mod jobs;
mod keys;
mod legacy;
mod metrics;
mod openapi;
mod pipelines;
mod plugins;
mod submit;
mod uploads;
mod view;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest};
use axum::http::{Request, StatusCode};
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult};
pub use metrics::serve_metrics_only;
pub use plugins::plugin_json;

use crate::app::App;

/// The whole API.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(openapi::routes())
        .merge(jobs::routes())
        .merge(events::routes())
        .merge(artifacts::routes())
        .merge(job_input::routes())
        .merge(uploads::routes())
        .merge(legacy::routes())
        .merge(plugins::routes())
        .merge(pipelines::routes())
        .merge(metrics::routes())
        .merge(keys::routes())
        .fallback(|| async {
            ApiError::not_found("no such endpoint; GET /api/openapi.json lists them")
        })
        // One body limit for every route (`body_limit`), in place of axum's per-extractor
        // default, so that no route can read more than its documented limit.
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            body_limit::limit_bodies,
        ))
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::map_response(nosniff))
        // Outermost: the metrics see every answer, the edge's refusals included.
        .layer(axum::middleware::from_fn_with_state(
            app.metrics.clone(),
            crate::metrics::track_http,
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                tracing::info_span!(
                    "request",
                    method = %req.method(),
                    path = %req.uri().path(),
                    key = tracing::field::Empty,
                )
            }),
        )
        .with_state(app)
}

/// No answer of this API is to be sniffed into another type by a browser.
async fn nosniff(mut response: axum::response::Response) -> axum::response::Response {
    response
        .headers_mut()
        .entry(axum::http::header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(axum::http::HeaderValue::from_static("nosniff"));
    response
}

/// `Json<T>` whose rejections use the API's error envelope.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req.extensions().get::<body_limit::RouteLimit>().copied();
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as JSON with `Content-Type: application/json`",
            )),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::bad_request(
                "INVALID_JSON",
                format!("the body is not valid JSON: {}", e.body_text()),
            )),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::bad_request(
                "INVALID_REQUEST",
                format!(
                    "the JSON does not have the expected shape: {}",
                    e.body_text()
                ),
            )),
            Err(JsonRejection::BytesRejection(e)) => Err(match body_limit::BodyFault::of(&e) {
                Some(fault) => fault.to_error(limit),
                None if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    body_limit::BodyFault::TooLarge.to_error(limit)
                }
                None => ApiError::new(
                    e.status(),
                    "INVALID_BODY",
                    format!("the body could not be read: {}", e.body_text()),
                ),
            }),
            Err(e) => Err(ApiError::bad_request("INVALID_JSON", e.body_text())),
        }
    }
}
