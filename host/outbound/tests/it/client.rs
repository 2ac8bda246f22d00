//! The client against the fixture: loopback refusal without connection,
//! redirects checked per hop, body cap, timeouts.

use std::time::{Duration, Instant};

use bytes::Bytes;
use framepipe_outbound::{OutboundClient, OutboundError, RequestLimits};
use futures::StreamExt;
use http_body_util::BodyExt;

use crate::fixture::{BIG_LEN, Fixture};

const ROUTES: &[&str] = &[
    "/ok",
    "/slow-headers",
    "/slow-body",
    "/big",
    "/big-chunked",
    "/redirect-loopback",
    "/redirect-metadata",
    "/redirect-loop",
];

/// A client that may reach the fixture at 127.0.0.1.
fn loopback_client() -> OutboundClient {
    crate::client(crate::policy(&["127.0.0.1"], true), &[])
}

fn limits() -> RequestLimits {
    RequestLimits::default()
}

async fn get(
    client: &OutboundClient,
    url: &str,
    limits: &RequestLimits,
) -> Result<Bytes, OutboundError> {
    client.get_bytes(url, limits).await.map(|(_, _, body)| body)
}

#[tokio::test]
async fn loopback_is_refused_before_connecting_when_not_allowed() {
    let fixture = Fixture::start().await;
    for hosts in [&["127.0.0.1"][..], &["*"][..]] {
        let client = crate::client(crate::policy(hosts, false), &[]);
        for route in ROUTES {
            let err = get(&client, &fixture.url(route), &limits())
                .await
                .unwrap_err();
            match &err {
                OutboundError::AddressRefused { reason, .. } => {
                    assert!(reason.contains("loopback"), "{reason}")
                }
                other => panic!("{route}: expected AddressRefused, got {other:?}"),
            }
            assert!(err.is_denied());
        }
    }
    assert_eq!(
        fixture.connections(),
        0,
        "no connection may reach the fixture"
    );
}

#[tokio::test]
async fn ok_route_works_when_loopback_is_allowed() {
    let fixture = Fixture::start().await;
    let (status, headers, body) = loopback_client()
        .get_bytes(&fixture.url("/ok"), &limits())
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-length").map(|v| v.as_bytes()),
        Some(&b"5"[..])
    );
    assert_eq!(&body[..], b"hello");
    assert_eq!(fixture.connections(), 1);
}

#[tokio::test]
async fn host_not_in_allow_list_is_refused_without_connecting() {
    let fixture = Fixture::start().await;
    let client = crate::client(crate::policy(&["example.com"], true), &[]);
    let err = get(&client, &fixture.url("/ok"), &limits())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        OutboundError::HostNotAllowed {
            host: "127.0.0.1".into()
        }
    );
    assert_eq!(fixture.connections(), 0);
}

#[tokio::test]
async fn redirect_to_allowed_loopback_is_followed() {
    let fixture = Fixture::start().await;
    let body = get(
        &loopback_client(),
        &fixture.url("/redirect-loopback"),
        &limits(),
    )
    .await
    .unwrap();
    assert_eq!(&body[..], b"hello");
    assert_eq!(fixture.requests(), 2);
}

#[tokio::test]
async fn redirect_to_metadata_is_refused_at_the_hop() {
    let fixture = Fixture::start().await;
    let client = crate::client(crate::policy(&["*"], true), &[]);
    let err = get(&client, &fixture.url("/redirect-metadata"), &limits())
        .await
        .unwrap_err();
    match &err {
        OutboundError::AddressRefused { addr, reason, .. } => {
            assert_eq!(addr.to_string(), "169.254.169.254");
            assert!(reason.contains("metadata"), "{reason}");
        }
        other => panic!("expected AddressRefused, got {other:?}"),
    }
    assert_eq!(fixture.requests(), 1);
}

#[tokio::test]
async fn redirect_hops_are_checked_against_the_allow_list() {
    let fixture = Fixture::start().await;
    let names: &[(&str, &[&str])] = &[("fixture.test", &["127.0.0.1"])];
    let client = crate::client(crate::policy(&["fixture.test"], true), names);
    let url = format!("http://fixture.test:{}/redirect-loopback", fixture.port());
    let err = get(&client, &url, &limits()).await.unwrap_err();
    assert_eq!(
        err,
        OutboundError::HostNotAllowed {
            host: "127.0.0.1".into()
        }
    );
    assert_eq!(fixture.requests(), 1, "only the first hop was requested");
}

