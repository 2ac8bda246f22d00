//! Outbound HTTP for framepipe plugins, with SSRF defences.
//!
//! A plugin's HTTP request goes through [`OutboundClient`], which enforces an
//! [`OutboundPolicy`]:
//! - [`policy`]: host allow-list, scheme, and the per-address verdicts;
//! - [`addr`]: which IP addresses are public, and why the others are refused;
//! - [`host`]: every IP-literal notation recognised as the address it means;
//! - [`resolve`]: names resolved by an injectable resolver, refused addresses
//!   dropped *after* resolution, so reqwest only connects to checked addresses;
//! - `redirect`: every hop re-checked, hops counted;
//! - [`limits`]: connect, first-byte and total timeouts, body cap, lowered per request;
//! - [`body`]: the streamed response body, failing past the cap or deadline;
//! - [`error`]: [`OutboundError`], with [`OutboundError::is_denied`].
//!
//! Proxies from the environment are ignored (`no_proxy`): a proxy would
//! resolve names itself and defeat the address checks. Responses are not
//! decompressed, so the cap counts bytes on the wire.

pub mod addr;
pub mod body;
mod client;
pub mod error;
pub mod host;
pub mod limits;
pub mod policy;
mod redirect;
pub mod resolve;

pub use addr::{AddrClass, AddrInfo, classify};
pub use body::BodyStream;
pub use client::OutboundClient;
pub use error::OutboundError;
pub use host::{HostKind, parse_host};
pub use limits::{EffectiveLimits, RequestLimits};
pub use policy::OutboundPolicy;
pub use resolve::{NameResolver, StaticResolver, SystemResolver};
