//! The outbound policy: plain data (from a step's TOML), plus the decisions
//! made from it: is this URL allowed, is this address reachable, which of the
//! resolved addresses may be used.

use std::net::IpAddr;

use serde::Deserialize;
use url::Url;

use crate::addr::{AddrClass, AddrInfo, classify};
use crate::error::OutboundError;
use crate::host::{HostKind, parse_host};

/// What a plugin may reach over HTTP. Deserialised with `deny_unknown_fields`,
/// missing fields take the defaults below (which deny everything).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundPolicy {
    /// Exact host names or IP literals (`api.example.com`, `127.0.0.1`, `[::1]`),
    /// `*.example.com` (any subdomain of example.com, not example.com itself),
    /// or `*` (any host). Empty denies everything. Address checks apply in all cases.
    pub allowed_hosts: Vec<String>,
    /// Allow loopback addresses (127.0.0.0/8, ::1). Off by default; for tests.
    pub allow_loopback: bool,
    /// Allow private-network addresses (RFC 1918, CGNAT, ULA, site-local).
    pub allow_private: bool,
    /// Redirects followed per request; each hop is checked like the first URL.
    pub max_redirects: u32,
    /// Time to establish the TCP (and TLS) connection, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Time until response headers arrive (connect and redirects included), ms.
    pub first_byte_timeout_ms: u64,
    /// Time for the whole exchange, body included, in milliseconds.
    pub total_timeout_ms: u64,
    /// Largest response body accepted, in bytes.
    pub max_body_bytes: u64,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        OutboundPolicy {
            allowed_hosts: Vec::new(),
            allow_loopback: false,
            allow_private: false,
            max_redirects: 5,
            connect_timeout_ms: 5_000,
            first_byte_timeout_ms: 10_000,
            total_timeout_ms: 60_000,
            max_body_bytes: 64 * 1024 * 1024,
        }
    }
}

/// One parsed allow-list entry.
#[derive(Clone, Debug, PartialEq, Eq)]
enum HostPattern {
    Any,
    Ip(IpAddr),
    Exact(String),
    /// Stored with its leading dot: ".example.com".
    Suffix(String),
}

impl HostPattern {
    fn parse(entry: &str) -> Result<Self, String> {
        let entry = entry.trim();
        if entry == "*" {
            return Ok(HostPattern::Any);
        }
        let (wildcard, rest) = match entry.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, entry),
        };
        if rest.contains('*') {
            return Err(format!(
                "{entry:?}: '*' is allowed only alone or as a leading '*.'"
            ));
        }
        match (wildcard, parse_host(rest)) {
            (false, Some(HostKind::Ip(ip))) => Ok(HostPattern::Ip(ip)),
            (false, Some(HostKind::Domain(d))) => Ok(HostPattern::Exact(d)),
            (true, Some(HostKind::Domain(d))) if !d.is_empty() => {
                Ok(HostPattern::Suffix(format!(".{d}")))
            }
            (true, Some(HostKind::Ip(_))) => Err(format!("{entry:?}: '*.' cannot prefix an IP")),
            _ => Err(format!("{entry:?} is not a valid host name or IP literal")),
        }
    }

    fn matches(&self, host: &HostKind) -> bool {
        match (self, host) {
            (HostPattern::Any, _) => true,
            (HostPattern::Ip(a), HostKind::Ip(b)) => a == b,
            (HostPattern::Exact(a), HostKind::Domain(b)) => a == b,
            (HostPattern::Suffix(s), HostKind::Domain(b)) => b.len() > s.len() && b.ends_with(s),
            _ => false,
        }
    }
}

impl OutboundPolicy {
    /// Checks every allow-list entry and limit; call once when loading a policy.
    pub fn validate(&self) -> Result<(), OutboundError> {
        for entry in &self.allowed_hosts {
            HostPattern::parse(entry).map_err(OutboundError::InvalidPolicy)?;
        }
        let limits = [
            ("connect_timeout_ms", self.connect_timeout_ms),
            ("first_byte_timeout_ms", self.first_byte_timeout_ms),
            ("total_timeout_ms", self.total_timeout_ms),
        ];
        for (name, value) in limits {
            if value == 0 {
                return Err(OutboundError::InvalidPolicy(format!(
                    "{name} must be above 0"
                )));
            }
        }
        Ok(())
    }

    /// Whether the allow-list admits `host` (invalid entries never match).
    pub fn is_host_allowed(&self, host: &HostKind) -> bool {
        self.allowed_hosts
            .iter()
            .filter_map(|entry| HostPattern::parse(entry).ok())
            .any(|pattern| pattern.matches(host))
    }

    /// Judges one address under this policy; the error says why it is refused.
    pub fn check_addr(&self, addr: IpAddr) -> Result<(), AddrInfo> {
        let info = classify(addr);
        let allowed = match info.class {
            AddrClass::Public => true,
            AddrClass::Loopback => self.allow_loopback,
            AddrClass::Private => self.allow_private,
            _ => false,
        };
        if allowed { Ok(()) } else { Err(info) }
    }

    /// Checks a URL before any connection: scheme http/https, host in the
    /// allow-list, and an IP-literal host judged as an address. Names are
    /// judged later, after resolution ([`OutboundPolicy::check_resolved`]).
    pub fn check_url(&self, url: &Url) -> Result<HostKind, OutboundError> {
        let scheme = url.scheme();
        if scheme != "http" && scheme != "https" {
            return Err(OutboundError::BadScheme {
                scheme: scheme.to_owned(),
            });
        }
        let Some(host) = url.host() else {
            return Err(OutboundError::InvalidUrl {
                url: url.to_string(),
                reason: "no host".into(),
            });
        };
        let host = HostKind::from_url_host(host);
        self.check_host(&host)?;
        Ok(host)
    }

