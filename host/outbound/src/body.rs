//! The response body: streamed, never buffered, failing past the byte cap or
//! the total deadline.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::error::OutboundError;

/// A response body that yields at most `cap` bytes and ends by the deadline.
///
/// It is both an [`http_body::Body`] (for hyper / wasi:http) and a
/// [`futures::Stream`] of data chunks. After the first error it ends.
pub struct BodyStream {
    inner: reqwest::Body,
    cap: u64,
    seen: u64,
    deadline: Pin<Box<Sleep>>,
    total_timeout: Duration,
    connect_timeout: Duration,
    done: bool,
}

impl std::fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyStream")
            .field("cap", &self.cap)
            .field("seen", &self.seen)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl BodyStream {
    pub(crate) fn new(
        inner: reqwest::Body,
        cap: u64,
        deadline: Instant,
        total_timeout: Duration,
        connect_timeout: Duration,
    ) -> Self {
        BodyStream {
            inner,
            cap,
            seen: 0,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            total_timeout,
            connect_timeout,
            done: false,
        }
    }

    /// Bytes received so far.
    pub fn bytes_seen(&self) -> u64 {
        self.seen
    }

    /// Reads the whole body into memory (still capped and time-limited).
    /// Named like reqwest's `Response::bytes`, so it does not shadow
    /// `BodyExt::collect` or `StreamExt::collect`.
    pub async fn bytes(mut self) -> Result<Bytes, OutboundError> {
        use futures::StreamExt;
        let mut out = Vec::new();
        while let Some(chunk) = self.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(Bytes::from(out))
    }

    fn fail(&mut self, err: OutboundError) -> Poll<Option<Result<Frame<Bytes>, OutboundError>>> {
        self.done = true;
        Poll::Ready(Some(Err(err)))
    }
}

impl Body for BodyStream {
    type Data = Bytes;
    type Error = OutboundError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, OutboundError>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            return this.fail(OutboundError::Timeout {
                after: this.total_timeout,
            });
        }
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            None => {
                this.done = true;
                Poll::Ready(None)
            }
            Some(Err(e)) => {
                let err = OutboundError::from_reqwest(&e, this.connect_timeout);
                this.fail(err)
            }
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.seen = this.seen.saturating_add(data.len() as u64);
                    if this.seen > this.cap {
                        return this.fail(OutboundError::BodyTooLarge { cap: this.cap });
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, OutboundError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match ready!(self.as_mut().poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                // Trailers carry no data; skip them.
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
            }
        }
    }
}