#[tokio::test]
async fn redirect_to_a_name_resolving_privately_is_refused() {
    let fixture = Fixture::start().await;
    let names: &[(&str, &[&str])] = &[("internal.test", &["10.0.0.5"])];
    let client = crate::client(crate::policy(&["127.0.0.1", "internal.test"], true), names);
    let url = fixture.url("/redirect-to?http://internal.test/admin");
    let err = get(&client, &url, &limits()).await.unwrap_err();
    assert!(
        matches!(err, OutboundError::AddressRefused { ref host, .. } if host == "internal.test"),
        "{err:?}"
    );
}

#[tokio::test]
async fn redirect_to_another_scheme_is_refused() {
    let fixture = Fixture::start().await;
    let err = get(&loopback_client(), &fixture.url("/redirect-ftp"), &limits())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        OutboundError::BadScheme {
            scheme: "ftp".into()
        }
    );
    let err = get(&loopback_client(), "file:///etc/passwd", &limits())
        .await
        .unwrap_err();
    assert!(err.is_denied(), "{err:?}");
}

#[tokio::test]
async fn redirect_loop_stops_at_max_redirects() {
    let fixture = Fixture::start().await;
    let err = get(
        &loopback_client(),
        &fixture.url("/redirect-loop"),
        &limits(),
    )
    .await
    .unwrap_err();
    assert_eq!(err, OutboundError::TooManyRedirects { max: 5 });
    assert_eq!(
        fixture.requests(),
        6,
        "the original request and 5 redirects"
    );
}

#[tokio::test]
async fn max_redirects_is_exact_and_lowered_per_request() {
    let fixture = Fixture::start().await;
    let client = loopback_client();
    let three = RequestLimits {
        max_redirects: Some(3),
        ..limits()
    };
    let body = get(&client, &fixture.url("/redirect-chain/2"), &three)
        .await
        .unwrap();
    assert_eq!(&body[..], b"hello", "3 redirects with a limit of 3");
    let err = get(&client, &fixture.url("/redirect-chain/3"), &three)
        .await
        .unwrap_err();
    assert_eq!(err, OutboundError::TooManyRedirects { max: 3 });
}

#[tokio::test]
async fn content_length_above_the_cap_fails_before_the_body() {
    let fixture = Fixture::start().await;
    let cap = RequestLimits {
        max_body_bytes: Some(1024),
        ..limits()
    };
    let request = http::Request::get(fixture.url("/big"))
        .body(Bytes::new())
        .unwrap();
    let err = loopback_client().send(request, &cap).await.unwrap_err();
    assert_eq!(err, OutboundError::BodyTooLarge { cap: 1024 });
}

#[tokio::test]
async fn chunked_body_fails_when_it_passes_the_cap() {
    let fixture = Fixture::start().await;
    let cap = RequestLimits {
        max_body_bytes: Some(1000),
        ..limits()
    };
    let request = http::Request::get(fixture.url("/big-chunked"))
        .body(Bytes::new())
        .unwrap();
    let mut body = loopback_client()
        .send(request, &cap)
        .await
        .expect("headers arrive")
        .into_body();
    let mut received = 0;
    let err = loop {
        match body.next().await {
            Some(Ok(chunk)) => received += chunk.len(),
            Some(Err(e)) => break e,
            None => panic!("body ended without hitting the cap"),
        }
    };
    assert_eq!(err, OutboundError::BodyTooLarge { cap: 1000 });
    assert!(received <= 1000, "received {received} bytes past the cap");
    assert!(
        body.next().await.is_none(),
        "the stream ends after the error"
    );
}

#[tokio::test]
async fn bodies_exactly_at_the_cap_pass() {
    let fixture = Fixture::start().await;
    let cap = RequestLimits {
        max_body_bytes: Some(BIG_LEN as u64),
        ..limits()
    };
    for route in ["/big", "/big-chunked"] {
        let body = get(&loopback_client(), &fixture.url(route), &cap)
            .await
            .unwrap();
        assert_eq!(body.len(), BIG_LEN, "{route}");
    }
}

