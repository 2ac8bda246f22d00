//! TEMPORARY stub until the policy filter lands.
use std::sync::Arc;
use framepipe_outbound::{NameResolver, OutboundError, OutboundPolicy};
use framepipe_runtime::{HttpBody, HttpError, HttpRequestFilter, ResponseFuture};

/// Stub.
pub struct PolicyFilter;
impl PolicyFilter {
    /// Stub.
    pub fn new(_p: OutboundPolicy, _r: Arc<dyn NameResolver>) -> Result<Self, OutboundError> { Ok(PolicyFilter) }
}
impl HttpRequestFilter for PolicyFilter {
    fn send(&self, _request: http::Request<HttpBody>) -> ResponseFuture {
        Box::pin(async { Err(HttpError::InternalError(Some("outbound policy: not wired".into()))) })
    }
}
