//! Classification of IP addresses: which ones a plugin may reach.
//!
//! [`classify`] puts every address in exactly one [`AddrClass`] and names the
//! range it fell in, so a refusal can say why (`127.0.0.1 is a loopback
//! address (127.0.0.0/8)`). IPv6 forms that carry an IPv4 address (IPv4-mapped,
//! NAT64, 6to4) are judged by the IPv4 address they carry; deprecated or
//! tunnelling forms (IPv4-compatible, Teredo) are refused outright because the
//! host cannot know where they finally lead.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kind of an address, as far as outbound policy is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddrClass {
    /// Globally routable unicast: the only class reachable by default.
    Public,
    /// Loopback (`127.0.0.0/8`, `::1`); reachable only with `allow_loopback`.
    Loopback,
    /// Private networks (RFC 1918, CGNAT `100.64.0.0/10`, ULA `fc00::/7`,
    /// site-local `fec0::/10`, local-use NAT64); reachable only with `allow_private`.
    Private,
    /// Link-local (`169.254.0.0/16`, `fe80::/10`); never reachable.
    LinkLocal,
    /// Cloud instance metadata services; never reachable, whatever the policy.
    CloudMetadata,
    /// `0.0.0.0`, `::` and `0.0.0.0/8`; never reachable.
    Unspecified,
    /// Multicast; never reachable.
    Multicast,
    /// `255.255.255.255`; never reachable.
    Broadcast,
    /// Documentation and benchmarking ranges; never reachable.
    Documentation,
    /// Reserved, IETF protocol assignments, discard, or outside IPv6 global unicast.
    Reserved,
    /// Tunnelling or deprecated IPv6 forms that can lead to any IPv4 address
    /// (Teredo, IPv4-compatible); never reachable.
    Tunnel,
}

impl AddrClass {
    /// A phrase for messages: "a loopback address".
    pub fn describe(self) -> &'static str {
        match self {
            AddrClass::Public => "a public address",
            AddrClass::Loopback => "a loopback address",
            AddrClass::Private => "a private-network address",
            AddrClass::LinkLocal => "a link-local address",
            AddrClass::CloudMetadata => "a cloud metadata service address",
            AddrClass::Unspecified => "an unspecified / this-network address",
            AddrClass::Multicast => "a multicast address",
            AddrClass::Broadcast => "the broadcast address",
            AddrClass::Documentation => "a documentation or benchmarking address",
            AddrClass::Reserved => "a reserved or special-purpose address",
            AddrClass::Tunnel => "a tunnelling / deprecated IPv6 form",
        }
    }
}

/// How an IPv6 address carries an IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Embedding {
    /// `::ffff:a.b.c.d`
    Ipv4Mapped,
    /// `::a.b.c.d` (deprecated)
    Ipv4Compatible,
    /// `64:ff9b::a.b.c.d`
    Nat64,
    /// `2002:AABB:CCDD::/48`
    SixToFour,
    /// `2001:0::/32`, the client address stored inverted in the last 32 bits
    Teredo,
}

impl Embedding {
    fn name(self) -> &'static str {
        match self {
            Embedding::Ipv4Mapped => "IPv4-mapped",
            Embedding::Ipv4Compatible => "IPv4-compatible",
            Embedding::Nat64 => "NAT64",
            Embedding::SixToFour => "6to4",
            Embedding::Teredo => "Teredo",
        }
    }
}

/// The verdict on one address: its class, the range that decided it, and the
/// IPv4 address it carries if it is one of the IPv6 embedding forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    /// The address as given.
    pub addr: IpAddr,
    /// Its class (for embedding forms: the class that decides reachability).
    pub class: AddrClass,
    /// The special-purpose range it fell in, e.g. `"127.0.0.0/8"`; empty for public.
    pub range: &'static str,
    /// The IPv4 address an IPv6 form carries, and how.
    pub embedded: Option<(Embedding, Ipv4Addr)>,
}

impl fmt::Display for AddrInfo {
    /// "127.0.0.1 is a loopback address (127.0.0.0/8)", or for embedded forms
    /// "::ffff:127.0.0.1 embeds 127.0.0.1 (IPv4-mapped), a loopback address (127.0.0.0/8)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.embedded {
            Some((how, v4)) => write!(f, "{} embeds {v4} ({}), ", self.addr, how.name())?,
            None => write!(f, "{} is ", self.addr)?,
        }
        f.write_str(self.class.describe())?;
        if !self.range.is_empty() {
            write!(f, " ({})", self.range)?;
        }
        Ok(())
    }
}

