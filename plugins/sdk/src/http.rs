//! Outbound HTTP through `wasi:http`, checked by the host against the step's allowed hosts.
//!
//! The host refuses hosts the pipeline step does not allow and any private, loopback or
//! metadata address; such a refusal comes back as an [`HttpError`].

use crate::StepError;
use wasi::http::outgoing_handler;
use wasi::http::types::{ErrorCode, Fields, IncomingBody, Method, OutgoingRequest, Scheme};
use wasi::io::streams::StreamError;

/// A response read whole (up to the byte cap given to [`get`]).
#[derive(Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A failed HTTP request: refused by policy, unreachable, timed out, or too large.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// What happened.
    pub message: String,
    /// True when the host's outbound policy refused the request.
    pub denied: bool,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<HttpError> for StepError {
    fn from(e: HttpError) -> Self {
        if e.denied {
            StepError::invalid_input(format!("request refused: {}", e.message))
        } else {
            StepError::unavailable(e.message)
        }
    }
}

fn error(message: impl Into<String>) -> HttpError {
    HttpError {
        message: message.into(),
        denied: false,
    }
}

/// How the host words a refusal by its outbound policy (see the host's `HttpRequestFilter`).
const POLICY_REFUSAL: &str = "outbound policy:";

fn from_code(code: ErrorCode) -> HttpError {
    let (message, denied) = match code {
        ErrorCode::InternalError(Some(m)) => {
            let denied = m.starts_with(POLICY_REFUSAL);
            (m, denied)
        }
        ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => {
            (format!("{code:?}"), true)
        }
        other => (format!("{other:?}"), false),
    };
    HttpError { message, denied }
}

/// GETs `url` and reads at most `max_bytes` of the body.
pub fn get(url: &str, max_bytes: usize) -> Result<Response, HttpError> {
    get_with_headers(url, &[], max_bytes)
}

/// GETs `url` with extra request headers (e.g. `range`) and reads at most `max_bytes`.
pub fn get_with_headers(
    url: &str,
    headers: &[(&str, &str)],
    max_bytes: usize,
) -> Result<Response, HttpError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| error(format!("not an absolute URL: {url}")))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(error(format!("unsupported scheme `{other}`"))),
    };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = path.split('#').next().unwrap_or("");
    let path = if path.is_empty() {
        "/".to_owned()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };

    let fields = Fields::new();
    for (name, value) in headers {
        fields
            .append(name, value.as_bytes())
            .map_err(|e| error(format!("bad header {name}: {e:?}")))?;
    }
    let request = OutgoingRequest::new(fields);
    let ok = request.set_method(&Method::Get).is_ok()
        && request.set_scheme(Some(&scheme)).is_ok()
        && request.set_authority(Some(authority)).is_ok()
        && request.set_path_with_query(Some(&path)).is_ok();
    if !ok {
        return Err(error(format!("invalid URL: {url}")));
    }
    let pending = outgoing_handler::handle(request, None).map_err(from_code)?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or_else(|| error("response not ready"))?
        .map_err(|()| error("response already taken"))?
        .map_err(from_code)?;

    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(n, v)| {
            (
                n.to_ascii_lowercase(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect();
    let body = response
        .consume()
        .map_err(|()| error("body already taken"))?;
    let stream = body
        .stream()
        .map_err(|()| error("body stream already taken"))?;
    let mut data = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => {
                if data.len() + chunk.len() > max_bytes {
                    return Err(error(format!(
                        "response body larger than {max_bytes} bytes"
                    )));
                }
                data.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(error(format!("reading body: {}", e.to_debug_string())));
            }
        }
    }
    drop(stream);
    let _ = IncomingBody::finish(body);
    Ok(Response {
        status,
        headers,
        body: data,
    })
}
