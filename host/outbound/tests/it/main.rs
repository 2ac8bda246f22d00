//! Integration tests of framepipe-outbound, one binary. Only loopback traffic:
//! the fixture server on 127.0.0.1; every other address must be refused
//! before any connection, and names resolve through a static map.

mod client;
mod fixture;
mod notations;
mod resolver;

use std::net::IpAddr;
use std::sync::Arc;

use framepipe_outbound::{OutboundClient, OutboundPolicy, StaticResolver};

/// A policy allowing `hosts`, loopback as given, default limits otherwise.
pub fn policy(hosts: &[&str], allow_loopback: bool) -> OutboundPolicy {
    OutboundPolicy {
        allowed_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        allow_loopback,
        ..OutboundPolicy::default()
    }
}

/// A client under `policy`, resolving names only through `names`.
pub fn client(policy: OutboundPolicy, names: &[(&str, &[&str])]) -> OutboundClient {
    let mut resolver = StaticResolver::new();
    for (name, addrs) in names {
        resolver = resolver.with(
            name,
            addrs
                .iter()
                .map(|a| a.parse::<IpAddr>().expect("test address")),
        );
    }
    OutboundClient::new(policy, Arc::new(resolver)).expect("valid test policy")
}
