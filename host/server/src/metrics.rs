//! Prometheus metrics, served by `GET /metrics` (see `api/metrics.rs` and the "Metrics"
//! section of docs/operations.md, which lists every metric).
//!
//! Decisions worth knowing:
//! - One [`Metrics`] per [`crate::app::App`], with its own `prometheus-client` registry,
//!   not a process-global recorder: tests run several servers in one process, and each
//!   must report only its own figures.
//! - Queue figures (jobs by lane and state, age of the longest-waiting job) are read from
//!   the queue at scrape time ([`framepipe_queue::Store::lane_counts`], one grouped scan),
//!   so every process on a shared PostgreSQL queue reports the same values. They go into a
//!   registry built for that scrape: a lane that empties leaves no stale series behind.
//! - Everything else counts what this process did (jobs it claimed and ran, requests it
//!   answered); Prometheus sums it over processes.
//! - HTTP requests are labelled by route template (`/api/jobs/{id}`), never the raw path,
//!   so a job id cannot create a series.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use framepipe_queue::{JobState, LaneCount};
use framepipe_runtime::StepRun;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde::Deserialize;

/// The content type of a scrape answer (OpenMetrics text, which Prometheus reads natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Shortest scrape token accepted, characters.
pub const MIN_SCRAPE_TOKEN_CHARS: usize = 16;

/// `[metrics]` in the settings file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// A bearer token that may read `/metrics` (and nothing else), for a Prometheus
    /// server that should not hold an admin key. At least [`MIN_SCRAPE_TOKEN_CHARS`]
    /// characters. Admin keys can always scrape.
    pub scrape_token: Option<String>,
}

impl MetricsSettings {
    /// Checks the token's length; the message says what to change.
    pub fn check(&self) -> Result<(), String> {
        match &self.scrape_token {
            Some(t) if t.trim().chars().count() < MIN_SCRAPE_TOKEN_CHARS => Err(format!(
                "[metrics] scrape_token must be at least {MIN_SCRAPE_TOKEN_CHARS} characters \
                 (e.g. `openssl rand -hex 24`)"
            )),
            _ => Ok(()),
        }
    }

    /// Whether `presented` is the configured scrape token (compared in constant time).
    pub fn is_scrape_token(&self, presented: &str) -> bool {
        let Some(token) = &self.scrape_token else {
            return false;
        };
        let (a, b) = (token.trim().as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// How one job attempt ended, as this process saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The job succeeded.
    Succeeded,
    /// The attempt failed and the job is back in line for another one.
    Retrying,
    /// The job ended `failed`.
    Failed,
    /// The job was cancelled while running.
    Cancelled,
    /// The lease was lost (another worker owns the job); the result was dropped.
    LeaseLost,
}

impl AttemptOutcome {
    fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Retrying => "retrying",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::LeaseLost => "lease_lost",
        }
    }
}

