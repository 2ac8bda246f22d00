//! Reading multipart forms within limits: text fields are capped
//! (`[http] max_form_field_bytes`), errors of the bounded body keep their own codes.

use axum::extract::multipart::{Field, MultipartError};
use axum::http::StatusCode;

use super::body_limit::{BodyFault, RouteLimit};
use super::{ApiError, ApiResult};

/// A text field, read at most `max` bytes far: a longer one is refused, not buffered.
pub async fn text_field(mut field: Field<'_>, max: usize) -> ApiResult<String> {
    let name = field.name().unwrap_or("").to_owned();
    let mut text = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e, None))? {
        if text.len() + chunk.len() > max {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "FIELD_TOO_LARGE",
                format!("form field `{name}` is longer than {max} bytes"),
            ));
        }
        text.extend_from_slice(&chunk);
    }
    String::from_utf8(text).map_err(|_| {
        ApiError::bad_request(
            "INVALID_MULTIPART",
            format!("form field `{name}` is not UTF-8 text"),
        )
    })
}

/// The answer for a failed multipart read on a route with `limit`.
pub fn multipart_error(e: &MultipartError, limit: Option<RouteLimit>) -> ApiError {
    match BodyFault::of(e) {
        Some(fault) => fault.to_error(limit),
        None if e.status() == StatusCode::PAYLOAD_TOO_LARGE => BodyFault::TooLarge.to_error(limit),
        None => ApiError::bad_request("INVALID_MULTIPART", e.body_text()),
    }
}

/// 400 `DUPLICATE_FIELD`: a form may carry one file.
pub fn duplicate_file(name: &str) -> ApiError {
    ApiError::bad_request(
        "DUPLICATE_FIELD",
        format!("the form has more than one file field (`{name}`); send one `video` or `file`"),
    )
}
