//! The HTTP edge tried as a hostile client would: oversized bodies on every route that
//! takes one (with the server's RSS read from /proc), slow clients, too many connections,
//! one key flooding the server, quotas. Each case checks the status and code, and that the
//! server goes on answering.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Process, ProcessDir, Server, Setup, create_key, free_port, process_dir};

/// How a raw request frames its body.
#[derive(Clone, Copy)]
enum Framing {
    /// `Content-Length: n` declared (and sent, if the server reads it).
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A body of `size` bytes made on the fly: `prefix`, then `fill` repeated, then `suffix`.
struct Body {
    prefix: Vec<u8>,
    fill: u8,
    size: u64,
    suffix: Vec<u8>,
}

impl Body {
    fn filled(prefix: &str, fill: u8, size: u64, suffix: &str) -> Body {
        Body {
            prefix: prefix.as_bytes().to_vec(),
            fill,
            size,
            suffix: suffix.as_bytes().to_vec(),
        }
    }

    fn len(&self) -> u64 {
        self.prefix.len() as u64 + self.size + self.suffix.len() as u64
    }
}

/// Sends one request over a raw socket, writing the body until the server answers or stops
/// reading; returns the answer's text. The body is never held whole in this process.
async fn raw(
    addr: SocketAddr,
    head: &str,
    framing: Framing,
    body: Body,
    timeout: Duration,
) -> Result<String> {
    let socket = TcpStream::connect(addr).await?;
    let (mut reader, mut writer) = socket.into_split();
    let length = match framing {
        Framing::Length => format!("Content-Length: {}\r\n", body.len()),
        Framing::Chunked => "Transfer-Encoding: chunked\r\n".into(),
    };
    let request = format!("{head}Host: {addr}\r\n{length}\r\n");
    let answer = tokio::spawn(async move {
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(timeout, reader.read_to_end(&mut answer)).await;
        answer
    });
    let write = async {
        writer.write_all(request.as_bytes()).await?;
        let block = vec![body.fill; 64 * 1024];
        let send = |piece: Vec<u8>| {
            let mut frame = Vec::with_capacity(piece.len() + 16);
            match framing {
                Framing::Length => frame.extend_from_slice(&piece),
                Framing::Chunked => {
                    frame.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    frame.extend_from_slice(&piece);
                    frame.extend_from_slice(b"\r\n");
                }
            }
            frame
        };
        if !body.prefix.is_empty() {
            // (An empty chunk would end a chunked body.)
            writer.write_all(&send(body.prefix.clone())).await?;
        }
        let mut left = body.size;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            writer.write_all(&send(block[..n].to_vec())).await?;
            left -= n as u64;
        }
        if !body.suffix.is_empty() {
            writer.write_all(&send(body.suffix.clone())).await?;
        }
        if matches!(framing, Framing::Chunked) {
            writer.write_all(b"0\r\n\r\n").await?;
        }
        anyhow::Ok(())
    };
    // Stop writing as soon as the answer is in (the server closes after a refusal).
    let answer = {
        tokio::pin!(answer);
        tokio::select! {
            a = &mut answer => a?,
            _ = write => answer.await?,
        }
    };
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// The status and `error.code` of a raw answer.
fn status_and_code(answer: &str) -> (u16, String) {
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let code = answer
        .find("\r\n\r\n")
        .and_then(|i| {
            let body = &answer[i + 4..];
            // A JSON body, possibly chunked: take the object.
            let start = body.find('{')?;
            let end = body.rfind('}')?;
            serde_json::from_str::<Value>(&body[start..=end]).ok()
        })
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    (status, code)
}

/// VmRSS of a process, bytes.
fn rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .context("VmRSS value")?
        .parse()?;
    Ok(kib * 1024)
}

const GIB: u64 = 1 << 30;

