//! IP-literal notations: what the `url` crate makes of each, and the verdict.
//! Every refused row is also sent through the client at the fixture's port,
//! and the fixture must see no connection at all.

use framepipe_outbound::{AddrClass, HostKind, OutboundError, RequestLimits};
use url::Url;

use crate::fixture::Fixture;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    /// Refused before connecting, as this class.
    Refused(AddrClass),
    /// A public address: allowed by the policy (never contacted in tests).
    Allowed,
    /// A name: the decision waits for resolution.
    Name,
    /// Not a valid URL host at all.
    Invalid,
}

use AddrClass::{
    Broadcast, CloudMetadata, Documentation, LinkLocal, Loopback, Multicast, Private, Reserved,
    Tunnel, Unspecified,
};
use Verdict::{Allowed, Invalid, Name, Refused};

/// (host as written in the URL, host after `url` parsing, verdict)
const TABLE: &[(&str, &str, Verdict)] = &[
    ("127.0.0.1", "127.0.0.1", Refused(Loopback)),
    ("2130706433", "127.0.0.1", Refused(Loopback)),
    ("0177.0.0.1", "127.0.0.1", Refused(Loopback)),
    ("017700000001", "127.0.0.1", Refused(Loopback)),
    ("0x7f.0.0.1", "127.0.0.1", Refused(Loopback)),
    ("0x7f000001", "127.0.0.1", Refused(Loopback)),
    ("0X7F.0X0.0X0.0X1", "127.0.0.1", Refused(Loopback)),
    ("127.1", "127.0.0.1", Refused(Loopback)),
    ("127.0.1", "127.0.0.1", Refused(Loopback)),
    ("0x7f.1", "127.0.0.1", Refused(Loopback)),
    ("0177.0x0.1", "127.0.0.1", Refused(Loopback)),
    ("127.0.0.1.", "127.0.0.1", Refused(Loopback)),
    ("127.000.000.001", "127.0.0.1", Refused(Loopback)),
    ("%31%32%37.0.0.1", "127.0.0.1", Refused(Loopback)),
    (
        "\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}",
        "127.0.0.1",
        Refused(Loopback),
    ),
    ("127.0.0.1\u{3002}", "127.0.0.1", Refused(Loopback)),
    ("0", "0.0.0.0", Refused(Unspecified)),
    ("0.0.0.0", "0.0.0.0", Refused(Unspecified)),
    ("[::1]", "[::1]", Refused(Loopback)),
    ("[0:0:0:0:0:0:0:1]", "[::1]", Refused(Loopback)),
    ("[::]", "[::]", Refused(Unspecified)),
    ("[::ffff:127.0.0.1]", "[::ffff:7f00:1]", Refused(Loopback)),
    ("[::ffff:7f00:1]", "[::ffff:7f00:1]", Refused(Loopback)),
    (
        "[::ffff:169.254.169.254]",
        "[::ffff:a9fe:a9fe]",
        Refused(CloudMetadata),
    ),
    ("[::127.0.0.1]", "[::7f00:1]", Refused(Tunnel)),
    (
        "[64:ff9b::127.0.0.1]",
        "[64:ff9b::7f00:1]",
        Refused(Loopback),
    ),
    (
        "[64:ff9b::a9fe:a9fe]",
        "[64:ff9b::a9fe:a9fe]",
        Refused(CloudMetadata),
    ),
    ("[64:ff9b:1::a00:1]", "[64:ff9b:1::a00:1]", Refused(Private)),
    ("[2002:7f00:1::]", "[2002:7f00:1::]", Refused(Loopback)),
    ("[2002:c0a8:101::1]", "[2002:c0a8:101::1]", Refused(Private)),
    (
        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
        Refused(Tunnel),
    ),
    ("[fe80::1%25eth0]", "", Invalid),
    ("[fe80::1%eth0]", "", Invalid),
    ("[fe80::1]", "[fe80::1]", Refused(LinkLocal)),
    ("[fc00::1]", "[fc00::1]", Refused(Private)),
    ("[fd00:ec2::254]", "[fd00:ec2::254]", Refused(CloudMetadata)),
    ("[fec0::1]", "[fec0::1]", Refused(Private)),
    ("[ff02::1]", "[ff02::1]", Refused(Multicast)),
    ("[100::1]", "[100::1]", Refused(Reserved)),
    ("[2001:db8::1]", "[2001:db8::1]", Refused(Documentation)),
    ("169.254.169.254", "169.254.169.254", Refused(CloudMetadata)),
    (
        "0xa9.0xfe.0xa9.0xfe",
        "169.254.169.254",
        Refused(CloudMetadata),
    ),
    ("2852039166", "169.254.169.254", Refused(CloudMetadata)),
    (
        "0251.0376.0251.0376",
        "169.254.169.254",
        Refused(CloudMetadata),
    ),
    ("10.0.0.1", "10.0.0.1", Refused(Private)),
    ("012.1", "10.0.0.1", Refused(Private)),
    ("3232235777", "192.168.1.1", Refused(Private)),
    ("172.16.0.1", "172.16.0.1", Refused(Private)),
    ("100.64.0.1", "100.64.0.1", Refused(Private)),
    ("169.254.1.1", "169.254.1.1", Refused(LinkLocal)),
    ("224.0.0.1", "224.0.0.1", Refused(Multicast)),
    ("255.255.255.255", "255.255.255.255", Refused(Broadcast)),
    ("240.0.0.1", "240.0.0.1", Refused(Reserved)),
    ("192.0.0.1", "192.0.0.1", Refused(Reserved)),
    ("192.0.2.1", "192.0.2.1", Refused(Documentation)),
    ("198.18.0.1", "198.18.0.1", Refused(Documentation)),
    ("8.8.8.8", "8.8.8.8", Allowed),
    ("134744072", "8.8.8.8", Allowed),
    ("[2606:4700:4700::1111]", "[2606:4700:4700::1111]", Allowed),
    ("[::ffff:8.8.8.8]", "[::ffff:808:808]", Allowed),
    ("256.0.0.1", "", Invalid),
    ("127.0.0.1.5", "", Invalid),
    ("0x7g.0.0.1", "", Invalid),
    ("08.0.0.1", "", Invalid),
    ("localhost", "localhost", Name),
    ("LOCALHOST.", "localhost.", Name),
    ("127.0.0.1.nip.io", "127.0.0.1.nip.io", Name),
    ("1.2.3.4.example", "1.2.3.4.example", Name),
];

