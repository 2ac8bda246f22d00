//! The server's figures, measured in one run: `cargo bench -p framepipe --bench api`.
//!
//! 1. `POST /api/jobs` at 64 concurrent clients on SQLite: requests/s, p50, p99, with the
//!    `[quotas]` off and at their defaults, alternating in one run.
//! 2. No-op jobs through the queue and in-process workers, end to end: jobs/s.
//! 3. YouTube previews against a loopback thumbnail server: POST to completed, median and
//!    p99 with 32 at once.
//! 4. Server process RSS: idle, with 100,000 queued jobs, and at peak while 20 uploads of
//!    200 MB stream in at once (the `framepipe` binary as a child process).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use framepipe::app::{App, start};
use framepipe::config::{Config, FileConfig};
use futures::StreamExt;
use serde_json::{Value, json};

mod common;

const POSTS: usize = 20_000;
/// Keys the POST benchmark spreads its requests over: 20 each, inside the default burst
/// (100) and job quota (1,000), so that quotas at their defaults cost their checks but
/// refuse nothing.
const KEYS: usize = 1_000;
/// Rounds per setting in the POST benchmark (off, defaults, off, defaults, ...).
const ROUNDS: usize = 2;
const CLIENTS: usize = 64;
const NOOP_JOBS: usize = 10_000;
const PREVIEWS: usize = 320;

fn main() -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        println!(
            "framepipe server figures (cargo bench -p framepipe --bench api), {} cores",
            std::thread::available_parallelism()?.get()
        );
        // `cargo bench -p framepipe --bench api -- noop` runs only the parts named so.
        let only: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .collect();
        let wanted = |part: &str| only.is_empty() || only.iter().any(|o| part.contains(o.as_str()));
        if wanted("post") {
            post_throughput().await?;
        }
        if wanted("noop") {
            noop_end_to_end().await?;
        }
        if wanted("previews") {
            previews().await?;
        }
        if wanted("rss") {
            rss().await?;
        }
        Ok(())
    })
}

/// `[quotas]` off.
const NO_QUOTAS: &str = "[quotas]\nrequests_per_second = 0\nmax_active_jobs_per_key = 0\n";

fn cache_settings() -> String {
    let cache = std::env::temp_dir().join("framepipe-bench-cache");
    format!(
        "runtime = {{ cache_dir = {:?} }}\n",
        cache.display().to_string()
    )
}

async fn server(
    dir: &Path,
    settings: &str,
    workers: bool,
) -> Result<(framepipe::app::Running, String, String)> {
    // One key drives thousands of requests a second here: the per-key quotas (made for
    // many tenants) would measure the rate limit, not the server.
    let (running, base, mut keys) =
        server_with_keys(dir, &format!("{settings}\n{NO_QUOTAS}"), workers, 1).await?;
    Ok((running, base, keys.remove(0)))
}