/// Every route that takes a body, sent far more than its limit (1.5 GiB declared, or
/// streamed until the server cuts it off), against the real binary: each is refused with
/// its code, nothing is stored, and the server's RSS grows by less than 64 MiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_bodies_are_refused_on_every_route_without_growing_the_server() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let ProcessDir {
        settings: settings_path,
        data,
    } = process_dir(
        dir.path(),
        &Setup {
            // Components are read whole (admin only): a smaller cap keeps this test's
            // RSS bound meaningful for the other routes.
            settings: "[uploads]\nmax_bytes = 20000000\n[http]\nmax_plugin_bytes = 8000000\n"
                .into(),
            ..Setup::default()
        },
    )?;
    let key = create_key(&data, None, false)?;
    let admin = create_key(&data, None, true)?;
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
    let server = Process::spawn(
        &["serve", "--no-workers", "--addr", &addr.to_string()],
        &data,
        None,
        Some(&settings_path),
    )?;
    server.ready(Duration::from_secs(120)).await?;
    let pid = server.child.id();
    let http = reqwest::Client::new();
    // Warm up the paths measured below, so their first-use allocations are not counted.
    for _ in 0..3 {
        http.get(format!("http://{addr}/api/jobs"))
            .bearer_auth(&key)
            .send()
            .await?;
    }
    let before = rss(pid)?;
    let json_head = |path: &str, key: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        )
    };
    let form_head = |path: &str, key: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nAuthorization: Bearer {key}\r\nContent-Type: multipart/form-data; boundary=XB\r\n"
        )
    };
    let json_body = |size| Body::filled("{\"youtube_url\": \"", b'a', size, "\"}");
    let t = Duration::from_secs(30);
    let mut cases: Vec<(&str, String, Framing, Body, u16, &str)> = Vec::new();
    for path in [
        "/api/jobs",
        "/api/get-youtube-frame/",
        "/api/people-count/",
        "/api/jobs/0190a5f0-0000-7000-8000-000000000000/cancel",
        "/api/pipelines/reload",
    ] {
        // Declared: refused from the head, whether the route reads a body or not.
        cases.push((
            path,
            json_head(path, &key),
            Framing::Length,
            json_body(3 * GIB / 2),
            413,
            "BODY_TOO_LARGE",
        ));
    }
    for path in ["/api/jobs", "/api/get-youtube-frame/", "/api/people-count/"] {
        // Streamed: cut off at the limit.
        cases.push((
            path,
            json_head(path, &key),
            Framing::Chunked,
            json_body(3 * GIB / 2),
            413,
            "BODY_TOO_LARGE",
        ));
    }
    let file_part = |name: &str| {
        format!(
            "--XB\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"a.mp4\"\r\nContent-Type: video/mp4\r\n\r\n"
        )
    };
    for path in ["/api/uploads", "/api/people-count/"] {
        cases.push((
            path,
            form_head(path, &key),
            Framing::Chunked,
            Body::filled(&file_part("video"), 0, 200_000_000, "\r\n--XB--\r\n"),
            413,
            "FILE_TOO_LARGE",
        ));
        cases.push((
            path,
            form_head(path, &key),
            Framing::Length,
            Body::filled(&file_part("video"), 0, 3 * GIB / 2, "\r\n--XB--\r\n"),
            413,
            "FILE_TOO_LARGE",
        ));
    }
    cases.push((
        "/api/uploads?filename=a.mp4",
        "POST /api/uploads?filename=a.mp4 HTTP/1.1\r\nAuthorization: Bearer KEY\r\n"
            .replace("KEY", &key),
        Framing::Chunked,
        Body::filled("", 0, 200_000_000, ""),
        413,
        "FILE_TOO_LARGE",
    ));
    // A text field of a form: capped at a few KiB, not read whole.
    cases.push((
        "/api/people-count/ youtube_url field",
        form_head("/api/people-count/", &key),
        Framing::Chunked,
        Body::filled(
            "--XB\r\nContent-Disposition: form-data; name=\"youtube_url\"\r\n\r\n",
            b'a',
            GIB,
            "\r\n--XB--\r\n",
        ),
        413,
        "FIELD_TOO_LARGE",
    ));
    // Plugins: a non-admin key is refused before a byte is read; an admin's upload is
    // cut off at the component limit.
    cases.push((
        "/api/plugins (user)",
        "POST /api/plugins HTTP/1.1\r\nAuthorization: Bearer KEY\r\n".replace("KEY", &key),
        Framing::Chunked,
        Body::filled("", 0, GIB, ""),
        403,
        "ADMIN_REQUIRED",
    ));
    cases.push((
        "/api/plugins (admin)",
        "POST /api/plugins HTTP/1.1\r\nAuthorization: Bearer KEY\r\n".replace("KEY", &admin),
        Framing::Chunked,
        Body::filled("", 0, GIB, ""),
        413,
        "BODY_TOO_LARGE",
    ));
    // No key: refused before the body.
    cases.push((
        "/api/jobs (no key)",
        "POST /api/jobs HTTP/1.1\r\nContent-Type: application/json\r\n".into(),
        Framing::Chunked,
        json_body(GIB),
        401,
        "UNAUTHORIZED",
    ));
    let mut peak = before;
    for (name, head, framing, body, want_status, want_code) in cases {
        let started = Instant::now();
        let answer = raw(addr, &head, framing, body, t).await?;
        let (status, code) = status_and_code(&answer);
        ensure!(
            (status, code.as_str()) == (want_status, want_code),
            "{name}: got {status} {code}, want {want_status} {want_code}: {answer}"
        );
        ensure!(
            started.elapsed() < Duration::from_secs(20),
            "{name}: took {:?}",
            started.elapsed()
        );
        peak = peak.max(rss(pid)?);
    }
    // Two file fields in one form: refused, and neither file kept.
    let two = format!(
        "{}{}\r\n{}{}\r\n--XB--\r\n",
        file_part("video"),
        "x".repeat(1000),
        file_part("video"),
        "y".repeat(1000)
    );
    let answer = raw(
        addr,
        &form_head("/api/people-count/", &key),
        Framing::Length,
        Body::filled(&two, 0, 0, ""),
        t,
    )
    .await?;
    assert_eq!(
        status_and_code(&answer),
        (400, "DUPLICATE_FIELD".into()),
        "{answer}"
    );
    let uploads = data.join("files/uploads");
    let kept = std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0);
    assert_eq!(kept, 0, "refused forms and uploads leave no files");
    let after = rss(pid)?;
    peak = peak.max(after);
    let growth = peak.saturating_sub(before);
    println!(
        "abuse: server RSS before {} MiB, peak {} MiB, growth {} MiB",
        before >> 20,
        peak >> 20,
        growth >> 20
    );
    assert!(growth < 64 << 20, "RSS grew by {} MiB", growth >> 20);
    // And the server goes on.
    let r = http
        .post(format!("http://{addr}/api/jobs"))
        .bearer_auth(&key)
        .json(&json!({"pipeline": "noop"}))
        .send()
        .await?;
    assert_eq!(r.status(), 202);
    Ok(())
}

