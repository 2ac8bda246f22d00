//! The one error type of outbound requests, and the mapping from reqwest's.

use std::error::Error as StdError;
use std::net::IpAddr;
use std::time::Duration;

/// Why an outbound request failed.
///
/// [`OutboundError::is_denied`] separates refusals by policy or limits (the same
/// request will fail again) from network failures (it might succeed later).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// The URL could not be parsed or has no host.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The policy itself is invalid (a bad allow-list entry, a zero timeout).
    #[error("invalid outbound policy: {0}")]
    InvalidPolicy(String),
    /// The host is not in the step's allow-list.
    #[error(
        "host {host:?} is not in the allowed hosts; add it to the step's allowed_hosts to reach it"
    )]
    HostNotAllowed {
        /// The host, normalised (lower-case, IP literals in standard notation).
        host: String,
    },
    /// The host is (or resolves to) an address the policy refuses.
    #[error("refused to connect to {host:?}: {reason}")]
    AddressRefused {
        /// The host as requested.
        host: String,
        /// The refused address (the first one, if the name had several).
        addr: IpAddr,
        /// Why, e.g. "127.0.0.1 is a loopback address (127.0.0.0/8)".
        reason: String,
    },
    /// More redirects than the policy allows.
    #[error("too many redirects: more than {max} (the limit is max_redirects)")]
    TooManyRedirects {
        /// The limit in force.
        max: u32,
    },
    /// A scheme other than http or https (also on a redirect hop).
    #[error("unsupported URL scheme {scheme:?}: only http and https are allowed")]
    BadScheme {
        /// The scheme found.
        scheme: String,
    },
    /// The host name could not be resolved.
    #[error("could not resolve {host:?}: {message}")]
    Dns {
        /// The name.
        host: String,
        /// The resolver's message.
        message: String,
    },
    /// No TCP/TLS connection within the connect timeout.
    #[error("connect timed out after {after:?}")]
    ConnectTimeout {
        /// The connect timeout in force.
        after: Duration,
    },
    /// No response headers within the first-byte timeout.
    #[error("no response headers within {after:?} (first-byte timeout)")]
    FirstByteTimeout {
        /// The first-byte timeout in force.
        after: Duration,
    },
    /// The whole exchange, body included, took longer than the total timeout.
    #[error("request did not complete within {after:?} (total timeout)")]
    Timeout {
        /// The total timeout in force.
        after: Duration,
    },
    /// The response body is larger than the cap.
    #[error("response body larger than the cap of {cap} bytes (max_body_bytes)")]
    BodyTooLarge {
        /// The cap in force.
        cap: u64,
    },
    /// The connection failed (refused, reset, TLS handshake).
    #[error("connection failed: {0}")]
    Connect(String),
    /// Any other HTTP-level failure (malformed response, reset mid-body).
    #[error("HTTP error: {0}")]
    Http(String),
}

impl OutboundError {
    /// True for refusals by policy or limits (allow-list, address, scheme,
    /// redirects, body cap, invalid URL or policy): retrying will not help.
    /// False for network failures and timeouts.
    pub fn is_denied(&self) -> bool {
        matches!(
            self,
            OutboundError::InvalidUrl { .. }
                | OutboundError::InvalidPolicy(_)
                | OutboundError::HostNotAllowed { .. }
                | OutboundError::AddressRefused { .. }
                | OutboundError::TooManyRedirects { .. }
                | OutboundError::BadScheme { .. }
                | OutboundError::BodyTooLarge { .. }
        )
    }

    /// Maps a reqwest error, recovering our own errors raised inside the
    /// resolver or the redirect policy (reqwest wraps them as sources).
    pub(crate) fn from_reqwest(err: &reqwest::Error, connect_timeout: Duration) -> Self {
        let mut source: Option<&(dyn StdError + 'static)> = Some(err);
        while let Some(e) = source {
            if let Some(ours) = e.downcast_ref::<OutboundError>() {
                return ours.clone();
            }
            source = e.source();
        }
        if err.is_connect() && err.is_timeout() {
            OutboundError::ConnectTimeout {
                after: connect_timeout,
            }
        } else if err.is_connect() {
            OutboundError::Connect(chain(err))
        } else {
            OutboundError::Http(chain(err))
        }
    }
}

/// "outer: inner: innermost", skipping repeats (hyper often repeats itself).
fn chain(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let msg = e.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        source = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_vs_network() {
        assert!(OutboundError::HostNotAllowed { host: "x".into() }.is_denied());
        assert!(OutboundError::BodyTooLarge { cap: 1 }.is_denied());
        assert!(!OutboundError::Connect("refused".into()).is_denied());
        assert!(
            !OutboundError::Timeout {
                after: Duration::from_secs(1)
            }
            .is_denied()
        );
    }

    #[test]
    fn messages_say_what_to_change() {
        let e = OutboundError::HostNotAllowed {
            host: "example.com".into(),
        };
        assert!(e.to_string().contains("allowed_hosts"), "{e}");
        let e = OutboundError::BodyTooLarge { cap: 10 };
        assert!(e.to_string().contains("max_body_bytes"), "{e}");
    }
}