#[tokio::test]
async fn body_is_an_http_body_too() {
    let fixture = Fixture::start().await;
    let request = http::Request::get(fixture.url("/big-chunked"))
        .body(Bytes::new())
        .unwrap();
    let response = loopback_client().send(request, &limits()).await.unwrap();
    let collected = BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(collected.len(), BIG_LEN);
}

#[tokio::test]
async fn slow_headers_hit_the_first_byte_timeout() {
    let fixture = Fixture::start().await;
    let quick = RequestLimits {
        first_byte_timeout: Some(Duration::from_millis(200)),
        ..limits()
    };
    let started = Instant::now();
    let err = get(&loopback_client(), &fixture.url("/slow-headers"), &quick)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        OutboundError::FirstByteTimeout {
            after: Duration::from_millis(200)
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(!err.is_denied());
}

#[tokio::test]
async fn total_timeout_wins_when_shorter_than_first_byte() {
    let fixture = Fixture::start().await;
    let quick = RequestLimits {
        total_timeout: Some(Duration::from_millis(200)),
        ..limits()
    };
    let err = get(&loopback_client(), &fixture.url("/slow-headers"), &quick)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        OutboundError::Timeout {
            after: Duration::from_millis(200)
        }
    );
}

#[tokio::test]
async fn slow_body_hits_the_total_timeout_while_streaming() {
    let fixture = Fixture::start().await;
    let quick = RequestLimits {
        total_timeout: Some(Duration::from_millis(300)),
        ..limits()
    };
    let request = http::Request::get(fixture.url("/slow-body"))
        .body(Bytes::new())
        .unwrap();
    let started = Instant::now();
    let response = loopback_client()
        .send(request, &quick)
        .await
        .expect("headers are quick");
    let err = response.into_body().bytes().await.unwrap_err();
    assert_eq!(
        err,
        OutboundError::Timeout {
            after: Duration::from_millis(300)
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn closed_port_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/ok");
    let err = get(&loopback_client(), &url, &limits()).await.unwrap_err();
    assert!(matches!(err, OutboundError::Connect(_)), "{err:?}");
    assert!(!err.is_denied());
}

#[tokio::test]
async fn full_accept_queue_hits_the_connect_timeout() {
    // A listener that never accepts, with its backlog filled: Linux then
    // drops further SYNs, so the next connect hangs until the timeout.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let filler = tokio::net::TcpSocket::new_v4().unwrap();
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_millis(200), filler.connect(addr)).await
        {
            fillers.push(stream);
        }
    }
    let quick = RequestLimits {
        connect_timeout: Some(Duration::from_millis(300)),
        ..limits()
    };
    let err = get(&loopback_client(), &format!("http://{addr}/ok"), &quick)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        OutboundError::ConnectTimeout {
            after: Duration::from_millis(300)
        }
    );
    drop(listener);
}

#[tokio::test]
async fn plugin_host_header_is_replaced_by_the_url_host() {
    let fixture = Fixture::start().await;
    let request = http::Request::get(fixture.url("/echo-head"))
        .header("host", "internal.example")
        .header("x-plugin", "yes")
        .body(Bytes::new())
        .unwrap();
    let response = loopback_client().send(request, &limits()).await.unwrap();
    let head = response.into_body().bytes().await.unwrap();
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    assert!(
        head.contains(&format!("host: 127.0.0.1:{}", fixture.port())),
        "{head}"
    );
    assert!(!head.contains("internal.example"), "{head}");
    assert!(head.contains("x-plugin: yes"), "{head}");
}

#[tokio::test]
async fn request_bodies_stream_through_send_body() {
    let fixture = Fixture::start().await;
    let payload = Bytes::from(vec![b'p'; 100_000]);
    let request = http::Request::post(fixture.url("/echo-body"))
        .body(http_body_util::Full::new(payload.clone()))
        .unwrap();
    let response = loopback_client()
        .send_body(request, &limits())
        .await
        .unwrap();
    assert_eq!(response.into_body().bytes().await.unwrap(), payload);
    let request = http::Request::post(fixture.url("/echo-body"))
        .body(Bytes::from_static(b"small"))
        .unwrap();
    let response = loopback_client().send(request, &limits()).await.unwrap();
    assert_eq!(&response.into_body().bytes().await.unwrap()[..], b"small");
}