/// Slow clients: a head sent a byte at a time, a body that stalls, and more idle
/// connections than the cap; each is cut off on its timer while others are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_clients_are_disconnected_and_the_connection_cap_holds() -> Result<()> {
    let server = Server::with(Setup {
        settings: "[http]\nheader_read_timeout_seconds = 1\nbody_read_timeout_seconds = 1\nidle_timeout_seconds = 2\nmax_connections = 8\n".into(),
        workers: false,
        ..Setup::default()
    })
    .await?;
    let addr = server.running.addr;

    // A head dribbled out a byte every 200 ms: closed after about a second.
    let started = Instant::now();
    let mut socket = TcpStream::connect(addr).await?;
    let head = format!("GET /api/jobs HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ");
    socket.write_all(head.as_bytes()).await?;
    let mut closed = false;
    for _ in 0..50 {
        if socket.write_all(b"a").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(200), socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => {
                // hyper may answer 408 before closing; the connection ends next.
                closed = true;
                break;
            }
            Err(_) => {}
        }
    }
    let took = started.elapsed();
    assert!(closed, "a slowloris head was still open after {took:?}");
    assert!(took < Duration::from_secs(4), "closed only after {took:?}");

    // A body that stops arriving: 408 BODY_TIMEOUT.
    let mut socket = TcpStream::connect(addr).await?;
    let request = format!(
        "POST /api/jobs HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"pipeline\":",
        server.key
    );
    socket.write_all(request.as_bytes()).await?;
    let started = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut answer))
        .await
        .context("the stalled body was never cut off")??;
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(
        status_and_code(&answer),
        (408, "BODY_TIMEOUT".into()),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));

    // Eight idle connections fill the cap: a ninth client waits, and is served once the
    // idle ones are closed by the header timer.
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(addr).await?);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let r = server.http.get(server.url("/healthz")).send().await?;
    assert_eq!(r.status(), 200);
    let waited = started.elapsed();
    assert!(
        waited > Duration::from_millis(500) && waited < Duration::from_secs(5),
        "the ninth connection waited {waited:?} (the cap is 8, idle ones close after 1 s)"
    );
    for mut s in idle {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await;
        assert!(
            matches!(n, Ok(Ok(_)) | Ok(Err(_))),
            "an idle connection stayed open"
        );
    }
    // The server goes on.
    let r = server.get("/api/jobs").send().await?;
    assert_eq!(r.status(), 200);
    server.stop().await;
    Ok(())
}

