//! The REST API over real HTTP: submission, polling, auth, errors, idempotency, listing,
//! events, cancellation, retries, lanes.

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use crate::support::{Server, Setup, chaos_pipeline, job};

async fn error_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
        body["error"]["message"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn noop_job_is_accepted_then_succeeds_with_a_step_report() -> Result<()> {
    let server = Server::start().await?;
    let started = Instant::now();
    let response = server.post("/api/jobs").json(&job("noop")).send().await?;
    let accept_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str()?.to_owned();
    let body: Value = response.json().await?;
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/jobs/{id}"));
    assert_eq!(body["polling_url"], format!("/api/jobs/{id}/"));
    assert!(matches!(
        body["status"].as_str(),
        Some("queued" | "running" | "succeeded")
    ));
    println!("POST /api/jobs answered in {accept_ms:.1} ms");

    let done = server.wait(&id, Duration::from_secs(30)).await?;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["legacy_status"], "completed");
    assert_eq!(done["attempts"], 1);
    let step = &done["steps"][0];
    assert_eq!(step["plugin"], "noop");
    assert_eq!(step["status"], "succeeded");
    assert!(step["wall_ms"].as_f64().unwrap() > 0.0);
    assert!(step["cpu_ms"].as_f64().unwrap() > 0.0);
    // The old app's trailing-slash polling URL works too.
    let legacy: Value = server
        .get(&format!("/api/jobs/{id}/"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(legacy["id"], id.as_str());
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_are_required_and_jobs_are_private() -> Result<()> {
    let server = Server::start().await?;
    let r = server
        .http
        .post(server.url("/api/jobs"))
        .json(&job("noop"))
        .send()
        .await?;
    assert_eq!(error_of(r).await.0, 401);
    let r = server
        .http
        .post(server.url("/api/jobs"))
        .bearer_auth("fp_not_a_key")
        .json(&job("noop"))
        .send()
        .await?;
    let (status, code, _) = error_of(r).await;
    assert_eq!((status, code.as_str()), (401, "UNAUTHORIZED"));

    let id = server.submit_id(job("noop")).await?;
    let (_, other) = server.app().store.create_key("someone else", false).await?;
    let r = server
        .http
        .get(server.url(&format!("/api/jobs/{id}")))
        .bearer_auth(&other)
        .send()
        .await?;
    assert_eq!(error_of(r).await.0, 404, "another key must not see the job");
    let r = server
        .http
        .delete(server.url(&format!("/api/jobs/{id}")))
        .bearer_auth(&other)
        .send()
        .await?;
    assert_eq!(error_of(r).await.0, 404);
    let list: Value = server
        .http
        .get(server.url("/api/jobs"))
        .bearer_auth(&other)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(list["jobs"].as_array().unwrap().len(), 0);
    // Admin-only operations refuse a user key.
    let r = server.post("/api/pipelines/reload").send().await?;
    let (status, code, _) = error_of(r).await;
    assert_eq!((status, code.as_str()), (403, "ADMIN_REQUIRED"));
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_requests_get_specific_codes() -> Result<()> {
    let server = Server::start().await?;
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            server.post("/api/jobs").header("content-type", "application/json").body("{\"pipeline\": "),
            400,
            "INVALID_JSON",
        ),
        (server.post("/api/jobs").body("pipeline=noop"), 415, "UNSUPPORTED_MEDIA_TYPE"),
        (server.post("/api/jobs").json(&json!({"pipeline": "nope"})), 400, "UNKNOWN_PIPELINE"),
        (server.post("/api/jobs").json(&json!({"pipelin": "noop"})), 400, "INVALID_REQUEST"),
        (
            server.post("/api/jobs").json(&json!({"pipeline": "noop", "params": {"x": 1}})),
            400,
            "INVALID_PARAMS",
        ),
        (server.post("/api/jobs").json(&json!({"pipeline": "checksum"})), 400, "MISSING_INPUT"),
        (
            server.post("/api/jobs").json(&json!({"pipeline": "checksum", "input": {"youtube_url": "https://youtu.be/dQw4w9WgXcQ"}})),
            400,
            "INPUT_NOT_ACCEPTED",
        ),
        (
            server.post("/api/jobs").json(&json!({"pipeline": "frame-at", "input": {"youtube_url": "https://youtube.com/playlist?list=PLx"}})),
            400,
            "YOUTUBE_PLAYLIST_NOT_SUPPORTED",
        ),
        (
            server.post("/api/jobs").json(&json!({"pipeline": "frame-at", "input": {"url": "file:///etc/passwd"}})),
            400,
            "INVALID_URL",
        ),
        (
            server.post("/api/jobs").json(&json!({"pipeline": "frame-at", "input": {"url": "https://example.com/a.mp4"}, "params": {"at_seconds": -1}})),
            400,
            "INVALID_PARAMS",
        ),
        (
            server.post("/api/jobs").json(&json!({"pipeline": "checksum", "input": {"upload": "0190b0a0-0000-7000-8000-000000000000"}})),
            400,
            "UPLOAD_NOT_FOUND",
        ),
        (server.get("/api/jobs/not-a-uuid"), 404, "NOT_FOUND"),
        (server.get("/api/jobs?status=done"), 400, "INVALID_QUERY"),
        (server.get("/api/nothing-here"), 404, "NOT_FOUND"),
        (
            server.post("/api/get-youtube-frame/").json(&json!({"youtube_url": "https://vimeo.com/1"})),
            400,
            "INVALID_YOUTUBE_URL",
        ),
        (server.post("/api/get-youtube-frame/").json(&json!({})), 400, "MISSING_INPUT"),
    ];
    for (request, want_status, want_code) in cases {
        let (status, code, message) = error_of(request.send().await?).await;
        assert_eq!(
            (status, code.as_str()),
            (want_status, want_code),
            "message: {message}"
        );
        assert!(!message.is_empty(), "{want_code} needs a message");
    }
    // Nothing was queued by any of them.
    let list: Value = server.get("/api/jobs").send().await?.json().await?;
    assert_eq!(list["jobs"].as_array().unwrap().len(), 0);
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_keys_return_the_same_job_or_409() -> Result<()> {
    let server = Server::start().await?;
    let first = server
        .post("/api/jobs")
        .header("Idempotency-Key", "abc")
        .json(&job("noop"))
        .send()
        .await?;
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await?;
    let again = server
        .post("/api/jobs")
        .header("Idempotency-Key", "abc")
        .json(&job("noop"))
        .send()
        .await?;
    assert_eq!(again.status(), 200, "a repeat is not a new job");
    let again: Value = again.json().await?;
    assert_eq!(first["id"], again["id"]);
    let other = server
        .post("/api/jobs")
        .header("Idempotency-Key", "abc")
        .json(&json!({"pipeline": "frame-at", "input": {"url": "https://example.com/a.mp4"}}))
        .send()
        .await?;
    let (status, code, _) = error_of(other).await;
    assert_eq!((status, code.as_str()), (409, "IDEMPOTENCY_CONFLICT"));
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_list_newest_first_with_cursor_and_filters() -> Result<()> {
    let server = Server::start().await?;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(server.submit_id(job("noop")).await?);
    }
    for id in &ids {
        server.wait(id, Duration::from_secs(30)).await?;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/jobs?limit=2".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Value = server.get(&path).send().await?.json().await?;
        for j in page["jobs"].as_array().unwrap() {
            seen.push(j["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    let page: Value = server
        .get("/api/jobs?status=succeeded&pipeline=noop")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 5);
    let page: Value = server
        .get("/api/jobs?status=failed")
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 0);
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn openapi_documents_every_route_and_health_answers() -> Result<()> {
    let server = Server::start().await?;
    let doc: Value = server
        .http
        .get(server.url("/api/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/jobs",
        "/api/jobs/{id}",
        "/api/jobs/{id}/cancel",
        "/api/jobs/{id}/events",
        "/api/jobs/{id}/artifacts/{step}/{name}",
        "/api/uploads",
        "/api/get-youtube-frame/",
        "/api/people-count/",
        "/api/plugins",
        "/api/pipelines",
        "/api/pipelines/{name}",
        "/api/pipelines/reload",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    let health = server.http.get(server.url("/healthz")).send().await?;
    assert_eq!(health.status(), 200);
    let ready: Value = server
        .http
        .get(server.url("/readyz"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(ready["status"], "ready");
    assert!(
        ready.get("jobs").is_none(),
        "counts are for admin keys: {ready}"
    );
    let ready: Value = server
        .http
        .get(server.url("/readyz"))
        .bearer_auth(&server.admin_key)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["queue"], "sqlite");
    assert!(ready["jobs"].is_object(), "{ready}");
    server.stop().await;
    Ok(())
}

/// A stand-in for a long analytics step: busy for `ms`, progress in ten steps.
const WORK_PIPELINE: &str = r#"
name = "work"
accepts = ["none"]

[params.ms]
type = "integer"
default = 1500

[[steps]]
name = "chaos"
plugin = "chaos"
config = { mode = "work", ms = "$params.ms" }
limits = { memory_mib = 32, deadline_ms = 60000 }
"#;

fn chaos_setup(settings: &str) -> Setup {
    Setup {
        settings: settings.to_owned(),
        chaos: true,
        pipelines: vec![
            ("work.toml".into(), WORK_PIPELINE.into()),
            ("spin.toml".into(), chaos_pipeline("spin", "loop", "")),
            ("hog.toml".into(), chaos_pipeline("hog", "alloc", "")),
            (
                "flaky.toml".into(),
                chaos_pipeline("flaky", "unavailable", "max_attempts = 3"),
            ),
            (
                "quick.toml".into(),
                chaos_pipeline("quick", "ok", "lane = \"preview\""),
            ),
        ],
        ..Setup::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_stream_progress_in_order_then_done() -> Result<()> {
    let server = Server::with(chaos_setup("")).await?;
    let id = server
        .submit_id(json!({"pipeline": "work", "params": {"ms": 2000}}))
        .await?;
    let response = server.get(&format!("/api/jobs/{id}/events")).send().await?;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = tokio::time::timeout(Duration::from_secs(30), response.text()).await??;
    let mut events = Vec::new();
    let mut name = String::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_owned();
        } else if let Some(data) = line.strip_prefix("data: ") {
            events.push((name.clone(), serde_json::from_str::<Value>(data)?));
        }
    }
    let (last_name, last) = events.last().unwrap();
    assert_eq!(last_name, "done");
    assert_eq!(last["status"], "succeeded");
    let progress: Vec<u64> = events
        .iter()
        .filter(|(n, _)| n == "progress")
        .map(|(_, v)| v["processed"].as_u64().unwrap())
        .collect();
    assert!(
        progress.len() >= 3,
        "expected several progress events, got {progress:?}"
    );
    assert!(
        progress.windows(2).all(|w| w[0] < w[1]),
        "progress out of order: {progress:?}"
    );
    let percentages: Vec<f64> = events
        .iter()
        .filter(|(n, _)| n == "progress")
        .map(|(_, v)| v["percentage"].as_f64().unwrap())
        .collect();
    assert!(percentages.iter().all(|p| (0.0..=100.0).contains(p)));
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelling_a_spinning_plugin_stops_it_within_two_seconds() -> Result<()> {
    let server = Server::with(chaos_setup("")).await?;
    let id = server.submit_id(job("spin")).await?;
    server.wait_running(&id).await?;
    let asked = Instant::now();
    let r = server
        .http
        .delete(server.url(&format!("/api/jobs/{id}")))
        .bearer_auth(&server.key)
        .send()
        .await?;
    assert_eq!(r.status(), 202, "a running job is cancelled first");
    let done = server.wait(&id, Duration::from_secs(10)).await?;
    let took = asked.elapsed();
    assert_eq!(done["status"], "cancelled", "{done}");
    assert!(took < Duration::from_secs(2), "cancel took {took:?}");
    println!("cancel of a spinning plugin took {took:?}");
    let r = server
        .http
        .delete(server.url(&format!("/api/jobs/{id}")))
        .bearer_auth(&server.key)
        .send()
        .await?;
    assert_eq!(r.status(), 204);
    let r = server.get(&format!("/api/jobs/{id}")).send().await?;
    assert_eq!(r.status(), 404);
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retryable_failures_back_off_then_fail_after_max_attempts() -> Result<()> {
    let server = Server::with(chaos_setup(
        "[workers]\nretry_base_ms = 100\nretry_max_ms = 400\n",
    ))
    .await?;
    let id = server.submit_id(job("flaky")).await?;
    let mut saw_retrying = false;
    let start = Instant::now();
    let done = loop {
        let j: Value = server
            .get(&format!("/api/jobs/{id}"))
            .send()
            .await?
            .json()
            .await?;
        saw_retrying |= j["status"] == "retrying";
        if j["status"] == "failed" {
            break j;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{j}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(saw_retrying, "the job should pass through `retrying`");
    assert_eq!(done["attempts"], 3);
    assert_eq!(done["error"]["code"], "UNAVAILABLE");
    assert_eq!(done["error"]["retryable"], true);
    assert!(
        done["error"]["message"]
            .as_str()
            .unwrap()
            .contains("step `chaos`")
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hostile_plugin_fails_its_own_job_and_others_go_on() -> Result<()> {
    let server = Server::with(chaos_setup("")).await?;
    let hog = server.submit_id(job("hog")).await?;
    let spin = server.submit_id(job("spin")).await?;
    let fine: Vec<String> = futures_ids(&server, 6).await?;
    let hog = server.wait(&hog, Duration::from_secs(30)).await?;
    assert_eq!(hog["status"], "failed");
    assert_eq!(hog["error"]["code"], "MEMORY_LIMIT_EXCEEDED");
    assert!(
        hog["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cap 32 MiB"),
        "{}",
        hog["error"]
    );
    assert_eq!(hog["error"]["retryable"], false);
    for id in fine {
        assert_eq!(
            server.wait(&id, Duration::from_secs(30)).await?["status"],
            "succeeded"
        );
    }
    server.cancel(&spin).await?;
    assert_eq!(
        server.wait(&spin, Duration::from_secs(10)).await?["status"],
        "cancelled"
    );
    server.stop().await;
    Ok(())
}

async fn futures_ids(server: &Server, n: usize) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(server.submit_id(job("noop")).await?);
    }
    Ok(ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_preview_never_waits_behind_a_long_job() -> Result<()> {
    let server = Server::with(chaos_setup("[workers.lanes]\ndefault = 1\npreview = 1\n")).await?;
    let long1 = server
        .submit_id(json!({"pipeline": "work", "params": {"ms": 4000}}))
        .await?;
    let long2 = server
        .submit_id(json!({"pipeline": "work", "params": {"ms": 4000}}))
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    let quick = server.submit_id(job("quick")).await?;
    let done = server.wait(&quick, Duration::from_secs(10)).await?;
    let took = start.elapsed();
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["lane"], "preview");
    assert!(
        took < Duration::from_secs(3),
        "the preview took {took:?} behind the long jobs"
    );
    let long2_now: Value = server
        .get(&format!("/api/jobs/{long2}"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        long2_now["status"], "queued",
        "one worker in the default lane: the second long job waits"
    );
    println!("preview done in {took:?} while two 4 s jobs occupy the default lane");
    for id in [long1, long2] {
        server.cancel(&id).await?;
    }
    server.stop().await;
    Ok(())
}
