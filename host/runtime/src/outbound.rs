//! Outbound HTTP for plugins: `wasi:http` requests are handed to a sender the server
//! supplies (which enforces the step's policy). With no sender, every request is refused.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// The body type of requests and responses crossing the sandbox.
pub type HttpBody = WasiBody;

/// A boxed future of a response.
pub type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<HttpBody>, HttpError>> + Send>>;

/// Carries a plugin's outgoing request for the host, deciding whether it may go at all.
/// A refusal should be `HttpError::InternalError(Some("outbound policy: <reason>"))`, which
/// the SDK reports to the plugin as a refused request with that reason.
pub trait HttpRequestFilter: Send + Sync {
    /// Sends the request (or refuses it).
    fn send(&self, request: http::Request<HttpBody>) -> ResponseFuture;
}

/// What a step may reach over HTTP.
#[derive(Clone, Default)]
pub struct OutboundAccess {
    sender: Option<Arc<dyn HttpRequestFilter>>,
}

impl OutboundAccess {
    /// No network at all (the default).
    pub fn deny_all() -> Self {
        OutboundAccess { sender: None }
    }

    /// Requests go through `sender`.
    pub fn through(sender: Arc<dyn HttpRequestFilter>) -> Self {
        OutboundAccess {
            sender: Some(sender),
        }
    }
}

pub(crate) struct OutboundHooks {
    pub(crate) access: OutboundAccess,
}

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture)>> + Send> {
        let sender = self.access.sender.clone();
        Box::new(async move {
            let Some(sender) = sender else {
                return Err(HttpError::InternalError(Some(
                    "outbound policy: this step may not reach the network".into(),
                )));
            };
            let response = sender.send(request).await?;
            Ok((response, Box::new(async { Ok(()) }) as IoFuture))
        })
    }
}

type Result<T, E = HttpError> = std::result::Result<T, E>;