/// One key flooding: 429 RATE_LIMITED with Retry-After once its bucket is empty; other
/// keys and admin keys are unaffected; another key's job still runs in its usual time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flooding_key_is_rate_limited_and_others_are_served() -> Result<()> {
    let server = Server::with(Setup {
        settings: "[quotas]\nrequests_per_second = 100\nburst = 100\nmax_active_jobs_per_key = 0\n"
            .into(),
        ..Setup::default()
    })
    .await?;
    let (_, other) = server.app().store.create_key("other", false).await?;
    // The other key's job, alone: its usual time.
    let started = Instant::now();
    let id = submit_as(&server, &other, json!({"pipeline": "noop"})).await?;
    wait_as(&server, &other, &id).await?;
    let usual = started.elapsed();

    // 2,000 requests from one key, 32 at a time, while the other key runs a job.
    let flood = {
        let (http, base, key) = (server.http.clone(), server.base.clone(), server.key.clone());
        tokio::spawn(async move {
            use futures::StreamExt;
            let statuses: Vec<(u16, Option<String>, String)> = futures::stream::iter(0..2000)
                .map(|_| {
                    let (http, base, key) = (http.clone(), base.clone(), key.clone());
                    async move {
                        let r = http
                            .get(format!("{base}/api/jobs?limit=1"))
                            .bearer_auth(&key)
                            .send()
                            .await
                            .unwrap();
                        let status = r.status().as_u16();
                        let retry = r
                            .headers()
                            .get("retry-after")
                            .map(|v| v.to_str().unwrap().to_owned());
                        let body: Value = r.json().await.unwrap();
                        let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
                        (status, retry, code)
                    }
                })
                .buffer_unordered(32)
                .collect()
                .await;
            statuses
        })
    };
    let started = Instant::now();
    let id = submit_as(&server, &other, json!({"pipeline": "noop"})).await?;
    wait_as(&server, &other, &id).await?;
    let during = started.elapsed();
    let statuses = flood.await?;
    let limited: Vec<_> = statuses.iter().filter(|s| s.0 == 429).collect();
    let ok = statuses.iter().filter(|s| s.0 == 200).count();
    println!(
        "abuse: flood of 2000: {ok} served, {} limited; other key's job {usual:?} alone, {during:?} during",
        limited.len()
    );
    assert!(
        limited.len() > 1000,
        "only {} of 2000 limited",
        limited.len()
    );
    assert!(
        limited
            .iter()
            .all(|s| s.2 == "RATE_LIMITED" && s.1.as_deref() == Some("1"))
    );
    assert!(
        during < usual + Duration::from_secs(1),
        "the other key's job took {during:?} during the flood, {usual:?} alone"
    );
    // Admin keys are not limited; the flooding key is served again after Retry-After.
    for _ in 0..50 {
        let r = server
            .http
            .get(server.url("/api/jobs?limit=1"))
            .bearer_auth(&server.admin_key)
            .send()
            .await?;
        assert_eq!(r.status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(server.get("/api/jobs").send().await?.status(), 200);
    server.stop().await;
    Ok(())
}

/// Queued and running jobs per key are capped (429 QUEUE_QUOTA_EXCEEDED, counted in the
/// database), and only admin keys may raise priority above the pipeline's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queue_quota_and_priority_are_per_key() -> Result<()> {
    let server = Server::with(Setup {
        settings: "[quotas]\nrequests_per_second = 0\nmax_active_jobs_per_key = 2\n".into(),
        workers: false,
        ..Setup::default()
    })
    .await?;
    let first = server.submit_id(json!({"pipeline": "noop"})).await?;
    server.submit_id(json!({"pipeline": "noop"})).await?;
    let r = server
        .post("/api/jobs")
        .json(&json!({"pipeline": "noop"}))
        .send()
        .await?;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    let body: Value = r.json().await?;
    assert_eq!(body["error"]["code"], "QUEUE_QUOTA_EXCEEDED", "{body}");
    // Through the old app's route too.
    let r = server
        .post("/api/get-youtube-frame/")
        .json(&json!({"youtube_url": "https://youtu.be/dQw4w9WgXcQ"}))
        .send()
        .await?;
    assert_eq!(r.status(), 429);
    // Admin keys are exempt; a cancelled job frees its place.
    let r = server
        .http
        .post(server.url("/api/jobs"))
        .bearer_auth(&server.admin_key)
        .json(&json!({"pipeline": "noop"}))
        .send()
        .await?;
    assert_eq!(r.status(), 202);
    server.cancel(&first).await?;
    server.submit_id(json!({"pipeline": "noop"})).await?;

    // Priority: a user key may lower it, not raise it above the pipeline's.
    server.cancel(&first).await?;
    let r = server
        .post("/api/jobs")
        .json(&json!({"pipeline": "noop", "priority": 100}))
        .send()
        .await?;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await?;
    assert_eq!(body["error"]["code"], "PRIORITY_NOT_ALLOWED", "{body}");
    let r = server
        .http
        .post(server.url("/api/jobs"))
        .bearer_auth(&server.admin_key)
        .json(&json!({"pipeline": "noop", "priority": 100}))
        .send()
        .await?;
    assert_eq!(r.status(), 202);
    assert_eq!(r.json::<Value>().await?["priority"], 100);
    server.stop().await;
    Ok(())
}