fn verdict(policy: &framepipe_outbound::OutboundPolicy, url: &Url) -> Verdict {
    match policy.check_url(url) {
        Ok(HostKind::Ip(_)) => Allowed,
        Ok(HostKind::Domain(_)) => Name,
        Err(OutboundError::AddressRefused { addr, .. }) => {
            Refused(framepipe_outbound::classify(addr).class)
        }
        Err(other) => panic!("{url}: unexpected error {other}"),
    }
}

#[test]
fn table_of_notations_and_verdicts() {
    assert!(TABLE.len() >= 30);
    let policy = crate::policy(&["*"], false);
    let mut failures = Vec::new();
    for &(host, normalised, expected) in TABLE {
        let (got_host, got) = match Url::parse(&format!("http://{host}:8080/ok")) {
            Err(_) => (String::new(), Invalid),
            Ok(url) => (
                url.host_str().unwrap_or_default().to_owned(),
                verdict(&policy, &url),
            ),
        };
        if got_host != normalised || got != expected {
            failures.push(format!(
                "{host:?}: got ({got_host:?}, {got:?}), want ({normalised:?}, {expected:?})"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn refused_notations_never_connect() {
    let fixture = Fixture::start().await;
    let names: &[(&str, &[&str])] = &[
        ("localhost", &["127.0.0.1", "::1"]),
        ("127.0.0.1.nip.io", &["127.0.0.1"]),
    ];
    let client = crate::client(crate::policy(&["*"], false), names);
    for &(host, _, expected) in TABLE {
        if expected == Allowed {
            continue; // never send traffic to public addresses
        }
        let url = format!("http://{host}:{}/ok", fixture.port());
        let err = client
            .get_bytes(&url, &RequestLimits::default())
            .await
            .expect_err(&format!("{url} must be refused"));
        let network_error_ok = expected == Name && matches!(err, OutboundError::Dns { .. });
        assert!(err.is_denied() || network_error_ok, "{url}: {err}");
    }
    assert_eq!(
        fixture.connections(),
        0,
        "a refused request reached the fixture"
    );
}
