//! Turning a job's input into a file a step can read by range: uploads are already files;
//! URLs are streamed to the artifact store under the outbound policy (private and loopback
//! addresses refused, bytes capped); YouTube links go through the configured resolver
//! command first. Only workers do this, never the API.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use framepipe_outbound::{OutboundClient, OutboundError, OutboundPolicy, RequestLimits};
use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use url::Url;

use crate::artifacts::media_type_of;

/// A job input available as a local file.
#[derive(Debug, Clone)]
pub struct LocalInput {
    /// The file.
    pub path: PathBuf,
    /// Its media type.
    pub media_type: String,
    /// Its size.
    pub size: u64,
    /// Time spent resolving and downloading, ms (0 for uploads).
    pub fetch_ms: f64,
    /// Where it came from (for the job's report).
    pub source: String,
}

/// Why an input could not be made available.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The outbound policy refused the URL or an address it resolved to.
    #[error("input URL refused by the outbound policy: {0}")]
    Denied(String),
    /// The server answered with an error status.
    #[error("input URL answered HTTP {status}: {url}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The URL.
        url: String,
    },
    /// The body was over the cap.
    #[error("input is larger than the {cap}-byte limit")]
    TooLarge {
        /// The cap.
        cap: u64,
    },
    /// Network trouble; another attempt may work.
    #[error("fetching the input failed: {0}")]
    Network(String),
    /// YouTube links need a resolver and none is configured.
    #[error(
        "no YouTube resolver is configured, so the video itself cannot be read; set `youtube.resolver` (e.g. [\"yt-dlp\", \"-f\", \"worst[ext=mp4]\", \"-g\", \"{{url}}\"])"
    )]
    NoResolver,
    /// The resolver failed.
    #[error("YouTube resolver failed: {0}")]
    Resolver(String),
    /// Local storage failed.
    #[error("storing the input failed: {0}")]
    Io(#[from] std::io::Error),
}

impl FetchError {
    /// Machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Denied(_) => "URL_NOT_ALLOWED",
            FetchError::Status { .. } => "INPUT_UNAVAILABLE",
            FetchError::TooLarge { .. } => "FILE_TOO_LARGE",
            FetchError::Network(_) => "INPUT_UNAVAILABLE",
            FetchError::NoResolver => "YOUTUBE_RESOLVER_NOT_CONFIGURED",
            FetchError::Resolver(_) => "YOUTUBE_RESOLVER_FAILED",
            FetchError::Io(_) => "HOST_ERROR",
        }
    }

    /// Whether another attempt may work.
    pub fn retryable(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status >= 500 || *status == 429,
            FetchError::Network(_) | FetchError::Resolver(_) | FetchError::Io(_) => true,
            _ => false,
        }
    }
}

/// Downloads inputs for workers.
pub struct Fetcher {
    client: OutboundClient,
    max_bytes: u64,
    resolver: Vec<String>,
    resolver_timeout: Duration,
}

impl Fetcher {
    /// A fetcher using the base policy with any public host allowed (user URLs can point
    /// anywhere public; the address checks still apply).
    pub fn new(
        base: &OutboundPolicy,
        resolver: Arc<dyn framepipe_outbound::NameResolver>,
        max_bytes: u64,
        youtube_resolver: Vec<String>,
        resolver_timeout: Duration,
    ) -> Result<Fetcher, OutboundError> {
        let mut policy = base.clone();
        policy.allowed_hosts = vec!["*".into()];
        policy.max_body_bytes = max_bytes;
        Ok(Fetcher {
            client: OutboundClient::new(policy, resolver)?,
            max_bytes,
            resolver: youtube_resolver,
            resolver_timeout,
        })
    }

    /// Streams `url` to `dir/input` with the byte cap.
    pub async fn fetch_url(&self, url: &Url, dir: PathBuf) -> Result<LocalInput, FetchError> {
        let started = Instant::now();
        let request = http::Request::get(url.as_str())
            .body(bytes::Bytes::new())
            .map_err(|e| FetchError::Network(e.to_string()))?;
        let response = self
            .client
            .send(request, &RequestLimits::default())
            .await
            .map_err(|e| classify(e, self.max_bytes))?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                status: status.as_u16(),
                url: url.to_string(),
            });
        }
        let header_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|t| t.starts_with("video/") || t.starts_with("image/"));
        let media_type = header_type
            .or_else(|| media_type_of(url.path()).map(str::to_owned))
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let path = dir.join("input");
        let mut file = tokio::fs::File::create(&path).await?;
        let mut body = response.into_body();
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| classify(e, self.max_bytes))?;
            size += chunk.len() as u64;
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        Ok(LocalInput {
            path,
            media_type,
            size,
            fetch_ms: started.elapsed().as_secs_f64() * 1000.0,
            source: url.to_string(),
        })
    }

    /// Resolves a YouTube link with the configured command, then fetches the media URL.
    pub async fn fetch_youtube(
        &self,
        video_url: &str,
        dir: PathBuf,
    ) -> Result<LocalInput, FetchError> {
        let started = Instant::now();
        let media_url = self.resolve_youtube(video_url).await?;
        let mut input = self.fetch_url(&media_url, dir).await?;
        input.fetch_ms = started.elapsed().as_secs_f64() * 1000.0;
        input.source = format!("{video_url} via resolver");
        Ok(input)
    }

    async fn resolve_youtube(&self, video_url: &str) -> Result<Url, FetchError> {
        let Some((program, args)) = self.resolver.split_first() else {
            return Err(FetchError::NoResolver);
        };
        let args: Vec<String> = args.iter().map(|a| a.replace("{url}", video_url)).collect();
        let child = tokio::process::Command::new(program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                // The job's owner reads this message: the program's path stays in the log.
                tracing::error!(program = %program, error = %e, "cannot start the YouTube resolver");
                FetchError::Resolver("the YouTube resolver could not be started".into())
            })?;
        let output = tokio::time::timeout(self.resolver_timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                FetchError::Resolver(format!("no answer within {:?}", self.resolver_timeout))
            })?
            .map_err(|e| FetchError::Resolver(e.to_string()))?;
        if !output.status.success() {
            // Its stderr can carry paths, versions and upstream details: logged, not shown.
            let stderr = String::from_utf8_lossy(&output.stderr);
            tracing::warn!(
                program = %program,
                status = %output.status,
                stderr = %stderr.chars().take(2000).collect::<String>(),
                "the YouTube resolver failed"
            );
            return Err(FetchError::Resolver(format!(
                "the YouTube resolver could not resolve this video ({}); the server log has its output",
                output.status
            )));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        crate::input::parse_media_url(line)
            .map_err(|e| FetchError::Resolver(format!("it printed no usable URL: {}", e.message)))
    }
}

fn classify(e: OutboundError, cap: u64) -> FetchError {
    if e.is_denied() {
        return FetchError::Denied(e.to_string());
    }
    match e {
        OutboundError::BodyTooLarge { .. } => FetchError::TooLarge { cap },
        OutboundError::InvalidUrl { .. } | OutboundError::BadScheme { .. } => {
            FetchError::Denied(e.to_string())
        }
        other => FetchError::Network(other.to_string()),
    }
}
