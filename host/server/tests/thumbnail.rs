//! The `thumbnail` plugin run in the sandbox, its HTTP carried by [`PolicyFilter`] to a
//! loopback fixture that serves YouTube-shaped paths; and the filter on its own
//! (streaming, request body cap).

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use framepipe::egress::PolicyFilter;
use framepipe_outbound::{OutboundPolicy, StaticResolver};
use framepipe_runtime::{
    OutboundAccess, Plugin, PluginErrorKind, Runtime, RuntimeConfig, StepFailure, StepLimits,
    StepOutput, StepRequest,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::OnceCell;

const ID: &str = "dQw4w9WgXcQ";

// ---------------------------------------------------------------------------------------
// Fixture images and server

/// A w x h RGB picture with busy content; with `letterbox`, 16:9 inside black bands.
fn rgb(w: u32, h: u32, letterbox: bool) -> Vec<u8> {
    let band = if letterbox { h / 8 } else { 0 };
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            if y < band || y >= h - band {
                out.extend_from_slice(&[0, 0, 0]);
            } else {
                let v = (60 + (x * 7 + y * 13) % 160) as u8;
                out.extend_from_slice(&[v, v / 2 + 40, 255 - v]);
            }
        }
    }
    out
}

fn jpeg(w: u32, h: u32, letterbox: bool) -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85)
        .encode(
            &rgb(w, h, letterbox),
            w as u16,
            h as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    out
}

fn webp(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image_webp::WebPEncoder::new(&mut out)
        .encode(&rgb(w, h, false), w, h, image_webp::ColorType::Rgb8)
        .unwrap();
    out
}