    /// Checks a parsed host: allow-list, and the address if it is a literal.
    pub fn check_host(&self, host: &HostKind) -> Result<(), OutboundError> {
        if !self.is_host_allowed(host) {
            return Err(OutboundError::HostNotAllowed {
                host: display_host(host),
            });
        }
        if let HostKind::Ip(ip) = host {
            self.check_addr(*ip)
                .map_err(|info| refused(&display_host(host), &info))?;
        }
        Ok(())
    }

    /// Decides which addresses a resolved `host` may be reached at: the host
    /// must be allowed, refused addresses are dropped, and if none is left
    /// the error names the first refusal.
    pub fn check_resolved(
        &self,
        host: &str,
        addrs: &[IpAddr],
    ) -> Result<Vec<IpAddr>, OutboundError> {
        let kind = parse_host(host).unwrap_or_else(|| HostKind::Domain(host.to_ascii_lowercase()));
        if !self.is_host_allowed(&kind) {
            return Err(OutboundError::HostNotAllowed {
                host: display_host(&kind),
            });
        }
        let mut first_refusal = None;
        let mut usable = Vec::with_capacity(addrs.len());
        for &addr in addrs {
            match self.check_addr(addr) {
                Ok(()) => usable.push(addr),
                Err(info) => {
                    tracing::debug!(host, %addr, reason = %info, "dropping refused address");
                    first_refusal.get_or_insert(info);
                }
            }
        }
        match (usable.is_empty(), first_refusal) {
            (false, _) => Ok(usable),
            (true, Some(info)) => Err(refused(host, &info)),
            (true, None) => Err(OutboundError::Dns {
                host: host.to_owned(),
                message: "the name resolved to no addresses".into(),
            }),
        }
    }
}

fn display_host(host: &HostKind) -> String {
    match host {
        HostKind::Ip(ip) => ip.to_string(),
        HostKind::Domain(d) => d.clone(),
    }
}

fn refused(host: &str, info: &AddrInfo) -> OutboundError {
    OutboundError::AddressRefused {
        host: host.to_owned(),
        addr: info.addr,
        reason: info.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str]) -> OutboundPolicy {
        OutboundPolicy {
            allowed_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            ..OutboundPolicy::default()
        }
    }

    fn allowed(p: &OutboundPolicy, host: &str) -> bool {
        p.is_host_allowed(&parse_host(host).expect("test host parses"))
    }

    #[test]
    fn empty_allow_list_denies_everything() {
        let p = OutboundPolicy::default();
        assert!(!allowed(&p, "example.com"));
        assert!(!allowed(&p, "8.8.8.8"));
    }

    #[test]
    fn suffix_patterns_match_subdomains_only() {
        let p = policy(&["*.example.com"]);
        assert!(allowed(&p, "a.example.com"));
        assert!(allowed(&p, "a.b.EXAMPLE.com."));
        assert!(!allowed(&p, "example.com"));
        assert!(!allowed(&p, "evilexample.com"));
        assert!(!allowed(&p, "example.com.evil.net"));
    }

    #[test]
    fn ip_entries_match_by_value_in_any_notation() {
        let p = policy(&["127.0.0.1", "[::1]"]);
        assert!(allowed(&p, "2130706433"));
        assert!(allowed(&p, "0x7f.1"));
        assert!(allowed(&p, "[0:0::1]"));
        assert!(!allowed(&p, "127.0.0.2"));
    }

    #[test]
    fn validate_rejects_bad_entries_and_zero_timeouts() {
        assert!(
            policy(&["*", "*.a.com", "b.com", "10.0.0.1"])
                .validate()
                .is_ok()
        );
        for bad in ["a.*.com", "*.", "*.1.2.3.4", "foo*", "", "[::1"] {
            assert!(
                policy(&[bad]).validate().is_err(),
                "{bad:?} should be rejected"
            );
        }
        let zero = OutboundPolicy {
            total_timeout_ms: 0,
            ..OutboundPolicy::default()
        };
        assert!(zero.validate().is_err());
    }

    #[test]
    fn toml_typos_are_errors() {
        let ok: OutboundPolicy =
            toml::from_str("allowed_hosts = [\"a.com\"]\nmax_redirects = 2").unwrap();
        assert_eq!(ok.max_redirects, 2);
        assert_eq!(ok.max_body_bytes, OutboundPolicy::default().max_body_bytes);
        assert!(toml::from_str::<OutboundPolicy>("allowed_host = [\"a.com\"]").is_err());
    }

    #[test]
    fn metadata_is_refused_even_with_private_and_loopback_allowed() {
        let p = OutboundPolicy {
            allow_private: true,
            allow_loopback: true,
            ..policy(&["*"])
        };
        assert!(p.check_addr("169.254.169.254".parse().unwrap()).is_err());
        assert!(p.check_addr("fd00:ec2::254".parse().unwrap()).is_err());
        assert!(p.check_addr("10.0.0.1".parse().unwrap()).is_ok());
        assert!(p.check_addr("127.0.0.1".parse().unwrap()).is_ok());
    }
}
