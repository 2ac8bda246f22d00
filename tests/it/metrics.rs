//! `GET /metrics` over real HTTP: who may scrape, that the figures move with real jobs,
//! that queue figures come from the queue (a second process on the same file sees them),
//! and that docs/ops' alert rules and dashboard name only exported metrics.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::support::{Server, Setup, chaos_pipeline, job};

const SCRAPE_TOKEN: &str = "scrape-token-0123456789abcdef";

/// One sample of a scrape: `name{labels} value`.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed scrape: samples and the families declared by `# TYPE`.
#[derive(Debug, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    /// Family name -> type (`counter`, `gauge`, `histogram`, `info`, ...).
    pub families: BTreeMap<String, String>,
}

impl Scrape {
    /// Parses the OpenMetrics / Prometheus text format (the subset the server writes),
    /// failing on any line it does not understand.
    pub fn parse(text: &str) -> Result<Scrape> {
        let mut scrape = Scrape::default();
        if !text.ends_with("# EOF\n") {
            bail!("an OpenMetrics answer ends with `# EOF`");
        }
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').context("bad TYPE line")?;
                scrape.families.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').context("no value")?;
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .with_context(|| format!("bad value in {line:?}"))?,
            };
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').context("unclosed labels")?;
                    (name.to_owned(), parse_labels(body)?)
                }
            };
            scrape.samples.push(Sample {
                name,
                labels,
                value,
            });
        }
        Ok(scrape)
    }

    /// Samples named `name` whose labels include every pair of `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The sum of the matching samples (0 when none match).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels).iter().map(|s| s.value).sum()
    }

    /// Every name a query may use: sample names and family names.
    pub fn names(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = self.samples.iter().map(|s| s.name.clone()).collect();
        names.extend(self.families.keys().cloned());
        names
    }
}

fn parse_labels(body: &str) -> Result<BTreeMap<String, String>> {
    let mut labels = BTreeMap::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").context("label without =\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().context("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().context("dangling escape")?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.trim_start_matches(',').to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    Ok(labels)
}

/// Scrapes with `bearer` and parses the answer (asserting 200 and the content type).
pub async fn scrape(server: &Server, bearer: &str) -> Result<Scrape> {
    let response = server
        .http
        .get(server.url("/metrics"))
        .bearer_auth(bearer)
        .send()
        .await?;
    let status = response.status();
    let content_type = response.headers()["content-type"].to_str()?.to_owned();
    let text = response.text().await?;
    if status != 200 {
        bail!("/metrics answered {status}: {text}");
    }
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    Scrape::parse(&text)
}

async fn refusal(request: reqwest::RequestBuilder) -> Result<(u16, String)> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await?;
    Ok((
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    ))
}

