//! The API's one error type: `{"error": {"code": "SCREAMING_SNAKE", "message": "..."}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use framepipe_queue::QueueError;
use serde_json::json;

/// An error answer. 5xx errors are logged and their details hidden from the client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code a client can switch on.
    pub code: &'static str,
    /// What went wrong and what to change.
    pub message: String,
    /// Seconds for a `Retry-After` header (429 answers).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error with a `Retry-After: seconds` header.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 `NOT_FOUND` naming what is missing.
    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", what)
    }

    /// 500 `INTERNAL`; the cause is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "internal error; the server log has the details",
        )
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::IdempotencyConflict { .. } => {
                ApiError::new(StatusCode::CONFLICT, "IDEMPOTENCY_CONFLICT", e.to_string())
            }
            QueueError::InvalidArgument(_) | QueueError::InvalidCursor(_) => {
                ApiError::bad_request("INVALID_ARGUMENT", e.to_string())
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        // For the metrics layer (limit hits by code).
        response
            .extensions_mut()
            .insert(crate::metrics::ErrorCode(self.code));
        response
    }
}

/// Result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
