//! Plugins' outbound HTTP, carried through the SSRF-safe client.
//!
//! The runtime hands every `wasi:http` request a plugin makes to an
//! [`HttpRequestFilter`]; [`PolicyFilter`] is the one the server installs. It sends the
//! request with a [`framepipe_outbound::OutboundClient`] (host allow-list, addresses
//! checked after DNS and on every redirect, timeouts, response body cap) and translates
//! both ways:
//! - the plugin's request body is forwarded as it is produced, capped at
//!   [`PolicyFilter::max_request_body_bytes`];
//! - the response body streams back to the plugin, never buffered whole;
//! - a refusal by the policy becomes `InternalError("outbound policy: <reason>")`, which
//!   the plugin SDK reports as a refused request; other failures become the closest
//!   `wasi:http` error code (see [`wasi_error`]).

use bytes::Bytes;
use framepipe_outbound::{
    NameResolver, OutboundClient, OutboundError, OutboundPolicy, RequestLimits, SystemResolver,
};
use framepipe_runtime::{HttpBody, HttpError, HttpRequestFilter, ResponseFuture};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

/// The prefix of every refusal, as the runtime and the plugin SDK expect it.
pub const POLICY_REFUSAL_PREFIX: &str = "outbound policy: ";

/// Sends plugins' HTTP requests through an [`OutboundClient`] enforcing one
/// [`OutboundPolicy`]. Cheap to share (`Arc`) between runs of steps with the same policy.
#[derive(Debug, Clone)]
pub struct PolicyFilter {
    client: OutboundClient,
    max_request_body_bytes: u64,
}

impl PolicyFilter {
    /// The default cap on a request body a plugin sends: 1 MiB.
    pub const DEFAULT_MAX_REQUEST_BODY_BYTES: u64 = 1 << 20;

    /// A filter enforcing `policy`, resolving names with the system resolver.
    /// Fails when the policy is invalid (a bad allow-list entry, a zero timeout).
    pub fn new(policy: OutboundPolicy) -> Result<Self, OutboundError> {
        Self::with_resolver(policy, Arc::new(SystemResolver))
    }

    /// A filter enforcing `policy`, resolving names with `resolver`.
    pub fn with_resolver(
        policy: OutboundPolicy,
        resolver: Arc<dyn NameResolver>,
    ) -> Result<Self, OutboundError> {
        Ok(Self::from_client(OutboundClient::new(policy, resolver)?))
    }

    /// A filter sending through an existing client (sharing its connection pool).
    pub fn from_client(client: OutboundClient) -> Self {
        PolicyFilter {
            client,
            max_request_body_bytes: Self::DEFAULT_MAX_REQUEST_BODY_BYTES,
        }
    }

    /// Sets the cap on request bodies; a longer body fails the request with
    /// `HttpRequestBodySize`.
    pub fn with_max_request_body_bytes(mut self, cap: u64) -> Self {
        self.max_request_body_bytes = cap;
        self
    }

    /// The cap on request bodies, in bytes.
    pub fn max_request_body_bytes(&self) -> u64 {
        self.max_request_body_bytes
    }

    /// The policy in force.
    pub fn policy(&self) -> &OutboundPolicy {
        self.client.policy()
    }
}

impl HttpRequestFilter for PolicyFilter {
    fn send(&self, request: http::Request<HttpBody>) -> ResponseFuture {
        let client = self.client.clone();
        let cap = self.max_request_body_bytes;
        Box::pin(async move {
            let host = request.uri().host().unwrap_or_default().to_owned();
            let body_failure = Arc::new(Mutex::new(None));
            let request = request.map(|body| RequestBody::new(body, cap, body_failure.clone()));
            match client.send_body(request, &RequestLimits::default()).await {
                Ok(response) => Ok(response.map(|body| {
                    body.map_err(|e| {
                        tracing::debug!(error = %e, "outbound response body failed");
                        wasi_error(&e)
                    })
                    .boxed_unsync()
                })),
                Err(e) => {
                    // The plugin's own body failing (or running past the cap) is the cause,
                    // whatever reqwest made of it.
                    if let Some(cause) = lock(&body_failure).take() {
                        return Err(cause);
                    }
                    if e.is_denied() {
                        tracing::info!(%host, reason = %e, "outbound request refused");
                    } else {
                        tracing::debug!(%host, error = %e, "outbound request failed");
                    }
                    Err(wasi_error(&e))
                }
            }
        })
    }
}

/// The `wasi:http` error a plugin sees for an outbound failure.
///
/// Refusals ([`OutboundError::is_denied`]) become
/// `InternalError(Some("outbound policy: <reason>"))`, except a response body over the
/// cap, which is `HttpResponseBodySize(Some(cap))`. Network failures map to the closest
/// code: `DnsError`, `ConnectionTimeout`, `HttpResponseTimeout`, `ConnectionRefused`,
/// `TlsCertificateError`, `TlsProtocolError`, `ConnectionTerminated`,
/// `HttpResponseIncomplete`, `HttpProtocolError`.
pub fn wasi_error(err: &OutboundError) -> HttpError {
    match err {
        OutboundError::BodyTooLarge { cap } => HttpError::HttpResponseBodySize(Some(*cap)),
        e if e.is_denied() => HttpError::InternalError(Some(format!("{POLICY_REFUSAL_PREFIX}{e}"))),
        OutboundError::Dns { message, .. } => HttpError::DnsError {
            rcode: Some(message.clone()),
            info_code: None,
        },
        OutboundError::ConnectTimeout { .. } => HttpError::ConnectionTimeout,
        OutboundError::FirstByteTimeout { .. } | OutboundError::Timeout { .. } => {
            HttpError::HttpResponseTimeout
        }
        OutboundError::Connect(message) => connect_error(message),
        OutboundError::Http(message) => http_error(message),
        other => HttpError::InternalError(Some(other.to_string())),
    }
}

