//! The outbound client: reqwest with the policy wired into DNS resolution,
//! redirects, timeouts and body size.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName};
use http::{Request, Response, StatusCode};
use tokio::time::Instant;
use url::Url;

use crate::body::BodyStream;
use crate::error::OutboundError;
use crate::limits::{EffectiveLimits, RequestLimits};
use crate::policy::OutboundPolicy;
use crate::redirect;
use crate::resolve::{NameResolver, PolicyResolver};

/// reqwest fixes the connect timeout and redirect policy per client, so one
/// client is kept per distinct (connect timeout, max redirects) a request asks
/// for; past this many, further combinations get an uncached client.
const MAX_CACHED_CLIENTS: usize = 8;

/// What a cached reqwest client is specific to: (connect timeout, max redirects).
type ClientKey = (Duration, u32);

/// Request headers a plugin may not set: the host header (the URL decides
/// where the request goes), hop-by-hop headers, and framing (reqwest sets it).
const STRIPPED_HEADERS: [HeaderName; 9] = [
    header::HOST,
    header::CONNECTION,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::CONTENT_LENGTH,
    HeaderName::from_static("keep-alive"),
];

/// Outbound HTTP under an [`OutboundPolicy`]. Cheap to clone; build one per
/// distinct policy and reuse it (connections are pooled).
#[derive(Clone)]
pub struct OutboundClient {
    policy: Arc<OutboundPolicy>,
    resolver: Arc<dyn NameResolver>,
    clients: Arc<Mutex<Vec<(ClientKey, reqwest::Client)>>>,
}

impl std::fmt::Debug for OutboundClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundClient")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl OutboundClient {
    /// Validates the policy and builds the client. `resolver` resolves names
    /// ([`crate::SystemResolver`] in production, a [`crate::StaticResolver`] in tests).
    pub fn new(
        policy: OutboundPolicy,
        resolver: Arc<dyn NameResolver>,
    ) -> Result<Self, OutboundError> {
        policy.validate()?;
        let client = OutboundClient {
            policy: Arc::new(policy),
            resolver,
            clients: Arc::new(Mutex::new(Vec::new())),
        };
        // Build the default client now, so configuration errors surface here.
        client.reqwest_for(&RequestLimits::default().effective(&client.policy))?;
        Ok(client)
    }

    /// The policy in force.
    pub fn policy(&self) -> &OutboundPolicy {
        &self.policy
    }

    /// Sends a request and returns as soon as the response headers arrive;
    /// the body streams (capped, time-limited) through [`BodyStream`].
    ///
    /// Refused before any connection: bad scheme, host not allowed, an IP
    /// literal the policy refuses, a name whose addresses are all refused,
    /// and the same on every redirect hop. A Content-Length above the cap
    /// fails here; a longer chunked body fails while streaming.
    pub async fn send(
        &self,
        req: Request<Bytes>,
        limits: &RequestLimits,
    ) -> Result<Response<BodyStream>, OutboundError> {
        let (parts, body) = req.into_parts();
        self.send_parts(parts, body.into(), limits).await
    }

    /// Like [`OutboundClient::send`], with a streamed request body (such as a
    /// plugin's `wasi:http` outgoing body): it is forwarded as it is produced,
    /// never buffered whole.
    pub async fn send_body<B>(
        &self,
        req: Request<B>,
        limits: &RequestLimits,
    ) -> Result<Response<BodyStream>, OutboundError>
    where
        B: http_body::Body + Send + Sync + 'static,
        B::Data: Into<Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        self.send_parts(parts, reqwest::Body::wrap(body), limits)
            .await
    }

    async fn send_parts(
        &self,
        parts: http::request::Parts,
        body: reqwest::Body,
        limits: &RequestLimits,
    ) -> Result<Response<BodyStream>, OutboundError> {
        let eff = limits.effective(&self.policy);
        let started = Instant::now();
        let deadline = started + eff.total_timeout;
        let uri = parts.uri.to_string();
        let url = Url::parse(&uri).map_err(|e| OutboundError::InvalidUrl {
            url: uri.clone(),
            reason: e.to_string(),
        })?;
        self.policy.check_url(&url)?;

        let mut request = reqwest::Request::new(parts.method, url);
        let mut headers = parts.headers;
        for name in &STRIPPED_HEADERS {
            headers.remove(name);
        }
        *request.headers_mut() = headers;
        *request.body_mut() = Some(body);

        let client = self.reqwest_for(&eff)?;
        let head_deadline = deadline.min(started + eff.first_byte_timeout);
        let response = match tokio::time::timeout_at(head_deadline, client.execute(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Err(OutboundError::from_reqwest(&e, eff.connect_timeout)),
            Err(_elapsed) if head_deadline < deadline => {
                return Err(OutboundError::FirstByteTimeout {
                    after: eff.first_byte_timeout,
                });
            }
            Err(_elapsed) => {
                return Err(OutboundError::Timeout {
                    after: eff.total_timeout,
                });
            }
        };
        if response
            .content_length()
            .is_some_and(|len| len > eff.max_body_bytes)
        {
            return Err(OutboundError::BodyTooLarge {
                cap: eff.max_body_bytes,
            });
        }
        let response: Response<reqwest::Body> = response.into();
        Ok(response.map(|body| {
            BodyStream::new(
                body,
                eff.max_body_bytes,
                deadline,
                eff.total_timeout,
                eff.connect_timeout,
            )
        }))
    }

    /// GETs `url` and reads the whole (capped) body.
    pub async fn get_bytes(
        &self,
        url: &str,
        limits: &RequestLimits,
    ) -> Result<(StatusCode, HeaderMap, Bytes), OutboundError> {
        let request =
            Request::get(url)
                .body(Bytes::new())
                .map_err(|e| OutboundError::InvalidUrl {
                    url: url.to_owned(),
                    reason: e.to_string(),
                })?;
        let (parts, body) = self.send(request, limits).await?.into_parts();
        Ok((parts.status, parts.headers, body.bytes().await?))
    }

    /// The reqwest client for these limits (cached per connect timeout and
    /// redirect limit, which reqwest fixes per client).
    fn reqwest_for(&self, eff: &EffectiveLimits) -> Result<reqwest::Client, OutboundError> {
        let key = (eff.connect_timeout, eff.max_redirects);
        let mut cache = self
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, client)) = cache.iter().find(|(k, _)| *k == key) {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(PolicyResolver {
                policy: Arc::clone(&self.policy),
                inner: Arc::clone(&self.resolver),
            }))
            .redirect(redirect::checked(
                Arc::clone(&self.policy),
                eff.max_redirects,
            ))
            .connect_timeout(eff.connect_timeout)
            .build()
            .map_err(|e| OutboundError::InvalidPolicy(format!("cannot build HTTP client: {e}")))?;
        if cache.len() < MAX_CACHED_CLIENTS {
            cache.push((key, client.clone()));
        }
        Ok(client)
    }
}