/// Classifies an address. Pure and allocation-free.
pub fn classify(addr: IpAddr) -> AddrInfo {
    match addr {
        IpAddr::V4(v4) => {
            let (class, range) = classify_v4(v4);
            AddrInfo {
                addr,
                class,
                range,
                embedded: None,
            }
        }
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Whether `addr` is public (reachable under the default policy).
pub fn is_public(addr: IpAddr) -> bool {
    classify(addr).class == AddrClass::Public
}

/// IPv4 special-purpose ranges, most specific first (first match wins).
/// Sources: IANA IPv4 Special-Purpose Address Registry, cloud provider docs.
#[rustfmt::skip]
const V4_RANGES: &[(Ipv4Addr, u8, AddrClass, &str)] = &[
    (Ipv4Addr::new(169, 254, 169, 254), 32, AddrClass::CloudMetadata, "169.254.169.254, AWS/GCP/Azure/OpenStack metadata"),
    (Ipv4Addr::new(168, 63, 129, 16), 32, AddrClass::CloudMetadata, "168.63.129.16, Azure wire server"),
    (Ipv4Addr::new(100, 100, 100, 200), 32, AddrClass::CloudMetadata, "100.100.100.200, Alibaba Cloud metadata"),
    (Ipv4Addr::new(192, 0, 0, 192), 32, AddrClass::CloudMetadata, "192.0.0.192, Oracle Cloud metadata"),
    (Ipv4Addr::new(255, 255, 255, 255), 32, AddrClass::Broadcast, "255.255.255.255/32"),
    (Ipv4Addr::new(0, 0, 0, 0), 8, AddrClass::Unspecified, "0.0.0.0/8"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, AddrClass::Private, "10.0.0.0/8"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, AddrClass::Private, "100.64.0.0/10, carrier-grade NAT"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, AddrClass::Loopback, "127.0.0.0/8"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, AddrClass::LinkLocal, "169.254.0.0/16"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, AddrClass::Private, "172.16.0.0/12"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, AddrClass::Reserved, "192.0.0.0/24, IETF protocol assignments"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, AddrClass::Documentation, "192.0.2.0/24, TEST-NET-1"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, AddrClass::Reserved, "192.88.99.0/24, deprecated 6to4 relay"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, AddrClass::Private, "192.168.0.0/16"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, AddrClass::Documentation, "198.18.0.0/15, benchmarking"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, AddrClass::Documentation, "198.51.100.0/24, TEST-NET-2"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, AddrClass::Documentation, "203.0.113.0/24, TEST-NET-3"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, AddrClass::Multicast, "224.0.0.0/4"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, AddrClass::Reserved, "240.0.0.0/4, reserved for future use"),
];

fn classify_v4(ip: Ipv4Addr) -> (AddrClass, &'static str) {
    let bits = u32::from(ip);
    for &(net, len, class, range) in V4_RANGES {
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        if bits & mask == u32::from(net) {
            return (class, range);
        }
    }
    (AddrClass::Public, "")
}

/// How an IPv6 range is judged.
#[derive(Clone, Copy)]
enum V6Rule {
    /// Fixed class.
    Class(AddrClass),
    /// Judge the IPv4 address carried in the given way.
    Embeds(Embedding),
}

/// IPv6 special-purpose ranges, most specific first (first match wins).
/// Anything not listed and outside `2000::/3` is reserved.
#[rustfmt::skip]
const V6_RANGES: &[(u128, u8, V6Rule, &str)] = &[
    (0, 128, V6Rule::Class(AddrClass::Unspecified), "::/128"),
    (1, 128, V6Rule::Class(AddrClass::Loopback), "::1/128"),
    (0xffff_0000_0000, 96, V6Rule::Embeds(Embedding::Ipv4Mapped), "::ffff:0:0/96"),
    (0, 96, V6Rule::Embeds(Embedding::Ipv4Compatible), "::/96, deprecated IPv4-compatible"),
    (0x0064_ff9b << 96, 96, V6Rule::Embeds(Embedding::Nat64), "64:ff9b::/96"),
    (0x0064_ff9b_0001 << 80, 48, V6Rule::Class(AddrClass::Private), "64:ff9b:1::/48, local-use NAT64"),
    (0x0100 << 112, 64, V6Rule::Class(AddrClass::Reserved), "100::/64, discard-only"),
    (0x2001_0000 << 96, 32, V6Rule::Embeds(Embedding::Teredo), "2001::/32, Teredo"),
    (0x2001_0002 << 96, 48, V6Rule::Class(AddrClass::Documentation), "2001:2::/48, benchmarking"),
    (0x2001_0db8 << 96, 32, V6Rule::Class(AddrClass::Documentation), "2001:db8::/32"),
    (0x2001_0000 << 96, 23, V6Rule::Class(AddrClass::Reserved), "2001::/23, IETF protocol assignments"),
    (0x2002 << 112, 16, V6Rule::Embeds(Embedding::SixToFour), "2002::/16"),
    (0x3fff << 112, 20, V6Rule::Class(AddrClass::Documentation), "3fff::/20"),
    (0x5f00 << 112, 16, V6Rule::Class(AddrClass::Reserved), "5f00::/16, SRv6 SIDs"),
    (0xfd00_0ec2 << 96 | 0x254, 128, V6Rule::Class(AddrClass::CloudMetadata), "fd00:ec2::254, AWS metadata"),
    (0xfc00 << 112, 7, V6Rule::Class(AddrClass::Private), "fc00::/7, unique local"),
    (0xfe80 << 112, 10, V6Rule::Class(AddrClass::LinkLocal), "fe80::/10"),
    (0xfec0 << 112, 10, V6Rule::Class(AddrClass::Private), "fec0::/10, deprecated site-local"),
    (0xff00 << 112, 8, V6Rule::Class(AddrClass::Multicast), "ff00::/8"),
];

fn classify_v6(ip: Ipv6Addr) -> AddrInfo {
    let addr = IpAddr::V6(ip);
    let bits = u128::from(ip);
    for &(net, len, rule, range) in V6_RANGES {
        let mask = if len == 0 {
            0
        } else {
            u128::MAX << (128 - len)
        };
        if bits & mask != net {
            continue;
        }
        return match rule {
            V6Rule::Class(class) => AddrInfo {
                addr,
                class,
                range,
                embedded: None,
            },
            V6Rule::Embeds(how) => embedded_verdict(addr, how, extract_v4(bits, how), range),
        };
    }
    if bits >> 125 != 0b001 {
        let range = "outside 2000::/3, not global unicast";
        return AddrInfo {
            addr,
            class: AddrClass::Reserved,
            range,
            embedded: None,
        };
    }
    AddrInfo {
        addr,
        class: AddrClass::Public,
        range: "",
        embedded: None,
    }
}

fn extract_v4(bits: u128, how: Embedding) -> Ipv4Addr {
    // Truncating casts pick the 32 bits that hold the IPv4 address.
    match how {
        Embedding::SixToFour => Ipv4Addr::from((bits >> 80) as u32),
        Embedding::Teredo => Ipv4Addr::from(!(bits as u32)),
        Embedding::Ipv4Mapped | Embedding::Ipv4Compatible | Embedding::Nat64 => {
            Ipv4Addr::from(bits as u32)
        }
    }
}

fn embedded_verdict(addr: IpAddr, how: Embedding, v4: Ipv4Addr, range: &'static str) -> AddrInfo {
    let embedded = Some((how, v4));
    match how {
        // These reach exactly the IPv4 address they carry: judge that address.
        Embedding::Ipv4Mapped | Embedding::Nat64 | Embedding::SixToFour => {
            let (class, v4_range) = classify_v4(v4);
            let range = if class == AddrClass::Public {
                ""
            } else {
                v4_range
            };
            AddrInfo {
                addr,
                class,
                range,
                embedded,
            }
        }
        // Deprecated or tunnelling: refused whatever they carry.
        Embedding::Ipv4Compatible | Embedding::Teredo => AddrInfo {
            addr,
            class: AddrClass::Tunnel,
            range,
            embedded,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddrClass {
        classify(s.parse().expect("test address parses")).class
    }

    #[test]
    fn v4_boundaries_are_exact() {
        assert_eq!(class("172.15.255.255"), AddrClass::Public);
        assert_eq!(class("172.16.0.0"), AddrClass::Private);
        assert_eq!(class("172.31.255.255"), AddrClass::Private);
        assert_eq!(class("172.32.0.0"), AddrClass::Public);
        assert_eq!(class("100.63.255.255"), AddrClass::Public);
        assert_eq!(class("100.64.0.0"), AddrClass::Private);
        assert_eq!(class("100.127.255.255"), AddrClass::Private);
        assert_eq!(class("100.128.0.0"), AddrClass::Public);
        assert_eq!(class("198.17.255.255"), AddrClass::Public);
        assert_eq!(class("198.19.255.255"), AddrClass::Documentation);
        assert_eq!(class("198.20.0.0"), AddrClass::Public);
        assert_eq!(class("223.255.255.255"), AddrClass::Public);
        assert_eq!(class("8.8.8.8"), AddrClass::Public);
    }

    #[test]
    fn metadata_wins_over_link_local() {
        assert_eq!(class("169.254.169.254"), AddrClass::CloudMetadata);
        assert_eq!(class("169.254.169.253"), AddrClass::LinkLocal);
        assert_eq!(class("fd00:ec2::254"), AddrClass::CloudMetadata);
        assert_eq!(class("fd00:ec2::253"), AddrClass::Private);
    }

    #[test]
    fn v6_embedded_forms_are_judged_by_their_v4() {
        assert_eq!(class("::ffff:127.0.0.1"), AddrClass::Loopback);
        assert_eq!(class("::ffff:8.8.8.8"), AddrClass::Public);
        assert_eq!(class("64:ff9b::10.0.0.1"), AddrClass::Private);
        assert_eq!(class("64:ff9b::8.8.8.8"), AddrClass::Public);
        assert_eq!(class("2002:a9fe:a9fe::1"), AddrClass::CloudMetadata);
        assert_eq!(class("2002:0808:0808::1"), AddrClass::Public);
        assert_eq!(class("::127.0.0.1"), AddrClass::Tunnel);
        assert_eq!(class("::8.8.8.8"), AddrClass::Tunnel);
        assert_eq!(
            class("2001:0:4136:e378:8000:63bf:3fff:fdd2"),
            AddrClass::Tunnel
        );
    }

    #[test]
    fn v6_special_ranges() {
        assert_eq!(class("::"), AddrClass::Unspecified);
        assert_eq!(class("::1"), AddrClass::Loopback);
        assert_eq!(class("fe80::1"), AddrClass::LinkLocal);
        assert_eq!(class("febf::1"), AddrClass::LinkLocal);
        assert_eq!(class("fec0::1"), AddrClass::Private);
        assert_eq!(class("fd12:3456::1"), AddrClass::Private);
        assert_eq!(class("ff02::1"), AddrClass::Multicast);
        assert_eq!(class("100::1"), AddrClass::Reserved);
        assert_eq!(class("100:0:0:1::1"), AddrClass::Reserved);
        assert_eq!(class("2001:db8::1"), AddrClass::Documentation);
        assert_eq!(class("2001:2::1"), AddrClass::Documentation);
        assert_eq!(class("2001:10::1"), AddrClass::Reserved);
        assert_eq!(class("64:ff9b:1::1"), AddrClass::Private);
        assert_eq!(class("4000::1"), AddrClass::Reserved);
        assert_eq!(class("2606:4700:4700::1111"), AddrClass::Public);
        assert_eq!(class("2a00:1450:4001::1"), AddrClass::Public);
    }

    #[test]
    fn reasons_name_the_range_and_the_embedded_address() {
        let loopback = classify("127.0.0.1".parse().unwrap());
        assert_eq!(
            loopback.to_string(),
            "127.0.0.1 is a loopback address (127.0.0.0/8)"
        );
        let mapped = classify("::ffff:7f00:1".parse().unwrap());
        assert_eq!(
            mapped.to_string(),
            "::ffff:127.0.0.1 embeds 127.0.0.1 (IPv4-mapped), a loopback address (127.0.0.0/8)"
        );
        let teredo = classify("2001:0:4136:e378:8000:63bf:3fff:fdd2".parse().unwrap());
        assert_eq!(
            teredo.embedded,
            Some((Embedding::Teredo, Ipv4Addr::new(192, 0, 2, 45)))
        );
    }
}
