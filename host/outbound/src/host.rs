//! Host parsing: recognise every IP-literal notation as the address it means.
//!
//! URLs are parsed with the `url` crate, which implements WHATWG host parsing:
//! decimal (`2130706433`), octal (`0177.0.0.1`), hex (`0x7f.1`), short forms
//! (`127.1`), a trailing dot, percent-encoding and full-width digits all come
//! out as `Host::Ipv4`; reqwest connects to exactly that address. As a second
//! line of defence, every name the `url` crate leaves as a domain is run
//! through [`legacy_ipv4`], a parser for the looser `inet_aton` notations, so a
//! name that a system resolver would read as an address is judged as one.

use std::net::{IpAddr, Ipv4Addr};

/// A parsed host: an address literal, or a (lower-case, ASCII) domain name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostKind {
    /// An IP literal in any notation.
    Ip(IpAddr),
    /// A domain name, lower-case ASCII (IDNA applied), without a trailing dot.
    Domain(String),
}

impl HostKind {
    /// Classifies a host the `url` crate has already parsed.
    pub fn from_url_host(host: url::Host<&str>) -> Self {
        match host {
            url::Host::Ipv4(v4) => HostKind::Ip(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => HostKind::Ip(IpAddr::V6(v6)),
            url::Host::Domain(name) => Self::from_domain(name),
        }
    }

    fn from_domain(name: &str) -> Self {
        if let Some(v4) = legacy_ipv4(name) {
            return HostKind::Ip(IpAddr::V4(v4));
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        HostKind::Domain(name.to_ascii_lowercase())
    }
}

/// Parses a bare host (as in an HTTP authority without port, or an allow-list
/// entry) with WHATWG semantics: `[::1]`, `0x7f.1` and `bücher.de` work.
/// Returns `None` for what is not a valid host (including IPv6 zone ids,
/// which WHATWG refuses).
pub fn parse_host(input: &str) -> Option<HostKind> {
    let input = input.trim();
    if input.is_empty() {
        return None;
    }
    match url::Host::parse(input).ok()? {
        url::Host::Ipv4(v4) => Some(HostKind::Ip(IpAddr::V4(v4))),
        url::Host::Ipv6(v6) => Some(HostKind::Ip(IpAddr::V6(v6))),
        url::Host::Domain(name) => Some(HostKind::from_domain(&name)),
    }
}

/// Parses the historical `inet_aton` IPv4 notations: one to four parts, each
/// decimal, octal (leading `0`) or hex (`0x`), the last part filling the
/// remaining bytes; one trailing dot allowed. `None` if `s` is not one.
pub fn legacy_ipv4(s: &str) -> Option<Ipv4Addr> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        return None;
    }
    let mut parts = [0u32; 4];
    let mut count = 0;
    for part in s.split('.') {
        if count == 4 {
            return None;
        }
        parts[count] = parse_number(part)?;
        count += 1;
    }
    let (init, last) = (&parts[..count - 1], parts[count - 1]);
    if init.iter().any(|&p| p > 255) {
        return None;
    }
    let last_bits = 8 * (5 - count as u32); // bits the last part may fill
    if last_bits < 32 && last >= 1 << last_bits {
        return None;
    }
    let mut value = last;
    for (i, &p) in init.iter().enumerate() {
        value |= p << (24 - 8 * i);
    }
    Some(Ipv4Addr::from(value))
}

fn parse_number(part: &str) -> Option<u32> {
    let (digits, radix) = if let Some(hex) = part.strip_prefix("0x").or(part.strip_prefix("0X")) {
        (hex, 16)
    } else if part.len() > 1 && part.starts_with('0') {
        (&part[1..], 8)
    } else {
        (part, 10)
    };
    if digits.is_empty() {
        // "0x" alone is 0 in both WHATWG and glibc; a bare "" is not a number.
        return (radix == 16).then_some(0);
    }
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_notations() {
        let lo = Some(Ipv4Addr::LOCALHOST);
        assert_eq!(legacy_ipv4("2130706433"), lo);
        assert_eq!(legacy_ipv4("0177.0.0.1"), lo);
        assert_eq!(legacy_ipv4("017700000001"), lo);
        assert_eq!(legacy_ipv4("0x7f.0.0.1"), lo);
        assert_eq!(legacy_ipv4("0x7F000001"), lo);
        assert_eq!(legacy_ipv4("127.1"), lo);
        assert_eq!(legacy_ipv4("127.0.1"), lo);
        assert_eq!(legacy_ipv4("0x7f.0.1"), lo);
        assert_eq!(legacy_ipv4("127.0.0.1."), lo);
        assert_eq!(legacy_ipv4("0"), Some(Ipv4Addr::UNSPECIFIED));
    }

    #[test]
    fn legacy_rejects_non_numbers_and_overflow() {
        assert_eq!(legacy_ipv4("example.com"), None);
        assert_eq!(legacy_ipv4("256.0.0.1"), None);
        assert_eq!(legacy_ipv4("1.2.3.256"), None);
        assert_eq!(legacy_ipv4("1.2.65536"), None);
        assert_eq!(legacy_ipv4("4294967296"), None);
        assert_eq!(legacy_ipv4("1.2.3.4.5"), None);
        assert_eq!(legacy_ipv4("08.0.0.1"), None);
        assert_eq!(legacy_ipv4("1..2"), None);
        assert_eq!(legacy_ipv4(""), None);
        assert_eq!(legacy_ipv4("."), None);
        assert_eq!(legacy_ipv4("0x7g.0.0.1"), None);
    }

    #[test]
    fn parse_host_normalises_names_and_literals() {
        assert_eq!(
            parse_host("Example.COM."),
            Some(HostKind::Domain("example.com".into()))
        );
        assert_eq!(
            parse_host("[::1]"),
            Some(HostKind::Ip("::1".parse().unwrap()))
        );
        assert_eq!(
            parse_host("0x7f.1"),
            Some(HostKind::Ip("127.0.0.1".parse().unwrap()))
        );
        assert_eq!(parse_host("[fe80::1%25eth0]"), None);
        assert_eq!(parse_host(""), None);
    }
}