/// A server with `settings` (quotas at their defaults unless they are set) and `keys`
/// user keys.
async fn server_with_keys(
    dir: &Path,
    settings: &str,
    workers: bool,
    keys: usize,
) -> Result<(framepipe::app::Running, String, Vec<String>)> {
    let file = FileConfig::parse(&format!("{}{settings}\n", cache_settings()))?;
    let app = App::open(Config::new(dir.join("data"), None, file)).await?;
    let mut secrets = Vec::with_capacity(keys);
    for i in 0..keys {
        secrets.push(app.store.create_key(&format!("bench-{i}"), false).await?.1);
    }
    let running = start(app, "127.0.0.1:0".parse()?, workers).await?;
    let base = format!("http://{}", running.addr);
    Ok((running, base, secrets))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

async fn post_throughput() -> Result<()> {
    // Quotas off and at their defaults, alternating, each round on a fresh server.
    let mut results: [Vec<(f64, Vec<f64>)>; 2] = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS * 2 {
        let quotas = round % 2 == 1;
        let settings = if quotas { "" } else { NO_QUOTAS };
        let (rate, latencies) = post_round(settings).await?;
        println!(
            "  round {}: quotas {}: {rate:.0} req/s, p99 {:.2} ms",
            round + 1,
            if quotas { "at defaults" } else { "off" },
            percentile(&latencies, 0.99)
        );
        results[usize::from(quotas)].push((rate, latencies));
    }
    for (quotas, rounds) in results.iter().enumerate() {
        let rate = rounds.iter().map(|(r, _)| r).sum::<f64>() / rounds.len() as f64;
        let mut all: Vec<f64> = rounds.iter().flat_map(|(_, l)| l.iter().copied()).collect();
        all.sort_by(f64::total_cmp);
        println!(
            "POST /api/jobs, SQLite, {CLIENTS} clients, {KEYS} keys, quotas {}: {rate:.0} req/s (mean of {} rounds of {POSTS}), p50 {:.2} ms, p99 {:.2} ms (goal >= 5,000 req/s, p99 < 20 ms)",
            if quotas == 1 { "at defaults" } else { "off" },
            rounds.len(),
            percentile(&all, 0.5),
            percentile(&all, 0.99)
        );
    }
    Ok(())
}

/// One round of `POSTS` submissions spread over `KEYS` keys: requests/s and the sorted
/// latencies in ms.
async fn post_round(settings: &str) -> Result<(f64, Vec<f64>)> {
    let dir = tempfile::tempdir()?;
    let (running, base, keys) = server_with_keys(dir.path(), settings, false, KEYS).await?;
    let keys = Arc::new(keys);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()?;
    let started = Instant::now();
    let latencies: Vec<f64> = futures::stream::iter(0..POSTS)
        .map(|i| {
            let (http, base, keys) = (http.clone(), base.clone(), keys.clone());
            async move {
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/api/jobs"))
                    .bearer_auth(&keys[i % keys.len()])
                    .json(&json!({"pipeline": "noop"}))
                    .send()
                    .await?;
                ensure!(r.status() == 202, "status {}", r.status());
                r.bytes().await?;
                Ok(t.elapsed().as_secs_f64() * 1000.0)
            }
        })
        .buffer_unordered(CLIENTS)
        .collect::<Vec<Result<f64>>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let secs = started.elapsed().as_secs_f64();
    let mut sorted = latencies;
    sorted.sort_by(f64::total_cmp);
    running.shutdown.cancel();
    let _ = running.done.await;
    Ok((POSTS as f64 / secs, sorted))
}

async fn noop_end_to_end() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (running, _base, _key) =
        server(dir.path(), "[workers.lanes]\ndefault = 16\n", true).await?;
    let store = running.app.store.clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let last = futures::stream::iter(0..NOOP_JOBS)
        .map(|_| store.enqueue(framepipe_queue::NewJob::new("bench", "noop", json!({}))))
        .buffered(64)
        .fold(None, |_, r| async move { Some(r.expect("enqueue").job.id) })
        .await
        .context("no job enqueued")?;
    common::wait_until_succeeded(&store, last, NOOP_JOBS, started, "no-op jobs").await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "no-op jobs end to end (enqueue, claim, instantiate + run the noop component, complete), SQLite, 16 slots: {NOOP_JOBS} jobs in {secs:.2} s = {:.0} jobs/s (goal >= 10,000)",
        NOOP_JOBS as f64 / secs
    );
    running.shutdown.cancel();
    let _ = running.done.await;
    Ok(())
}

async fn previews() -> Result<()> {
    use axum::http::{StatusCode, Uri, header};
    use axum::response::IntoResponse;
    let thumb = Arc::new(small_jpeg());
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let thumb = thumb.clone();
        async move {
            if uri.path().ends_with("/hq720.jpg") {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "image/jpeg")],
                    (*thumb).clone(),
                )
                    .into_response()
            } else {
                (
                    StatusCode::NOT_FOUND,
                    [(header::CONTENT_TYPE, "image/jpeg")],
                    b"placeholder".to_vec(),
                )
                    .into_response()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let fixture = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir()?;
    let settings = format!(
        "[youtube]\nthumbnail_base_url = {fixture:?}\n[outbound]\nallow_loopback = true\n[workers.lanes]\npreview = 32\n"
    );
    let (running, base, key) = server(dir.path(), &settings, true).await?;
    let http = reqwest::Client::new();
    let one = |i: usize| {
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        async move {
            let t = Instant::now();
            let id = format!("{:0>11}", i.to_string());
            let r = http
                .post(format!("{base}/api/get-youtube-frame/"))
                .bearer_auth(&key)
                .json(&json!({"youtube_url": format!("https://youtu.be/{id}")}))
                .send()
                .await?;
            let job: Value = r.json().await?;
            let id = job["id"].as_str().context("no id")?.to_owned();
            loop {
                let j: Value = http
                    .get(format!("{base}/api/jobs/{id}"))
                    .bearer_auth(&key)
                    .send()
                    .await?
                    .json()
                    .await?;
                match j["status"].as_str() {
                    Some("succeeded") => return Ok(t.elapsed().as_secs_f64() * 1000.0),
                    Some("failed" | "cancelled") => anyhow::bail!("preview failed: {}", j["error"]),
                    _ => tokio::time::sleep(Duration::from_millis(2)).await,
                }
            }
        }
    };
    // Sequential: the latency of one preview on an idle server.
    let mut alone = Vec::new();
    for i in 0..30 {
        alone.push(one(i).await?);
    }
    alone.sort_by(f64::total_cmp);
    let together: Vec<f64> = futures::stream::iter(0..PREVIEWS)
        .map(|i| one(1000 + i))
        .buffer_unordered(32)
        .collect::<Vec<Result<f64>>>()
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    let mut together = together;
    together.sort_by(f64::total_cmp);
    println!(
        "YouTube preview, POST to completed (maxres 404, hq720 200, loopback thumbnail server): one at a time median {:.1} ms (goal < 50 ms); 32 at once median {:.1} ms, p99 {:.1} ms",
        percentile(&alone, 0.5),
        percentile(&together, 0.5),
        percentile(&together, 0.99)
    );
    running.shutdown.cancel();
    let _ = running.done.await;
    Ok(())
}

