//! Name resolution: an injectable resolver, and the reqwest adapter that
//! judges every resolved address before reqwest may connect to it.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use futures::future::BoxFuture;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::error::OutboundError;
use crate::policy::OutboundPolicy;

/// Resolves a host name to addresses. Implement it to plug in another
/// resolver (or a fixed map in tests); [`SystemResolver`] is the default.
pub trait NameResolver: Send + Sync + 'static {
    /// All addresses of `host` (a domain name, never an IP literal).
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// The system resolver, through `tokio::net::lookup_host` (getaddrinfo).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

impl NameResolver for SystemResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host, 0)).await?;
            Ok(addrs.map(|sa| sa.ip()).collect())
        })
    }
}

/// A fixed map from names to addresses; unknown names fail with `NotFound`.
#[derive(Clone, Debug, Default)]
pub struct StaticResolver {
    names: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a name's addresses.
    pub fn with(mut self, host: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.names
            .insert(host.to_ascii_lowercase(), addrs.into_iter().collect());
        self
    }
}

impl NameResolver for StaticResolver {
    fn lookup<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        let key = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let found = self.names.get(&key).cloned();
        Box::pin(async move {
            found.ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "name not in the static map")
            })
        })
    }
}

/// reqwest's resolver: resolve with the inner resolver, then keep only the
/// addresses the policy allows. reqwest connects only to what this returns,
/// so there is no gap between the check and the connection (no DNS rebinding).
pub(crate) struct PolicyResolver {
    pub(crate) policy: Arc<OutboundPolicy>,
    pub(crate) inner: Arc<dyn NameResolver>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let inner = Arc::clone(&self.inner);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = inner.lookup(&host).await.map_err(|e| OutboundError::Dns {
                host: host.clone(),
                message: e.to_string(),
            })?;
            let usable = policy.check_resolved(&host, &found)?;
            let addrs: Addrs = Box::new(usable.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
