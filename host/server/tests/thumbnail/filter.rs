//! `PolicyFilter` on its own: responses stream, request bodies are capped, a response
//! over the policy's body cap gets the `wasi:http` size error.

use super::loopback_policy;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::routing::{get, post};
use framepipe::egress::PolicyFilter;
use framepipe_outbound::OutboundPolicy;
use framepipe_runtime::{HttpBody, HttpError, HttpRequestFilter};
use http_body_util::{BodyExt, Empty, Full};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

type Chunks = Arc<Mutex<Option<mpsc::Receiver<Result<Bytes, Infallible>>>>>;

/// `/stream` sends what the test pushes into the channel, as it is pushed;
/// `/len` answers the length of the request body; `/big` answers 100 bytes.
async fn start(chunks: Chunks) -> SocketAddr {
    let app = Router::new()
        .route(
            "/stream",
            get(move || {
                let rx = chunks.lock().unwrap().take().expect("one /stream request");
                let stream = futures::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|chunk| (chunk, rx))
                });
                async move { Body::from_stream(stream) }
            }),
        )
        .route(
            "/len",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
        .route("/big", get(|| async { vec![b'x'; 100] }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn empty() -> HttpBody {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn full(n: usize) -> HttpBody {
    Full::new(Bytes::from(vec![7u8; n]))
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn request(method: &str, url: String, body: HttpBody) -> http::Request<HttpBody> {
    http::Request::builder()
        .method(method)
        .uri(url)
        .body(body)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_body_streams() {
    let (tx, rx) = mpsc::channel(1);
    let addr = start(Arc::new(Mutex::new(Some(rx)))).await;
    let filter = PolicyFilter::new(loopback_policy()).unwrap();
    tx.send(Ok(Bytes::from_static(b"first"))).await.unwrap();
    let response = filter
        .send(request("GET", format!("http://{addr}/stream"), empty()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    // The first chunk arrives while the server still holds back the rest.
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(first, "first");
    tx.send(Ok(Bytes::from_static(b"second"))).await.unwrap();
    drop(tx);
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest, "second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_are_forwarded_and_capped() {
    let addr = start(Arc::default()).await;
    let filter = PolicyFilter::new(loopback_policy())
        .unwrap()
        .with_max_request_body_bytes(1024);
    let ok = filter
        .send(request("POST", format!("http://{addr}/len"), full(1000)))
        .await
        .unwrap();
    let text = ok.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(text, "1000");

    let err = filter
        .send(request("POST", format!("http://{addr}/len"), full(2048)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, HttpError::HttpRequestBodySize(Some(2048))),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_over_the_cap_is_a_body_size_error() {
    let addr = start(Arc::default()).await;
    let filter = PolicyFilter::new(OutboundPolicy {
        max_body_bytes: 10,
        ..loopback_policy()
    })
    .unwrap();
    let err = filter
        .send(request("GET", format!("http://{addr}/big"), empty()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, HttpError::HttpResponseBodySize(Some(10))),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_the_policy_prefix() {
    let filter = PolicyFilter::new(OutboundPolicy::default()).unwrap();
    let err = filter
        .send(request("GET", "http://127.0.0.1:9/".into(), empty()))
        .await
        .unwrap_err();
    let HttpError::InternalError(Some(message)) = err else {
        panic!("{err:?}")
    };
    assert!(
        message.starts_with("outbound policy: host \"127.0.0.1\" is not in the allowed hosts"),
        "{message}"
    );
}