/// The error code of an API error answer, attached to the response for the metrics layer.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// Whether an error code means a configured limit was hit (memory, CPU, deadline, output,
/// upload size, quotas, rates), as opposed to bad input or a plugin's own failure.
pub fn is_limit_code(code: &str) -> bool {
    code.ends_with("_EXCEEDED")
        || code.ends_with("_TOO_LARGE")
        || code.starts_with("TOO_MANY_")
        || code.contains("QUOTA")
        || code == "RATE_LIMITED"
        || code == "STACK_OVERFLOW"
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineLane {
    pipeline: String,
    lane: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LaneLabel {
    lane: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PipelineOutcome {
    pipeline: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    pipeline: String,
    plugin: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabel {
    plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LaneState {
    lane: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    queue: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds, 5 ms to ~20 min: HTTP answers, steps and whole jobs share one scale.
fn seconds_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
        600.0, 1200.0,
    ])
}

/// Bytes, 1 MiB to 4 GiB in powers of two.
fn bytes_histogram() -> Histogram {
    Histogram::new((0..13).map(|i| (1u64 << (20 + i)) as f64))
}

/// This process's instruments.
pub struct Metrics {
    registry: Registry,
    queue: &'static str,
    jobs_enqueued: Family<PipelineLane, Counter>,
    jobs_claimed: Family<LaneLabel, Counter>,
    job_attempts: Family<PipelineOutcome, Counter>,
    job_duration: Histograms<PipelineOutcome>,
    job_wait: Histograms<LaneLabel>,
    step_duration: Histograms<StepLabels>,
    step_cpu: Histograms<PluginLabel>,
    step_memory: Histograms<PluginLabel>,
    limit_hits: Family<CodeLabel, Counter>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Histograms<RouteLabels>,
}

impl Metrics {
    /// Registers every instrument; `queue` is the backend name (`sqlite`, `postgres`).
    pub fn new(queue: &'static str) -> Metrics {
        let mut registry = Registry::default();
        let metrics = Metrics {
            registry: Registry::default(),
            queue,
            jobs_enqueued: Family::default(),
            jobs_claimed: Family::default(),
            job_attempts: Family::default(),
            job_duration: Family::new_with_constructor(seconds_histogram),
            job_wait: Family::new_with_constructor(seconds_histogram),
            step_duration: Family::new_with_constructor(seconds_histogram),
            step_cpu: Family::new_with_constructor(seconds_histogram),
            step_memory: Family::new_with_constructor(bytes_histogram),
            limit_hits: Family::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(seconds_histogram),
        };
        let r = &mut registry;
        r.register(
            "framepipe_jobs_enqueued",
            "Jobs created through this process's API (idempotent repeats not counted).",
            metrics.jobs_enqueued.clone(),
        );
        r.register(
            "framepipe_jobs_claimed",
            "Job attempts this process's workers claimed.",
            metrics.jobs_claimed.clone(),
        );
        r.register(
            "framepipe_job_attempts_finished",
            "Job attempts this process's workers finished, by how they ended.",
            metrics.job_attempts.clone(),
        );
        r.register(
            "framepipe_job_duration_seconds",
            "Run time of one job attempt (claim to end), seconds.",
            metrics.job_duration.clone(),
        );
        r.register(
            "framepipe_job_queue_wait_seconds",
            "Time from a job becoming claimable to its claim, seconds.",
            metrics.job_wait.clone(),
        );
        r.register(
            "framepipe_step_duration_seconds",
            "Wall time of one plugin run (instantiate and call), seconds.",
            metrics.step_duration.clone(),
        );
        r.register(
            "framepipe_step_cpu_seconds",
            "CPU time of one plugin run, seconds.",
            metrics.step_cpu.clone(),
        );
        r.register(
            "framepipe_step_peak_memory_bytes",
            "Peak linear memory of one plugin run, bytes.",
            metrics.step_memory.clone(),
        );
        r.register(
            "framepipe_limit_hits",
            "Requests and plugin runs stopped by a limit, by error code.",
            metrics.limit_hits.clone(),
        );
        r.register(
            "framepipe_http_requests",
            "HTTP requests answered, by route template and status.",
            metrics.http_requests.clone(),
        );
        r.register(
            "framepipe_http_request_duration_seconds",
            "Time to answer an HTTP request (to the response head), seconds.",
            metrics.http_duration.clone(),
        );
        let build: Family<BuildLabels, Gauge> = Family::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                queue,
            })
            .set(1);
        r.register(
            "framepipe_build_info",
            "Always 1; labels say what runs.",
            build,
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    /// The API created a job.
    pub fn job_enqueued(&self, pipeline: &str, lane: &str) {
        self.jobs_enqueued
            .get_or_create(&PipelineLane {
                pipeline: pipeline.to_owned(),
                lane: lane.to_owned(),
            })
            .inc();
    }

    /// A worker claimed `n` jobs of `lane`.
    pub fn jobs_claimed(&self, lane: &str, n: usize) {
        if n > 0 {
            self.jobs_claimed
                .get_or_create(&LaneLabel {
                    lane: lane.to_owned(),
                })
                .inc_by(n as u64);
        }
    }

    /// A claimed job had waited `waited` since it became claimable.
    pub fn job_waited(&self, lane: &str, waited: Duration) {
        self.job_wait
            .get_or_create(&LaneLabel {
                lane: lane.to_owned(),
            })
            .observe(waited.as_secs_f64());
    }

    /// A job attempt of `pipeline` ended after `took`.
    pub fn job_finished(&self, pipeline: &str, outcome: AttemptOutcome, took: Duration) {
        let labels = PipelineOutcome {
            pipeline: pipeline.to_owned(),
            outcome: outcome.as_str(),
        };
        self.job_attempts.get_or_create(&labels).inc();
        self.job_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// A plugin run of a step of `pipeline` ended.
    pub fn step_finished(&self, pipeline: &str, plugin: &str, run: &StepRun) {
        let status = if run.outcome.is_ok() {
            "succeeded"
        } else {
            "failed"
        };
        let stats = &run.stats;
        self.step_duration
            .get_or_create(&StepLabels {
                pipeline: pipeline.to_owned(),
                plugin: plugin.to_owned(),
                status,
            })
            .observe(stats.wall_ms / 1000.0);
        let plugin = PluginLabel {
            plugin: plugin.to_owned(),
        };
        self.step_cpu
            .get_or_create(&plugin)
            .observe(stats.cpu_ms / 1000.0);
        self.step_memory
            .get_or_create(&plugin)
            .observe(stats.peak_memory_bytes as f64);
        if let Err(failure) = &run.outcome {
            self.limit_hit(failure.code());
        }
    }

    /// Counts `code` if it is a limit's error code.
    pub fn limit_hit(&self, code: &str) {
        if is_limit_code(code) {
            self.limit_hits
                .get_or_create(&CodeLabel {
                    code: code.to_owned(),
                })
                .inc();
        }
    }

    /// An HTTP request to `route` (a template) was answered with `status` after `took`.
    fn http_answered(&self, method: &'static str, route: &str, status: u16, took: Duration) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels {
                method,
                route: route.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// The scrape answer: this process's instruments, then the queue's figures (`queue`
    /// is `None` when the queue could not be read: `framepipe_queue_up` is then 0).
    /// `lanes` are lanes to report even when empty (configured and pipelines' lanes).
    pub fn render(&self, queue: Option<&[LaneCount]>, lanes: &[String]) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let snapshot = queue_registry(queue, lanes, self.queue);
        // Writing to a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry);
        let _ = encode_registry(&mut out, &snapshot);
        let _ = encode_eof(&mut out);
        out
    }
}

/// The queue's figures for one scrape, in a registry of their own.
fn queue_registry(counts: Option<&[LaneCount]>, lanes: &[String], backend: &str) -> Registry {
    let mut registry = Registry::default();
    let up: Gauge = Gauge::default();
    up.set(counts.is_some() as i64);
    registry.register(
        "framepipe_queue_up",
        format!("1 if the queue ({backend}) answered this scrape, else 0."),
        up,
    );
    let Some(counts) = counts else {
        return registry;
    };
    let jobs: Family<LaneState, Gauge> = Family::default();
    let oldest: Family<LaneLabel, Gauge<f64, std::sync::atomic::AtomicU64>> = Family::default();
    let mut all_lanes: Vec<&str> = lanes.iter().map(String::as_str).collect();
    all_lanes.extend(counts.iter().map(|c| c.lane.as_str()));
    all_lanes.sort_unstable();
    all_lanes.dedup();
    for lane in all_lanes {
        for state in JobState::ALL {
            let n = counts
                .iter()
                .find(|c| c.lane == lane && c.state == state)
                .map_or(0, |c| c.jobs);
            jobs.get_or_create(&LaneState {
                lane: lane.to_owned(),
                state: state.as_str(),
            })
            .set(n as i64);
        }
        let age = counts
            .iter()
            .filter(|c| c.lane == lane)
            .filter_map(|c| c.oldest_waiting_seconds)
            .fold(0.0f64, f64::max);
        oldest
            .get_or_create(&LaneLabel {
                lane: lane.to_owned(),
            })
            .set(age);
    }
    registry.register(
        "framepipe_queue_jobs",
        "Jobs in the queue by lane and state (read from the queue at scrape time).",
        jobs,
    );
    registry.register(
        "framepipe_queue_oldest_waiting_seconds",
        "How long the longest-waiting claimable job of the lane has waited; 0 when none waits.",
        oldest,
    );
    registry
}

/// Middleware: counts and times every request by method, route template and status.
pub async fn track_http(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    let status = response.status();
    match response.extensions().get::<ErrorCode>() {
        Some(ErrorCode(code)) => metrics.limit_hit(code),
        None if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            metrics.limit_hit("PAYLOAD_TOO_LARGE")
        }
        None if status == axum::http::StatusCode::TOO_MANY_REQUESTS => {
            metrics.limit_hit("TOO_MANY_REQUESTS")
        }
        None => {}
    }
    metrics.http_answered(method, &route, status.as_u16(), started.elapsed());
    response
}

/// A bounded set of method labels: anything unusual is `other`.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_codes_are_recognised() {
        for code in [
            "MEMORY_LIMIT_EXCEEDED",
            "CPU_BUDGET_EXCEEDED",
            "DEADLINE_EXCEEDED",
            "FILE_TOO_LARGE",
            "TOO_MANY_REQUESTS",
            "QUOTA_EXCEEDED",
            "STACK_OVERFLOW",
        ] {
            assert!(is_limit_code(code), "{code}");
        }
        for code in ["INVALID_INPUT", "PLUGIN_ERROR", "NOT_FOUND", "UNAUTHORIZED"] {
            assert!(!is_limit_code(code), "{code}");
        }
    }

    #[test]
    fn scrape_tokens_are_checked_and_compared_exactly() {
        let short = MetricsSettings {
            scrape_token: Some("short".into()),
        };
        assert!(short.check().unwrap_err().contains("16 characters"));
        let ok = MetricsSettings {
            scrape_token: Some("0123456789abcdef0123".into()),
        };
        assert!(ok.check().is_ok());
        assert!(ok.is_scrape_token("0123456789abcdef0123"));
        assert!(!ok.is_scrape_token("0123456789abcdef012"));
        assert!(!ok.is_scrape_token("0123456789abcdef0124"));
        assert!(!MetricsSettings::default().is_scrape_token(""));
    }

    #[test]
    fn queue_figures_cover_every_state_of_every_lane() {
        let metrics = Metrics::new("sqlite");
        metrics.job_enqueued("noop", "preview");
        let counts = [LaneCount {
            lane: "analytics".into(),
            state: JobState::Queued,
            jobs: 3,
            oldest_waiting_seconds: Some(12.5),
        }];
        let text = metrics.render(Some(&counts), &["preview".to_owned()]);
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("framepipe_queue_up 1\n"), "{text}");
        assert!(text.contains("framepipe_queue_jobs{lane=\"analytics\",state=\"queued\"} 3\n"));
        assert!(text.contains("framepipe_queue_jobs{lane=\"preview\",state=\"running\"} 0\n"));
        assert!(text.contains("framepipe_queue_oldest_waiting_seconds{lane=\"analytics\"} 12.5\n"));
        assert!(text.contains("framepipe_queue_oldest_waiting_seconds{lane=\"preview\"} 0.0\n"));
        assert!(
            text.contains("framepipe_jobs_enqueued_total{pipeline=\"noop\",lane=\"preview\"} 1\n")
        );
        assert!(text.contains("framepipe_build_info{version="));
        let down = metrics.render(None, &[]);
        assert!(down.contains("framepipe_queue_up 0\n"));
        assert!(!down.contains("framepipe_queue_jobs"));
    }
}
