//! Decisions after DNS resolution, with an injected resolver.

use std::net::IpAddr;

use framepipe_outbound::{OutboundError, OutboundPolicy, RequestLimits};

use crate::fixture::Fixture;

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter()
        .map(|a| a.parse().expect("test address"))
        .collect()
}

fn refusal(policy: &OutboundPolicy, host: &str, addrs: &[&str]) -> String {
    match policy.check_resolved(host, &ips(addrs)) {
        Err(OutboundError::AddressRefused { reason, .. }) => reason,
        other => panic!("{host} -> {addrs:?}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn evil_names_are_refused_after_resolution() {
    let policy = crate::policy(&["*.test"], false);
    assert!(refusal(&policy, "evil.test", &["127.0.0.1"]).contains("loopback"));
    assert!(refusal(&policy, "evil.test", &["10.0.0.5"]).contains("10.0.0.0/8"));
    assert!(refusal(&policy, "evil.test", &["169.254.169.254"]).contains("metadata"));
    assert!(refusal(&policy, "evil.test", &["::ffff:10.0.0.5"]).contains("IPv4-mapped"));
    let all = refusal(
        &policy,
        "evil.test",
        &["127.0.0.1", "10.0.0.5", "169.254.169.254"],
    );
    assert!(all.starts_with("127.0.0.1 is a loopback address"), "{all}");
}

#[test]
fn metadata_stays_refused_when_private_and_loopback_are_allowed() {
    let policy = OutboundPolicy {
        allow_private: true,
        ..crate::policy(&["evil.test"], true)
    };
    assert!(refusal(&policy, "evil.test", &["169.254.169.254"]).contains("metadata"));
    assert_eq!(
        policy.check_resolved("evil.test", &ips(&["10.0.0.5"])),
        Ok(ips(&["10.0.0.5"]))
    );
}

#[test]
fn good_names_keep_only_public_addresses() {
    let policy = crate::policy(&["good.test"], false);
    let public = ips(&["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]);
    assert_eq!(
        policy.check_resolved("good.test", &public),
        Ok(public.clone())
    );
    let mixed = ips(&["10.0.0.5", "93.184.215.14", "127.0.0.1"]);
    assert_eq!(
        policy.check_resolved("GOOD.test.", &mixed),
        Ok(ips(&["93.184.215.14"]))
    );
}

#[test]
fn names_outside_the_allow_list_are_refused_before_their_addresses_matter() {
    let policy = crate::policy(&["good.test"], false);
    let err = policy
        .check_resolved("other.test", &ips(&["93.184.215.14"]))
        .unwrap_err();
    assert_eq!(
        err,
        OutboundError::HostNotAllowed {
            host: "other.test".into()
        }
    );
    let empty = policy.check_resolved("good.test", &[]).unwrap_err();
    assert!(matches!(empty, OutboundError::Dns { .. }), "{empty:?}");
}

#[tokio::test]
async fn client_refuses_a_name_resolving_to_loopback_without_connecting() {
    let fixture = Fixture::start().await;
    let client = crate::client(
        crate::policy(&["evil.test"], false),
        &[("evil.test", &["127.0.0.1"])],
    );
    let url = format!("http://evil.test:{}/ok", fixture.port());
    let err = client
        .get_bytes(&url, &RequestLimits::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, OutboundError::AddressRefused { ref host, .. } if host == "evil.test"),
        "{err:?}"
    );
    assert_eq!(fixture.connections(), 0);
}

#[tokio::test]
async fn client_drops_refused_addresses_and_uses_the_rest() {
    let fixture = Fixture::start().await;
    let names: &[(&str, &[&str])] =
        &[("mixed.test", &["10.0.0.5", "169.254.169.254", "127.0.0.1"])];
    let client = crate::client(crate::policy(&["mixed.test"], true), names);
    let url = format!("http://mixed.test:{}/ok", fixture.port());
    let (status, _, body) = client
        .get_bytes(&url, &RequestLimits::default())
        .await
        .expect("reaches 127.0.0.1");
    assert_eq!((status.as_u16(), &body[..]), (200, &b"hello"[..]));
}

#[tokio::test]
async fn unknown_names_fail_as_dns_errors() {
    let client = crate::client(crate::policy(&["*"], false), &[]);
    let err = client
        .get_bytes("http://nowhere.test/", &RequestLimits::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, OutboundError::Dns { ref host, .. } if host == "nowhere.test"),
        "{err:?}"
    );
    assert!(!err.is_denied());
}