/// Path -> (status, media type, body).
type Routes = HashMap<String, (u16, &'static str, Vec<u8>)>;

/// Serves a table of paths; any other path answers as YouTube does for a missing size:
/// 404 with a valid 120x90 placeholder JPEG. Records every path requested.
#[derive(Clone, Default)]
struct Fixture {
    routes: Arc<Routes>,
    hits: Arc<Mutex<Vec<String>>>,
    placeholder: Arc<Vec<u8>>,
}

impl Fixture {
    fn new(routes: Vec<(String, u16, &'static str, Vec<u8>)>) -> Self {
        Fixture {
            routes: Arc::new(
                routes
                    .into_iter()
                    .map(|(path, status, media, body)| (path, (status, media, body)))
                    .collect(),
            ),
            hits: Arc::default(),
            placeholder: Arc::new(jpeg(120, 90, false)),
        }
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }

    /// Starts the server on 127.0.0.1:0 and returns its address.
    async fn start(&self) -> SocketAddr {
        let app = Router::new().fallback(serve).with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }
}

async fn serve(State(f): State<Fixture>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    f.hits.lock().unwrap().push(path.clone());
    let (status, media, body) = match f.routes.get(&path) {
        Some((status, media, body)) => (*status, *media, body.clone()),
        None => (404, "image/jpeg", f.placeholder.to_vec()),
    };
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", media)],
        body,
    )
        .into_response()
}

fn jpg_path(size: &str) -> String {
    format!("/vi/{ID}/{size}.jpg")
}

fn webp_path(size: &str) -> String {
    format!("/vi_webp/{ID}/{size}.webp")
}

// ---------------------------------------------------------------------------------------
// Running the plugin

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static PLUGIN: OnceCell<Arc<Plugin>> = OnceCell::const_new();

/// One runtime and one compiled component for all tests (compiling takes seconds).
async fn plugin() -> (&'static Runtime, Arc<Plugin>) {
    let rt = RUNTIME.get_or_init(|| Runtime::new(RuntimeConfig::default()).expect("runtime"));
    let plugin = PLUGIN
        .get_or_init(|| async {
            let bytes = framepipe_guests::get("thumbnail").expect("thumbnail guest built");
            rt.load(bytes).await.expect("thumbnail loads")
        })
        .await
        .clone();
    (rt, plugin)
}

/// Loopback allowed for 127.0.0.1 only: what a test needs, nothing more.
fn loopback_policy() -> OutboundPolicy {
    OutboundPolicy {
        allowed_hosts: vec!["127.0.0.1".into()],
        allow_loopback: true,
        ..OutboundPolicy::default()
    }
}

struct Run {
    outcome: Result<StepOutput, StepFailure>,
    _dir: tempfile::TempDir,
}

async fn run(base_url: &str, access: OutboundAccess) -> Run {
    let (rt, plugin) = plugin().await;
    let dir = tempfile::tempdir().unwrap();
    let mut req = StepRequest::new(json!({ "video_id": ID, "base_url": base_url }), dir.path());
    req.outbound = access;
    req.limits = StepLimits {
        memory_mib: 64,
        deadline_ms: 30_000,
        ..StepLimits::default()
    };
    Run {
        outcome: rt.run(&plugin, req).await.outcome,
        _dir: dir,
    }
}

fn through(policy: OutboundPolicy) -> OutboundAccess {
    OutboundAccess::through(Arc::new(PolicyFilter::new(policy).expect("valid policy")))
}

fn succeeded(run: &Run) -> &StepOutput {
    match &run.outcome {
        Ok(out) => out,
        Err(f) => panic!("expected success, got {} ({f})", f.code()),
    }
}

fn failed(run: &Run) -> (PluginErrorKind, &str) {
    match &run.outcome {
        Err(StepFailure::Plugin { kind, message }) => (*kind, message.as_str()),
        Err(other) => panic!("expected a plugin error, got {} ({other})", other.code()),
        Ok(out) => panic!("expected a failure, got {}", out.result),
    }
}

fn statuses(result: &Value) -> Vec<u64> {
    result["tried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_u64().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------
// The plugin's cases

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_declares_the_youtube_host() {
    let (_, plugin) = plugin().await;
    let info = plugin.info();
    assert_eq!(info.name, "thumbnail");
    assert_eq!(info.hosts, ["i.ytimg.com"]);
    assert!(info.inputs.is_empty());
    assert_eq!(info.outputs[0].name, "thumbnail.*");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_maxres_falls_back_to_hq720() {
    let image = jpeg(1280, 720, false);
    let fixture = Fixture::new(vec![(jpg_path("hq720"), 200, "image/jpeg", image.clone())]);
    let addr = fixture.start().await;
    let base = format!("http://{addr}");
    let run = run(&base, through(loopback_policy())).await;
    let out = succeeded(&run);
    let r = &out.result;
    assert_eq!(r["method"], "thumbnail");
    assert_eq!(r["size"], "hq720");
    assert_eq!(r["format"], "jpg");
    assert_eq!(r["source_url"], format!("{base}{}", jpg_path("hq720")));
    assert_eq!(
        (r["width"].as_u64(), r["height"].as_u64()),
        (Some(1280), Some(720))
    );
    assert_eq!(r["letterboxed"], false);
    assert_eq!(r["bytes"], image.len());
    assert_eq!(statuses(r), [404, 404, 404, 200]);
    assert_eq!(
        fixture.hits(),
        [
            webp_path("maxresdefault"),
            jpg_path("maxresdefault"),
            webp_path("hq720"),
            jpg_path("hq720")
        ]
    );
    assert_eq!(out.artifacts.len(), 1);
    let artifact = &out.artifacts[0];
    assert_eq!(
        (artifact.name.as_str(), artifact.media_type.as_str()),
        ("thumbnail.jpg", "image/jpeg")
    );
    assert_eq!(std::fs::read(&artifact.path).unwrap(), image);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_missing_is_no_thumbnail() {
    let fixture = Fixture::new(Vec::new());
    let addr = fixture.start().await;
    let run = run(&format!("http://{addr}"), through(loopback_policy())).await;
    let (kind, message) = failed(&run);
    assert_eq!(kind, PluginErrorKind::Unsupported);
    assert!(message.starts_with("NO_THUMBNAIL: "), "{message}");
    assert!(!run.outcome.as_ref().unwrap_err().retryable());
    assert_eq!(fixture.hits().len(), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_with_garbage_is_skipped_for_the_next_image() {
    let image = webp(640, 480);
    let fixture = Fixture::new(vec![
        (
            webp_path("maxresdefault"),
            200,
            "image/webp",
            b"<html>rate limited</html>".to_vec(),
        ),
        (
            jpg_path("maxresdefault"),
            200,
            "image/jpeg",
            jpeg(1280, 720, false)[..500].to_vec(),
        ),
        (webp_path("sddefault"), 200, "image/webp", image.clone()),
    ]);
    let addr = fixture.start().await;
    let run = run(&format!("http://{addr}"), through(loopback_policy())).await;
    let out = succeeded(&run);
    let r = &out.result;
    assert_eq!(
        (r["size"].as_str(), r["format"].as_str()),
        (Some("sddefault"), Some("webp"))
    );
    assert_eq!(statuses(r), [200, 200, 404, 404, 200]);
    let artifact = &out.artifacts[0];
    assert_eq!(
        (artifact.name.as_str(), artifact.media_type.as_str()),
        ("thumbnail.webp", "image/webp")
    );
    assert_eq!(std::fs::read(&artifact.path).unwrap(), image);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_letterboxed_hqdefault_is_reported() {
    let fixture = Fixture::new(vec![(
        jpg_path("hqdefault"),
        200,
        "image/jpeg",
        jpeg(480, 360, true),
    )]);
    let addr = fixture.start().await;
    let run = run(&format!("http://{addr}"), through(loopback_policy())).await;
    let r = &succeeded(&run).result;
    assert_eq!(r["size"], "hqdefault");
    assert_eq!(r["letterboxed"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_refused_by_the_default_address_rules() {
    let fixture = Fixture::new(Vec::new());
    let addr = fixture.start().await;
    let policy = OutboundPolicy {
        allowed_hosts: vec!["127.0.0.1".into()],
        ..OutboundPolicy::default()
    };
    let run = run(&format!("http://{addr}"), through(policy)).await;
    let (kind, message) = failed(&run);
    assert_eq!(kind, PluginErrorKind::InvalidInput);
    assert!(message.contains("refused: outbound policy: "), "{message}");
    assert!(message.contains("loopback"), "{message}");
    assert!(
        fixture.hits().is_empty(),
        "a refused request reached the server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_not_allowed_is_refused() {
    let fixture = Fixture::new(Vec::new());
    let addr = fixture.start().await;
    let policy = OutboundPolicy {
        allowed_hosts: vec!["i.ytimg.com".into()],
        allow_loopback: true,
        ..OutboundPolicy::default()
    };
    let run = run(&format!("http://{addr}"), through(policy)).await;
    let (kind, message) = failed(&run);
    assert_eq!(kind, PluginErrorKind::InvalidInput);
    assert!(
        message.contains("outbound policy: host \"127.0.0.1\" is not in the allowed hosts"),
        "{message}"
    );
    assert!(fixture.hits().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_resolving_to_loopback_is_checked_after_dns() {
    let image = jpeg(1280, 720, false);
    let fixture = Fixture::new(vec![(jpg_path("maxresdefault"), 200, "image/jpeg", image)]);
    let addr = fixture.start().await;
    let resolver = Arc::new(StaticResolver::new().with("thumbs.test", [addr.ip()]));
    let base = format!("http://thumbs.test:{}", addr.port());
    let policy = OutboundPolicy {
        allowed_hosts: vec!["thumbs.test".into()],
        ..OutboundPolicy::default()
    };
    let refused = PolicyFilter::with_resolver(policy.clone(), resolver.clone()).unwrap();
    let run_refused = run(&base, OutboundAccess::through(Arc::new(refused))).await;
    let (kind, message) = failed(&run_refused);
    assert_eq!(kind, PluginErrorKind::InvalidInput);
    assert!(
        message.contains("refused to connect to \"thumbs.test\""),
        "{message}"
    );
    assert!(fixture.hits().is_empty());

    let allowed = PolicyFilter::with_resolver(
        OutboundPolicy {
            allow_loopback: true,
            ..policy
        },
        resolver,
    )
    .unwrap();
    let run_allowed = run(&base, OutboundAccess::through(Arc::new(allowed))).await;
    assert_eq!(succeeded(&run_allowed).result["size"], "maxresdefault");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_network_access_is_a_refusal() {
    let run = run("http://127.0.0.1:9", OutboundAccess::deny_all()).await;
    let (kind, message) = failed(&run);
    assert_eq!(kind, PluginErrorKind::InvalidInput);
    assert!(
        message.contains("outbound policy: this step may not reach the network"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_retryable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let run = run(&format!("http://{addr}"), through(loopback_policy())).await;
    let (kind, message) = failed(&run);
    assert_eq!(kind, PluginErrorKind::Unavailable, "{message}");
    assert!(message.contains("ConnectionRefused"), "{message}");
    assert!(run.outcome.as_ref().unwrap_err().retryable());
}

#[path = "thumbnail/filter.rs"]
mod filter;