fn setup() -> Setup {
    Setup {
        settings: format!("[metrics]\nscrape_token = \"{SCRAPE_TOKEN}\"\n"),
        chaos: true,
        pipelines: vec![("hog.toml".into(), chaos_pipeline("hog", "alloc", ""))],
        ..Setup::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_need_an_admin_key_or_the_scrape_token() -> Result<()> {
    let server = Server::with(setup()).await?;
    let url = server.url("/metrics");
    let anonymous = refusal(server.http.get(&url)).await?;
    assert_eq!(anonymous, (401, "UNAUTHORIZED".into()));
    let wrong = refusal(server.http.get(&url).bearer_auth("scrape-token-wrong")).await?;
    assert_eq!(wrong, (401, "UNAUTHORIZED".into()));
    let user = refusal(server.get("/metrics")).await?;
    assert_eq!(user, (403, "ADMIN_REQUIRED".into()));
    // The scrape token opens /metrics only.
    let jobs = refusal(
        server
            .http
            .get(server.url("/api/jobs"))
            .bearer_auth(SCRAPE_TOKEN),
    )
    .await?;
    assert_eq!(jobs, (401, "UNAUTHORIZED".into()));
    scrape(&server, SCRAPE_TOKEN).await?;
    scrape(&server, &server.admin_key).await?;
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_too_short_scrape_token_is_a_config_error() -> Result<()> {
    let error = Server::with(Setup {
        settings: "[metrics]\nscrape_token = \"short\"\n".into(),
        ..Setup::default()
    })
    .await
    .err()
    .context("a 5-character token must be refused")?;
    assert!(
        error.to_string().contains("at least 16 characters"),
        "{error}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_move_with_jobs_steps_limits_and_requests() -> Result<()> {
    let server = Server::with(setup()).await?;
    let before = scrape(&server, &server.admin_key).await?;
    assert_eq!(before.sum("framepipe_queue_up", &[]), 1.0);
    assert_eq!(
        before.sum("framepipe_job_attempts_finished_total", &[]),
        0.0
    );

    let ok = server.submit_id(job("noop")).await?;
    let done = server.wait(&ok, Duration::from_secs(30)).await?;
    assert_eq!(done["status"], "succeeded", "{done}");
    let lane = done["lane"].as_str().context("lane")?.to_owned();
    let hog = server.submit_id(job("hog")).await?;
    let failed = server.wait(&hog, Duration::from_secs(60)).await?;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "MEMORY_LIMIT_EXCEEDED", "{failed}");
    let missing = server.get("/no/such/endpoint").send().await?;
    assert_eq!(missing.status(), 404);

    let m = scrape(&server, SCRAPE_TOKEN).await?;
    let attempts = "framepipe_job_attempts_finished_total";
    assert_eq!(
        m.sum(attempts, &[("pipeline", "noop"), ("outcome", "succeeded")]),
        1.0
    );
    assert_eq!(
        m.sum(attempts, &[("pipeline", "hog"), ("outcome", "failed")]),
        1.0
    );
    assert_eq!(
        m.sum(
            "framepipe_jobs_enqueued_total",
            &[("pipeline", "noop"), ("lane", &lane)]
        ),
        1.0
    );
    assert!(m.sum("framepipe_jobs_claimed_total", &[]) >= 2.0);
    assert_eq!(
        m.sum(
            "framepipe_job_duration_seconds_count",
            &[("pipeline", "noop"), ("outcome", "succeeded")]
        ),
        1.0
    );
    assert_eq!(m.sum("framepipe_job_queue_wait_seconds_count", &[]), 2.0);
    let noop_step = [
        ("pipeline", "noop"),
        ("plugin", "noop"),
        ("status", "succeeded"),
    ];
    assert_eq!(
        m.sum("framepipe_step_duration_seconds_count", &noop_step),
        1.0
    );
    assert!(m.sum("framepipe_step_duration_seconds_sum", &noop_step) > 0.0);
    assert_eq!(
        m.sum(
            "framepipe_step_duration_seconds_count",
            &[("plugin", "chaos"), ("status", "failed")]
        ),
        1.0
    );
    assert!(m.sum("framepipe_step_cpu_seconds_sum", &[("plugin", "noop")]) > 0.0);
    assert!(
        m.sum(
            "framepipe_step_peak_memory_bytes_sum",
            &[("plugin", "noop")]
        ) > 0.0
    );
    // The allocation bomb hit its 32 MiB cap.
    assert!(
        m.sum(
            "framepipe_step_peak_memory_bytes_sum",
            &[("plugin", "chaos")]
        ) >= 16e6
    );
    assert_eq!(
        m.sum(
            "framepipe_limit_hits_total",
            &[("code", "MEMORY_LIMIT_EXCEEDED")]
        ),
        1.0
    );
    // HTTP: by route template, never the raw path.
    let submits = [
        ("method", "POST"),
        ("route", "/api/jobs"),
        ("status", "202"),
    ];
    assert_eq!(m.sum("framepipe_http_requests_total", &submits), 2.0);
    assert!(
        m.sum(
            "framepipe_http_requests_total",
            &[
                ("method", "GET"),
                ("route", "/api/jobs/{id}"),
                ("status", "200")
            ]
        ) >= 2.0
    );
    assert_eq!(
        m.sum(
            "framepipe_http_request_duration_seconds_count",
            &[("method", "POST"), ("route", "/api/jobs")]
        ),
        2.0
    );
    assert_eq!(
        m.sum(
            "framepipe_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        1.0
    );
    assert!(
        m.samples.iter().all(|s| s
            .labels
            .values()
            .all(|v| !v.contains(&ok) && !v.contains(&hog))),
        "a job id leaked into a label"
    );
    // The earlier scrape was counted too (with its 200).
    assert!(
        m.sum(
            "framepipe_http_requests_total",
            &[("route", "/metrics"), ("status", "200")]
        ) >= 1.0
    );
    // Queue figures: both jobs are finished; every state of the lane is present.
    assert_eq!(
        m.sum(
            "framepipe_queue_jobs",
            &[("lane", &lane), ("state", "succeeded")]
        ),
        1.0
    );
    assert_eq!(m.sum("framepipe_queue_jobs", &[("state", "failed")]), 1.0);
    assert_eq!(
        m.find("framepipe_queue_jobs", &[("lane", &lane)]).len(),
        6,
        "every state of the lane"
    );
    assert_eq!(
        m.find("framepipe_queue_oldest_waiting_seconds", &[("lane", &lane)])
            .first()
            .context("oldest-waiting gauge")?
            .value,
        0.0
    );
    assert_eq!(m.families["framepipe_queue_jobs"], "gauge");
    assert_eq!(m.families["framepipe_step_duration_seconds"], "histogram");
    assert_eq!(m.families["framepipe_limit_hits"], "counter");
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queue_figures_come_from_the_queue_not_the_process() -> Result<()> {
    // Two servers without workers on one SQLite file: jobs submitted through the first
    // are seen waiting by the second, which enqueued nothing itself.
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("shared.db").display().to_string();
    let shared = || Setup {
        database_url: Some(db.clone()),
        workers: false,
        ..Setup::default()
    };
    let a = Server::with(shared()).await?;
    let b = Server::with(shared()).await?;
    a.submit_id(job("noop")).await?;
    a.submit_id(job("noop")).await?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let m = scrape(&b, &b.admin_key).await?;
    assert_eq!(m.sum("framepipe_queue_jobs", &[("state", "queued")]), 2.0);
    let oldest = m
        .find("framepipe_queue_oldest_waiting_seconds", &[])
        .iter()
        .map(|s| s.value)
        .fold(0.0, f64::max);
    assert!(
        (0.3..60.0).contains(&oldest),
        "the oldest job has waited about 0.4 s, reported {oldest}"
    );
    assert_eq!(m.sum("framepipe_jobs_enqueued_total", &[]), 0.0);
    let from_a = scrape(&a, &a.admin_key).await?;
    assert_eq!(from_a.sum("framepipe_jobs_enqueued_total", &[]), 2.0);
    assert_eq!(
        from_a.sum("framepipe_queue_jobs", &[("state", "queued")]),
        2.0
    );
    a.stop().await;
    b.stop().await;
    Ok(())
}

/// Names a scrape makes available to queries: samples, and for each declared family the
/// series its type implies (`_total` for counters; `_bucket`, `_sum`, `_count` for
/// histograms), so a histogram nobody observed yet still counts as exported.
fn exported_names(scrape: &Scrape) -> BTreeSet<String> {
    let mut names = scrape.names();
    for (family, kind) in &scrape.families {
        match kind.as_str() {
            "counter" => {
                names.insert(format!("{family}_total"));
            }
            "histogram" => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{family}{suffix}"));
                }
            }
            _ => {}
        }
    }
    names
}

/// The `framepipe_*` metric names a PromQL expression uses.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("framepipe_") {
        // Not the tail of a longer identifier (or a label value such as "framepipe-x").
        let preceded = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '"');
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        if !preceded {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

fn ops_file(name: &str) -> Result<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/ops")
        .join(name);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ops_rules_and_dashboard_name_only_exported_metrics() -> Result<()> {
    // Alert rules: Prometheus' rule file shape, every rule complete.
    let rules: serde_yaml::Value = serde_yaml::from_str(&ops_file("prometheus-alerts.yml")?)?;
    let mut used: Vec<(String, String)> = Vec::new();
    let mut alerts = BTreeSet::new();
    let groups = rules["groups"].as_sequence().context("groups")?;
    assert!(!groups.is_empty());
    for group in groups {
        assert!(group["name"].as_str().is_some(), "a group needs a name");
        for rule in group["rules"].as_sequence().context("rules")? {
            let alert = rule["alert"].as_str().context("alert name")?;
            let expr = rule["expr"].as_str().context("expr")?;
            assert!(alerts.insert(alert.to_owned()), "alert {alert} twice");
            assert!(
                matches!(
                    rule["labels"]["severity"].as_str(),
                    Some("critical" | "warning" | "info")
                ),
                "{alert}: severity"
            );
            assert!(
                rule["annotations"]["summary"].as_str().is_some(),
                "{alert}: summary"
            );
            assert!(rule["for"].as_str().is_some(), "{alert}: for");
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{alert} names no framepipe metric");
            used.extend(names.into_iter().map(|n| (format!("alert {alert}"), n)));
        }
    }
    for required in ["FramepipeJobWaitingTooLong", "FramepipeJobFailureRateHigh"] {
        assert!(alerts.contains(required), "missing alert {required}");
    }
    // Dashboard: Grafana JSON, every panel with a title and at least one query.
    let dashboard: Value = serde_json::from_str(&ops_file("grafana-dashboard.json")?)?;
    let panels = dashboard["panels"].as_array().context("panels")?;
    assert!(panels.len() >= 8, "a dashboard of {} panels", panels.len());
    let mut ids = BTreeSet::new();
    for panel in panels {
        let title = panel["title"].as_str().context("panel title")?;
        assert!(ids.insert(panel["id"].as_u64().context("panel id")?));
        let targets = panel["targets"].as_array().context("targets")?;
        assert!(!targets.is_empty(), "panel {title} has no query");
        for target in targets {
            let expr = target["expr"].as_str().context("expr")?;
            let names = metric_names(expr);
            assert!(!names.is_empty(), "panel {title} names no framepipe metric");
            used.extend(names.into_iter().map(|n| (format!("panel {title}"), n)));
        }
    }
    for var in dashboard["templating"]["list"]
        .as_array()
        .context("templating")?
    {
        if let Some(q) = var["definition"].as_str() {
            used.extend(metric_names(q).into_iter().map(|n| ("variable".into(), n)));
        }
    }

    // A live server, after one job and one refused upload, exports every one of those names.
    let server = Server::with(Setup {
        settings: "[uploads]\nmax_bytes = 100\n".into(),
        ..Setup::default()
    })
    .await?;
    let id = server.submit_id(job("noop")).await?;
    server.wait(&id, Duration::from_secs(30)).await?;
    let (status, code) = refusal(
        server
            .post("/api/uploads?filename=a.mp4")
            .body(vec![0u8; 4000]),
    )
    .await?;
    assert_eq!((status, code.as_str()), (413, "FILE_TOO_LARGE"));
    let scrape = scrape(&server, &server.admin_key).await?;
    // An HTTP limit is counted like a sandbox one.
    assert_eq!(
        scrape.sum("framepipe_limit_hits_total", &[("code", "FILE_TOO_LARGE")]),
        1.0
    );
    let exported = exported_names(&scrape);
    let missing: Vec<_> = used.iter().filter(|(_, n)| !exported.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "named in docs/ops but not exported: {missing:?}"
    );
    // And the parser behind this check sees through label values and longer names.
    assert_eq!(
        metric_names(r#"rate(framepipe_a_total{x="framepipe_b"}[5m]) / my_framepipe_c"#),
        BTreeSet::from(["framepipe_a_total".to_owned()])
    );
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_process_serves_its_own_metrics_and_no_api() -> Result<()> {
    use crate::support::{Process, ProcessDir, create_key, free_port, process_dir, wait_job};
    let dir = tempfile::tempdir()?;
    let ProcessDir { settings, data } = process_dir(dir.path(), &Setup::default())?;
    let admin = create_key(&data, None, true)?;
    let (api, metrics) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let server = Process::spawn(
        &["serve", "--no-workers", "--addr", &api],
        &data,
        None,
        Some(&settings),
    )?;
    server.ready(Duration::from_secs(60)).await?;
    let _worker = Process::spawn(
        &["worker", "--metrics-addr", &metrics],
        &data,
        None,
        Some(&settings),
    )?;
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    while http
        .get(format!("http://{metrics}/healthz"))
        .send()
        .await
        .is_err()
    {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(60),
            "worker never listened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let submitted: Value = http
        .post(format!("http://{api}/api/jobs"))
        .bearer_auth(&admin)
        .json(&job("noop"))
        .send()
        .await?
        .json()
        .await?;
    let id = submitted["id"].as_str().context("id")?;
    let done = wait_job(
        &http,
        &format!("http://{api}"),
        &admin,
        id,
        Duration::from_secs(60),
    )
    .await?;
    assert_eq!(done["status"], "succeeded", "{done}");

    let read = |addr: String| {
        let http = http.clone();
        let admin = admin.clone();
        async move {
            let text = http
                .get(format!("http://{addr}/metrics"))
                .bearer_auth(&admin)
                .send()
                .await?
                .error_for_status()?
                .text()
                .await?;
            Scrape::parse(&text)
        }
    };
    let from_worker = read(metrics.clone()).await?;
    let from_api = read(api.clone()).await?;
    let succeeded = [("pipeline", "noop"), ("outcome", "succeeded")];
    assert_eq!(
        from_worker.sum("framepipe_job_attempts_finished_total", &succeeded),
        1.0
    );
    assert_eq!(
        from_api.sum("framepipe_job_attempts_finished_total", &succeeded),
        0.0
    );
    assert_eq!(from_api.sum("framepipe_jobs_enqueued_total", &[]), 1.0);
    // Both read the same queue.
    for m in [&from_worker, &from_api] {
        assert_eq!(
            m.sum("framepipe_queue_jobs", &[("state", "succeeded")]),
            1.0
        );
    }
    // The worker's listener has no API, and still wants a key for /metrics.
    let jobs = http
        .get(format!("http://{metrics}/api/jobs"))
        .bearer_auth(&admin)
        .send()
        .await?;
    assert_eq!(jobs.status(), 404);
    let anonymous = http.get(format!("http://{metrics}/metrics")).send().await?;
    assert_eq!(anonymous.status(), 401);
    Ok(())
}