async fn submit_as(server: &Server, key: &str, body: Value) -> Result<String> {
    let r = server
        .http
        .post(server.url("/api/jobs"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await?;
    ensure!(r.status() == 202, "submit: {}", r.status());
    Ok(r.json::<Value>().await?["id"]
        .as_str()
        .context("id")?
        .to_owned())
}

async fn wait_as(server: &Server, key: &str, id: &str) -> Result<Value> {
    let job =
        crate::support::wait_job(&server.http, &server.base, key, id, Duration::from_secs(30))
            .await?;
    ensure!(job["status"] == "succeeded", "{job}");
    Ok(job)
}

/// Keys have a life cycle: admins create (with a lifetime), list and revoke them over the
/// API; a revoked key is refused within 2 s, an expired one at once; the CLI does the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoked_and_expired_keys_are_refused() -> Result<()> {
    let server = Server::with(Setup {
        workers: false,
        ..Setup::default()
    })
    .await?;
    let admin = |r: reqwest::RequestBuilder| r.bearer_auth(&server.admin_key);
    // Only admins manage keys.
    let r = server
        .post("/api/keys")
        .json(&json!({"name": "x"}))
        .send()
        .await?;
    assert_eq!(r.status(), 403);
    let r = admin(server.http.post(server.url("/api/keys")))
        .json(&json!({"name": "temp"}))
        .send()
        .await?;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await?;
    let secret = created["secret"].as_str().context("secret")?.to_owned();
    let id = created["id"].as_str().context("id")?.to_owned();
    let jobs = |key: &str| {
        server
            .http
            .get(server.url("/api/jobs"))
            .bearer_auth(key)
            .send()
    };
    assert_eq!(jobs(&secret).await?.status(), 200);
    let r = admin(server.http.delete(server.url(&format!("/api/keys/{id}"))))
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    let revoked = Instant::now();
    loop {
        let r = jobs(&secret).await?;
        if r.status() == 401 {
            let body: Value = r.json().await?;
            assert_eq!(body["error"]["code"], "UNAUTHORIZED");
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(2),
            "a revoked key still worked after 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A key with a lifetime of a second works, then is refused.
    let r = admin(server.http.post(server.url("/api/keys")))
        .json(&json!({"name": "brief", "expires_in_seconds": 1}))
        .send()
        .await?;
    let brief: Value = r.json().await?;
    let brief_secret = brief["secret"].as_str().context("secret")?.to_owned();
    assert_eq!(jobs(&brief_secret).await?.status(), 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(jobs(&brief_secret).await?.status(), 401);
    let list: Value = admin(server.http.get(server.url("/api/keys")))
        .send()
        .await?
        .json()
        .await?;
    let listed = list["keys"].as_array().context("keys")?;
    assert_eq!(listed.len(), 4, "{list}");
    assert!(
        list.to_string().find("secret").is_none(),
        "no secrets listed"
    );
    let usable: Vec<_> = listed.iter().filter(|k| k["usable"] == true).collect();
    assert_eq!(usable.len(), 2, "admin and user stay usable: {list}");
    server.stop().await;

    // The command line: create with a lifetime, list, revoke, delete.
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let cli = |args: &[&str]| -> Result<String> {
        let out = std::process::Command::new(crate::support::binary())
            .args(args)
            .env("FRAMEPIPE_DATA_DIR", &data)
            .output()?;
        ensure!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?)
    };
    let created = cli(&["keys", "create", "--name", "ci", "--expires-in", "12h"])?;
    assert!(created.contains("expires"), "{created}");
    let id = created
        .split_whitespace()
        .nth(2)
        .context("key id")?
        .to_owned();
    assert!(cli(&["keys", "list"])?.contains("\tactive"));
    cli(&["keys", "revoke", &id])?;
    assert!(cli(&["keys", "list"])?.contains("\trevoked"));
    cli(&["keys", "delete", &id])?;
    assert!(!cli(&["keys", "list"])?.contains(&id));
    Ok(())
}

/// Event streams are capped per key: the one over `quotas.max_event_streams` gets
/// `429 TOO_MANY_STREAMS`; a place comes back when a stream ends (its job finished) or
/// its client hangs up; other keys and admin keys are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn event_streams_are_capped_per_key_and_given_back() -> Result<()> {
    const MAX: usize = 3;
    let server = Server::with(Setup {
        settings: format!(
            "[quotas]\nrequests_per_second = 0\nmax_active_jobs_per_key = 0\nmax_event_streams = {MAX}\n"
        ),
        workers: false,
        ..Setup::default()
    })
    .await?;
    // Queued jobs (no workers): their streams stay open.
    let mut jobs = Vec::new();
    for _ in 0..MAX {
        jobs.push(server.submit_id(json!({"pipeline": "noop"})).await?);
    }
    let open = |id: &str| server.get(&format!("/api/jobs/{id}/events")).send();
    let mut streams = Vec::new();
    for id in &jobs {
        let r = open(id).await?;
        ensure!(
            r.status() == 200,
            "stream {}: {}",
            streams.len(),
            r.status()
        );
        streams.push(r);
    }
    let over = open(&jobs[0]).await?;
    assert_eq!(over.status(), 429);
    assert!(over.headers().get("retry-after").is_some());
    let body: Value = over.json().await?;
    assert_eq!(body["error"]["code"], "TOO_MANY_STREAMS", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("max_event_streams")),
        "{body}"
    );
    // Admin keys are exempt: more streams than the cap, all open at once.
    let admin_job = server
        .http
        .post(server.url("/api/jobs"))
        .bearer_auth(&server.admin_key)
        .json(&json!({"pipeline": "noop"}))
        .send()
        .await?
        .json::<Value>()
        .await?["id"]
        .as_str()
        .context("admin job id")?
        .to_owned();
    let mut admin_streams = Vec::new();
    for _ in 0..=MAX {
        let r = server
            .http
            .get(server.url(&format!("/api/jobs/{admin_job}/events")))
            .bearer_auth(&server.admin_key)
            .send()
            .await?;
        assert_eq!(r.status(), 200, "admin stream");
        admin_streams.push(r);
    }
    drop(admin_streams);

    // A stream that ends gives its place back: cancel its job, read it to its end.
    assert_eq!(server.cancel(&jobs[0]).await?, 200);
    let ended = streams.remove(0);
    let text = tokio::time::timeout(Duration::from_secs(10), ended.text()).await??;
    assert!(text.contains("event: done"), "{text}");
    let again = open(&jobs[1]).await?;
    assert_eq!(again.status(), 200, "after a stream ended");
    streams.push(again);
    assert_eq!(open(&jobs[1]).await?.status(), 429);

    // A client that hangs up gives its place back too.
    let started = Instant::now();
    drop(streams.pop());
    let status = loop {
        let r = open(&jobs[2]).await?;
        if r.status() != 429 || started.elapsed() > Duration::from_secs(20) {
            break r.status();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 200, "after a client hung up");
    eprintln!(
        "place given back {:?} after the client hung up",
        started.elapsed()
    );
    // The server goes on answering.
    assert_eq!(server.get("/api/jobs").send().await?.status(), 200);
    drop(streams);
    server.stop().await;
    Ok(())
}