/// reqwest keeps only a message for connection failures; read the cause from it.
fn connect_error(message: &str) -> HttpError {
    let m = message.to_ascii_lowercase();
    if m.contains("certificate") {
        HttpError::TlsCertificateError
    } else if m.contains("tls") || m.contains("handshake") {
        HttpError::TlsProtocolError
    } else if m.contains("unreachable") || m.contains("no route") {
        HttpError::DestinationIpUnroutable
    } else if m.contains("reset") || m.contains("closed") {
        HttpError::ConnectionTerminated
    } else {
        // What wasmtime's own client reports for a failed connect.
        HttpError::ConnectionRefused
    }
}

fn http_error(message: &str) -> HttpError {
    let m = message.to_ascii_lowercase();
    if m.contains("reset") || m.contains("connection closed") || m.contains("broken pipe") {
        HttpError::ConnectionTerminated
    } else if m.contains("incomplete")
        || m.contains("eof")
        || m.contains("before message completed")
    {
        HttpError::HttpResponseIncomplete
    } else {
        HttpError::HttpProtocolError
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A plugin's request body, made `Sync` for reqwest (`WasiBody` is only `Send`; the
/// mutex is never contended: `poll_frame` has `&mut self`) and capped. A failure of the
/// body itself is kept in `failure`, so the response can carry it rather than reqwest's
/// rewording.
struct RequestBody {
    inner: Mutex<HttpBody>,
    cap: u64,
    seen: u64,
    failure: Arc<Mutex<Option<HttpError>>>,
}

impl RequestBody {
    fn new(inner: HttpBody, cap: u64, failure: Arc<Mutex<Option<HttpError>>>) -> Self {
        RequestBody {
            inner: Mutex::new(inner),
            cap,
            seen: 0,
            failure,
        }
    }

    fn fail(&mut self, cause: HttpError) -> Poll<Option<Result<Frame<Bytes>, RequestBodyError>>> {
        let message = cause.to_string();
        lock(&self.failure).get_or_insert(cause);
        Poll::Ready(Some(Err(RequestBodyError(message))))
    }
}

/// What reqwest sees when the plugin's request body fails.
#[derive(Debug, thiserror::Error)]
#[error("request body: {0}")]
struct RequestBodyError(String);

impl Body for RequestBody {
    type Data = Bytes;
    type Error = RequestBodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RequestBodyError>>> {
        let this = self.get_mut();
        let inner = this.inner.get_mut().unwrap_or_else(PoisonError::into_inner);
        match ready!(Pin::new(inner).poll_frame(cx)) {
            None => Poll::Ready(None),
            Some(Err(e)) => this.fail(e),
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.seen = this.seen.saturating_add(data.len() as u64);
                    if this.seen > this.cap {
                        return this.fail(HttpError::HttpRequestBodySize(Some(this.seen)));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        lock(&self.inner).is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        lock(&self.inner).size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn internal(e: &HttpError) -> Option<&str> {
        match e {
            HttpError::InternalError(Some(m)) => Some(m),
            _ => None,
        }
    }

    #[test]
    fn refusals_name_the_policy() {
        let e = wasi_error(&OutboundError::HostNotAllowed {
            host: "evil.test".into(),
        });
        let m = internal(&e).unwrap();
        assert!(m.starts_with("outbound policy: host \"evil.test\""), "{m}");
        let e = wasi_error(&OutboundError::TooManyRedirects { max: 5 });
        assert!(internal(&e).unwrap().starts_with(POLICY_REFUSAL_PREFIX));
    }

    #[test]
    fn failures_map_to_the_closest_code() {
        let d = Duration::from_secs(1);
        let cases = [
            (
                OutboundError::BodyTooLarge { cap: 9 },
                "HttpResponseBodySize(Some(9))",
            ),
            (
                OutboundError::ConnectTimeout { after: d },
                "ConnectionTimeout",
            ),
            (
                OutboundError::FirstByteTimeout { after: d },
                "HttpResponseTimeout",
            ),
            (OutboundError::Timeout { after: d }, "HttpResponseTimeout"),
            (
                OutboundError::Connect(
                    "tcp connect error: Connection refused (os error 111)".into(),
                ),
                "ConnectionRefused",
            ),
            (
                OutboundError::Connect("invalid peer certificate: UnknownIssuer".into()),
                "TlsCertificateError",
            ),
            (
                OutboundError::Connect("connection reset by peer".into()),
                "ConnectionTerminated",
            ),
            (
                OutboundError::Http("connection closed before message completed".into()),
                "ConnectionTerminated",
            ),
            (
                OutboundError::Http("unexpected EOF".into()),
                "HttpResponseIncomplete",
            ),
            (
                OutboundError::Http("invalid HTTP version parsed".into()),
                "HttpProtocolError",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(format!("{:?}", wasi_error(&err)), want, "{err}");
        }
        let dns = wasi_error(&OutboundError::Dns {
            host: "x.test".into(),
            message: "name not in the static map".into(),
        });
        assert!(
            matches!(dns, HttpError::DnsError { rcode: Some(ref m), .. } if m.contains("static map"))
        );
    }
}