/// A real 1280x720 JPEG, made with the same encoder crate the plugins use.
fn small_jpeg() -> Vec<u8> {
    let (w, h) = (1280u16, 720u16);
    let pixels: Vec<u8> = (0..w as usize * h as usize)
        .flat_map(|i| [(i % 251) as u8, (i / 1280 % 251) as u8, 90])
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85)
        .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .expect("jpeg");
    out
}

fn rss_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .context("no such field")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("no value")?
        .parse()?)
}

struct Child_(Child);
impl Drop for Child_ {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn rss() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let settings = dir.path().join("settings.toml");
    std::fs::write(
        &settings,
        format!(
            "{}[uploads]\nmax_bytes = 300000000\n{NO_QUOTAS}",
            cache_settings()
        ),
    )?;
    let bin = env!("CARGO_BIN_EXE_framepipe");
    let out = Command::new(bin)
        .args(["keys", "create"])
        .env("FRAMEPIPE_DATA_DIR", &data)
        .output()?;
    let key = String::from_utf8(out.stdout)?
        .lines()
        .last()
        .context("no key")?
        .to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Child_(
        Command::new(bin)
            .args([
                "serve",
                "--no-workers",
                "--addr",
                &format!("127.0.0.1:{port}"),
            ])
            .env("FRAMEPIPE_DATA_DIR", &data)
            .env("FRAMEPIPE_CONFIG", &settings)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .spawn()?,
    );
    let pid = child.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let idle = rss_kib(pid, "VmRSS")?;
    let queued = 100_000;
    futures::stream::iter(0..queued)
        .map(|_| {
            http.post(format!("{base}/api/jobs"))
                .bearer_auth(&key)
                .json(&json!({"pipeline": "noop"}))
                .send()
        })
        .buffer_unordered(64)
        .for_each(|r| async move {
            assert_eq!(r.expect("post").status(), 202);
        })
        .await;
    let with_queue = rss_kib(pid, "VmRSS")?;
    let before_uploads = rss_kib(pid, "VmHWM")?;
    let upload_bytes: u64 = 200 * 1000 * 1000;
    let uploads = (0..20).map(|_| {
        let http = http.clone();
        let (base, key) = (base.clone(), key.clone());
        async move {
            let chunk = bytes::Bytes::from(vec![7u8; 1 << 20]);
            let n = upload_bytes / (1 << 20) as u64;
            let rest = upload_bytes % (1 << 20) as u64;
            let body = futures::stream::iter(
                (0..n)
                    .map(move |_| Ok::<_, std::io::Error>(chunk.clone()))
                    .chain(std::iter::once(Ok(bytes::Bytes::from(vec![
                        7u8;
                        rest as usize
                    ])))),
            );
            let r = http
                .post(format!("{base}/api/uploads?filename=big.mp4"))
                .bearer_auth(&key)
                .body(reqwest::Body::wrap_stream(body))
                .send()
                .await?;
            ensure!(r.status() == 201, "upload: {}", r.status());
            Ok::<(), anyhow::Error>(())
        }
    });
    let started = Instant::now();
    for r in futures::future::join_all(uploads).await {
        r?;
    }
    let upload_secs = started.elapsed().as_secs_f64();
    let peak = rss_kib(pid, "VmHWM")?;
    println!(
        "server RSS (serve --no-workers): idle {:.1} MiB; with 100,000 queued jobs {:.1} MiB; peak while 20 uploads of 200 MB streamed in at once {:.1} MiB (peak before the uploads {:.1} MiB; 4 GB written in {upload_secs:.1} s)",
        idle as f64 / 1024.0,
        with_queue as f64 / 1024.0,
        peak as f64 / 1024.0,
        before_uploads as f64 / 1024.0
    );
    drop(child);
    Ok(())
}
