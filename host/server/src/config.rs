//! Configuration: flags with environment fallbacks for where things are, and one TOML file
//! (`FRAMEPIPE_CONFIG`) for everything else. Unknown keys in the file are errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use framepipe_outbound::OutboundPolicy;
use framepipe_queue::RetryPolicy;
use framepipe_runtime::StepLimits;
use serde::Deserialize;

/// Where the server keeps its state; shared by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Directory for the SQLite file, artifacts, uploads, plugins and the compile cache.
    #[arg(long, env = "FRAMEPIPE_DATA_DIR", default_value = "./framepipe-data")]
    pub data_dir: PathBuf,
    /// Queue database: a `postgres://` URL, or a SQLite path/URL. Default: `<data-dir>/framepipe.db`.
    #[arg(long, env = "FRAMEPIPE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// TOML file with limits, workers, outbound policy, YouTube settings (see README).
    #[arg(long, env = "FRAMEPIPE_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Everything the server runs with, resolved from flags, environment and the file.
#[derive(Debug, Clone)]
pub struct Config {
    /// See [`CommonArgs::data_dir`].
    pub data_dir: PathBuf,
    /// The queue database URL (SQLite under the data dir unless overridden).
    pub database_url: String,
    /// The settings file's content (defaults when there is no file).
    pub file: FileConfig,
}

impl Config {
    /// Resolves the configuration; reads and checks the TOML file if one is named.
    pub fn load(args: &CommonArgs) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        Ok(Config::new(
            args.data_dir.clone(),
            args.database_url.clone(),
            file,
        ))
    }

    /// A configuration from parts (tests build servers this way).
    pub fn new(data_dir: PathBuf, database_url: Option<String>, file: FileConfig) -> Config {
        let database_url =
            database_url.unwrap_or_else(|| data_dir.join("framepipe.db").display().to_string());
        Config {
            data_dir,
            database_url,
            file,
        }
    }
}

/// The settings file. Every section and key is optional; unknown ones are rejected.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    /// Sandbox-wide settings and default per-step limits.
    pub runtime: RuntimeSettings,
    /// Worker concurrency, leases, retries.
    pub workers: WorkerSettings,
    /// Upload size and accepted file types.
    pub uploads: UploadSettings,
    /// How long finished jobs and their artifacts are kept.
    pub retention: RetentionSettings,
    /// The base outbound HTTP policy; pipeline steps narrow `allowed_hosts`.
    pub outbound: OutboundPolicy,
    /// YouTube thumbnail source and media URL resolver.
    pub youtube: YoutubeSettings,
    /// Request body limits, connection timeouts and the connection cap.
    pub http: HttpSettings,
    /// Fairness between keys: request rate and jobs in the queue per key.
    pub quotas: QuotaSettings,
    /// Extra pipeline definitions (`*.toml`), beside the built-in ones.
    pub pipelines_dir: Option<PathBuf>,
    /// Extra plugins (`*.wasm`) loaded at start, beside the built-in ones.
    pub plugins_dir: Option<PathBuf>,
    /// Who may scrape `/metrics` besides admin keys.
    pub metrics: crate::metrics::MetricsSettings,
}

impl FileConfig {
    /// Reads and parses a settings file; the error names the file and the bad key.
    pub fn read(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read config file {}: {e}", path.display()))?;
        FileConfig::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Parses settings from TOML text.
    pub fn parse(text: &str) -> Result<FileConfig, toml::de::Error> {
        toml::from_str(text)
    }
}

/// Sandbox-wide settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeSettings {
    /// Instances running at once in this process, over all lanes.
    pub max_instances: u32,
    /// Largest memory cap any step may ask for, MiB.
    pub max_memory_mib: u32,
    /// Limits of a step that sets none (a pipeline step may override each).
    pub default_limits: StepLimits,
    /// Compiled-component cache; default `<data-dir>/cache`. Safe to share between
    /// processes (entries are keyed by component digest and engine, written atomically).
    pub cache_dir: Option<PathBuf>,
}

impl Default for RuntimeSettings {
    fn default() -> Self {
        RuntimeSettings {
            max_instances: 16,
            max_memory_mib: 1024,
            default_limits: StepLimits::default(),
            cache_dir: None,
        }
    }
}

/// Worker settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    /// Jobs run at once per lane. A lane not listed gets no workers in this process.
    pub lanes: BTreeMap<String, usize>,
    /// Lease length, seconds: a crashed worker's job is re-run after this long.
    pub lease_seconds: u64,
    /// Heartbeat interval, seconds (well under the lease).
    pub heartbeat_seconds: u64,
    /// On shutdown, how long running jobs may take to finish, seconds.
    pub grace_seconds: u64,
    /// Attempts per job unless the pipeline sets its own.
    pub max_attempts: u32,
    /// First retry delay, milliseconds (doubles per attempt).
    pub retry_base_ms: u64,
    /// Longest retry delay, milliseconds.
    pub retry_max_ms: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            lanes: BTreeMap::from([
                ("preview".to_owned(), 4),
                ("analytics".to_owned(), 2),
                ("default".to_owned(), 2),
            ]),
            lease_seconds: 30,
            heartbeat_seconds: 10,
            grace_seconds: 20,
            max_attempts: 3,
            retry_base_ms: 1000,
            retry_max_ms: 300_000,
        }
    }
}

impl WorkerSettings {
    /// The lease length.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds.max(1))
    }

    /// The heartbeat interval.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_seconds.max(1))
    }

    /// The retry backoff.
    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(self.retry_base_ms),
            max: Duration::from_millis(self.retry_max_ms.max(self.retry_base_ms)),
            jitter: 0.2,
        }
    }
}

