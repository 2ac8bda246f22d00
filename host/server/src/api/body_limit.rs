//! The one body-limit layer of the router: every request body is bounded before a handler
//! can read a byte of it.
//!
//! Each route has one documented limit ([`RouteLimit::for_request`], docs/limits.md). A
//! `Content-Length` over it is refused at once with 413, without reading the body; a
//! chunked (or lying) body is wrapped so that reading past the limit fails, and so that a
//! body which stops arriving fails after `[http] body_read_timeout_seconds` (slowloris).
//! Handlers see those failures as errors of the body stream; [`BodyFault::of`] tells them
//! apart so each is answered with its own status and code.
//!
//! The layer reads no body itself, so the handlers' key check (an extractor of the request
//! head) still comes before any body byte is read.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use http_body_util::{LengthLimitError, Limited};
use tokio::time::{Instant, Sleep};

use super::ApiError;
use crate::app::App;

/// Room for a multipart form's boundaries, part headers and text fields around its file.
pub const MULTIPART_OVERHEAD: u64 = 1 << 20;

/// The body limit in force for one request (also put in its extensions for handlers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteLimit {
    /// Largest body, bytes.
    pub bytes: u64,
    /// The 413 code: `FILE_TOO_LARGE` for media uploads, else `BODY_TOO_LARGE`.
    pub code: &'static str,
    /// Whether the whole body must arrive within the body-read timeout (all bodies but
    /// files, which may take long but must not stall).
    pub whole_within_timeout: bool,
}

impl RouteLimit {
    /// The limit of a request, from its method, path and content type.
    ///
    /// | route | limit |
    /// |---|---|
    /// | `POST /api/uploads`, raw body | `uploads.max_bytes` |
    /// | `POST /api/uploads` as multipart | `uploads.max_bytes` + 1 MiB (form overhead) |
    /// | `POST /api/people-count/` as multipart | `uploads.max_bytes` + 1 MiB |
    /// | `POST /api/plugins` | `http.max_plugin_bytes` |
    /// | everything else | `http.max_json_body_bytes` |
    pub fn for_request(app: &App, method: &Method, path: &str, headers: &HeaderMap) -> RouteLimit {
        let file = &app.config.file;
        let multipart = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        let path = path.trim_end_matches('/');
        let media = RouteLimit {
            bytes: file.uploads.max_bytes.saturating_add(MULTIPART_OVERHEAD),
            code: "FILE_TOO_LARGE",
            whole_within_timeout: false,
        };
        match (method, path) {
            (&Method::POST, "/api/uploads") if !multipart => RouteLimit {
                bytes: file.uploads.max_bytes,
                ..media
            },
            (&Method::POST, "/api/uploads") => media,
            (&Method::POST, "/api/people-count") if multipart => media,
            (&Method::POST, "/api/plugins") => RouteLimit {
                bytes: file.http.max_plugin_bytes,
                code: "BODY_TOO_LARGE",
                whole_within_timeout: false,
            },
            _ => RouteLimit {
                bytes: file.http.max_json_body_bytes,
                code: "BODY_TOO_LARGE",
                whole_within_timeout: true,
            },
        }
    }

    /// The 413 answer for a body over this limit.
    pub fn too_large(&self) -> ApiError {
        let what = if self.code == "FILE_TOO_LARGE" {
            "the file"
        } else {
            "the request body"
        };
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            self.code,
            format!(
                "{what} is larger than this endpoint's limit of {} bytes (docs/limits.md)",
                self.bytes
            ),
        )
    }
}

/// The middleware: refuses a declared length over the limit, bounds and times the rest.
pub async fn limit_bodies(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let limit = RouteLimit::for_request(&app, req.method(), req.uri().path(), req.headers());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit.bytes) {
        return limit.too_large().into_response();
    }
    req.extensions_mut().insert(limit);
    let timeout = app.config.file.http.body_read_timeout();
    let cap = usize::try_from(limit.bytes).unwrap_or(usize::MAX);
    let req = req.map(|body| {
        Body::new(Limited::new(
            TimedBody::new(body, timeout, limit.whole_within_timeout),
            cap,
        ))
    });
    next.run(req).await
}

/// Why reading a request body failed, when it was one of this layer's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    /// The body passed the route's limit.
    TooLarge,
    /// The body stalled or took too long.
    TimedOut,
}

impl BodyFault {
    /// Finds this layer's failure in an error's source chain.
    pub fn of(error: &(dyn StdError + 'static)) -> Option<BodyFault> {
        let mut current = Some(error);
        while let Some(e) = current {
            if e.is::<LengthLimitError>() {
                return Some(BodyFault::TooLarge);
            }
            if e.is::<BodyTimedOut>() {
                return Some(BodyFault::TimedOut);
            }
            current = e.source();
        }
        None
    }

    /// The answer for this failure on a route with `limit`.
    pub fn to_error(self, limit: Option<RouteLimit>) -> ApiError {
        match self {
            BodyFault::TooLarge => limit.map(|l| l.too_large()).unwrap_or_else(|| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "BODY_TOO_LARGE",
                    "the request body is larger than this endpoint's limit (docs/limits.md)",
                )
            }),
            BodyFault::TimedOut => body_timed_out(),
        }
    }
}

/// 408 `BODY_TIMEOUT`.
pub fn body_timed_out() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "BODY_TIMEOUT",
        "the request body stopped arriving (or took too long); send it at a steady pace",
    )
}

/// The error a [`TimedBody`] fails with.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received in time")]
pub struct BodyTimedOut;

/// A body that fails when no frame arrives for `gap`, and (if asked) when it is not
/// complete `gap` after the first read. Timers start at the first read, so a handler that
/// never reads the body costs nothing.
pub struct TimedBody {
    inner: Body,
    gap: Duration,
    whole: bool,
    stall: Option<Pin<Box<Sleep>>>,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl TimedBody {
    /// Wraps `inner`.
    pub fn new(inner: Body, gap: Duration, whole: bool) -> TimedBody {
        TimedBody {
            inner,
            gap,
            whole,
            stall: None,
            deadline: None,
        }
    }
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.stall.is_none() {
            this.stall = Some(Box::pin(tokio::time::sleep(this.gap)));
            if this.whole {
                this.deadline = Some(Box::pin(tokio::time::sleep(this.gap)));
            }
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(stall) = this.stall.as_mut() {
                    stall.as_mut().reset(Instant::now() + this.gap);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let stalled = this
                    .stall
                    .as_mut()
                    .is_some_and(|s| s.as_mut().poll(cx).is_ready());
                let late = this
                    .deadline
                    .as_mut()
                    .is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if stalled || late {
                    Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_stalled_body_times_out() {
        let body = Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>());
        let timed = Body::new(TimedBody::new(body, Duration::from_millis(50), false));
        let err = timed.collect().await.unwrap_err();
        assert_eq!(BodyFault::of(&err), Some(BodyFault::TimedOut));
    }

    #[tokio::test]
    async fn a_body_past_the_limit_fails_as_too_large() {
        let chunks = futures::stream::iter(
            (0..10).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 100]))),
        );
        let timed = TimedBody::new(Body::from_stream(chunks), Duration::from_secs(5), true);
        let body = Body::new(Limited::new(timed, 550));
        let err = body.collect().await.unwrap_err();
        assert_eq!(BodyFault::of(&err), Some(BodyFault::TooLarge));
    }
}