/// Upload settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadSettings {
    /// Largest upload, bytes (the old app's 500 MB).
    pub max_bytes: u64,
    /// Accepted file extensions, lowercase, without the dot.
    pub extensions: Vec<String>,
}

impl Default for UploadSettings {
    fn default() -> Self {
        UploadSettings {
            max_bytes: 500 * 1000 * 1000,
            extensions: [
                "mp4", "m4v", "mov", "mkv", "webm", "avi", "ts", "m2ts", "mts", "3gp", "jpg",
                "jpeg", "png",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// The HTTP edge: what one connection or one request may hold (docs/limits.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Largest JSON (or other non-file) request body, bytes: `POST /api/jobs`, the old
    /// app's JSON routes, and any body sent to a route that reads none.
    pub max_json_body_bytes: u64,
    /// Largest component `POST /api/plugins` accepts, bytes.
    pub max_plugin_bytes: u64,
    /// Largest text field of a multipart form (`youtube_url`, `threshold`, ...), bytes.
    pub max_form_field_bytes: usize,
    /// A request's head must arrive whole within this many seconds of the connection
    /// being ready for it (after accept, or after the previous response on a kept-alive
    /// connection, so it is also the keep-alive idle time).
    pub header_read_timeout_seconds: u64,
    /// A request body may pause at most this long between two chunks, and a body that is
    /// not a file upload must arrive whole within it, seconds.
    pub body_read_timeout_seconds: u64,
    /// A connection on which no byte moves either way for this long, while no handler is
    /// working on one of its requests, is closed (a client that stops reading), seconds.
    pub idle_timeout_seconds: u64,
    /// Connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_json_body_bytes: 64 * 1024,
            max_plugin_bytes: 100 << 20,
            max_form_field_bytes: 8 * 1024,
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 30,
            idle_timeout_seconds: 60,
            max_connections: 1024,
        }
    }
}

impl HttpSettings {
    /// See [`HttpSettings::header_read_timeout_seconds`].
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_seconds.max(1))
    }

    /// See [`HttpSettings::body_read_timeout_seconds`].
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_secs(self.body_read_timeout_seconds.max(1))
    }

    /// See [`HttpSettings::idle_timeout_seconds`].
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_seconds.max(1))
    }
}

/// Fairness between keys (`[quotas]`; not the per-step `limits`). Admin keys are exempt.
/// A value of 0 turns that quota off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaSettings {
    /// Sustained requests per second per key (a token bucket in each process).
    pub requests_per_second: u32,
    /// Requests a key may make at once above the sustained rate (the bucket's size).
    pub burst: u32,
    /// Jobs queued, retrying or running per key, counted in the database (so the quota
    /// holds across processes).
    pub max_active_jobs_per_key: u64,
    /// Event streams (`GET /api/jobs/{id}/events`) open at once per key, in each process.
    pub max_event_streams: u32,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        QuotaSettings {
            requests_per_second: 50,
            burst: 100,
            max_active_jobs_per_key: 1000,
            max_event_streams: 8,
        }
    }
}

/// Retention settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSettings {
    /// Finished jobs (and their artifacts) older than this are pruned, hours.
    pub finished_hours: u64,
    /// Uploads not used by any job are deleted after this long, hours.
    pub uploads_hours: u64,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            finished_hours: 7 * 24,
            uploads_hours: 24,
        }
    }
}

/// YouTube settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct YoutubeSettings {
    /// Where thumbnails come from (`https://i.ytimg.com`); tests point it at a fixture server.
    pub thumbnail_base_url: String,
    /// Command turning a YouTube URL into a media URL, `{url}` replaced by the video URL;
    /// its first output line is the URL. Empty: no video fallback for YouTube links.
    /// E.g. `["yt-dlp", "-f", "worst[ext=mp4]", "-g", "{url}"]`.
    pub resolver: Vec<String>,
    /// How long the resolver may run, seconds.
    pub resolver_timeout_seconds: u64,
}

impl Default for YoutubeSettings {
    fn default() -> Self {
        YoutubeSettings {
            thumbnail_base_url: "https://i.ytimg.com".into(),
            resolver: Vec::new(),
            resolver_timeout_seconds: 30,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        let file = FileConfig::parse("").unwrap();
        assert_eq!(file.workers.lease_seconds, 30);
        assert_eq!(file.uploads.max_bytes, 500_000_000);
        assert_eq!(file.runtime.default_limits.memory_mib, 64);
        assert_eq!(file.http.max_json_body_bytes, 65536);
        assert_eq!(file.quotas.requests_per_second, 50);
        assert_eq!(file.quotas.max_event_streams, 8);
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = FileConfig::parse("[workers]\nlease_secs = 5\n").unwrap_err();
        assert!(err.to_string().contains("lease_secs"), "{err}");
        let err = FileConfig::parse("[runtime.default_limits]\nmemory = 5\n").unwrap_err();
        assert!(err.to_string().contains("memory"), "{err}");
    }

    #[test]
    fn nested_sections_parse() {
        let file = FileConfig::parse(
            "[workers.lanes]\npreview = 1\n[outbound]\nallow_loopback = true\n[youtube]\nresolver = [\"echo\", \"{url}\"]\n",
        )
        .unwrap();
        assert_eq!(file.workers.lanes.len(), 1);
        assert!(file.outbound.allow_loopback);
        assert_eq!(file.youtube.resolver, ["echo", "{url}"]);
    }
}
