//! The server's shared state, built once from the configuration, and the `serve` / `worker`
//! process bodies.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use framepipe_outbound::{NameResolver, OutboundPolicy, SystemResolver};
use framepipe_queue::Store;
use framepipe_runtime::{OutboundAccess, Runtime, RuntimeConfig};
use serde_json::{Map, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::artifacts::{ArtifactStore, LocalStore};
use crate::auth::KeyCache;
use crate::config::Config;
use crate::fetch::Fetcher;
use crate::metrics::Metrics;
use crate::pipeline::{LoadContext, PipelineError, Pipelines};
use crate::registry::Registry;
use crate::runner::{OutboundFactory, Runner};
use crate::worker::Workers;

/// Everything handlers and workers share.
pub struct App {
    /// The resolved configuration.
    pub config: Config,
    /// The queue.
    pub store: Store,
    /// The sandbox.
    pub runtime: Arc<Runtime>,
    /// Loaded plugins.
    pub registry: Arc<Registry>,
    /// Pipelines in force.
    pub pipelines: Arc<Pipelines>,
    /// Uploads and artifacts.
    pub artifacts: Arc<dyn ArtifactStore>,
    /// Verified API keys, cached briefly.
    pub keys: KeyCache,
    /// Requests per second per key.
    pub rate: crate::quotas::RateLimiter,
    /// Event streams open per key in this process.
    pub streams: Arc<crate::quotas::StreamLimiter>,
    /// Wakes this process's workers after an enqueue.
    pub wake: Arc<Notify>,
    /// `$settings.*` values for pipelines.
    pub settings: Map<String, Value>,
    /// Name resolver for outbound HTTP (tests substitute a static one).
    pub resolver: Arc<dyn NameResolver>,
    /// When the process started.
    pub started: Instant,
    /// Cancelled to shut the process down (workers, HTTP, event streams).
    pub shutdown: CancellationToken,
    /// Prometheus instruments of this process.
    pub metrics: Arc<Metrics>,
}

impl App {
    /// Opens the store, the runtime, the plugins and the pipelines.
    pub async fn open(config: Config) -> anyhow::Result<Arc<App>> {
        App::open_with_resolver(config, Arc::new(SystemResolver)).await
    }

    /// [`App::open`] with a chosen name resolver.
    pub async fn open_with_resolver(
        config: Config,
        resolver: Arc<dyn NameResolver>,
    ) -> anyhow::Result<Arc<App>> {
        let data = &config.data_dir;
        config.file.metrics.check().map_err(anyhow::Error::msg)?;
        std::fs::create_dir_all(data)
            .with_context(|| format!("cannot create the data directory {}", data.display()))?;
        let store = Store::open(&config.database_url)
            .await
            .with_context(|| format!("cannot open the queue at {}", config.database_url))?;
        let rt = &config.file.runtime;
        let runtime = Arc::new(
            Runtime::new(RuntimeConfig {
                max_instances: rt.max_instances,
                max_memory_mib: rt.max_memory_mib,
                cache_dir: Some(rt.cache_dir.clone().unwrap_or_else(|| data.join("cache"))),
                default_limits: rt.default_limits,
            })
            .map_err(|e| anyhow::anyhow!("cannot start the WebAssembly runtime: {e}"))?,
        );
        let registry = Arc::new(Registry::new(runtime.clone(), data.join("plugins")));
        for name in framepipe_guests::builtin() {
            let Some((bytes, digest)) = framepipe_guests::with_digest(name) else {
                continue;
            };
            registry
                .add_with_digest(bytes, digest.to_owned())
                .await
                .with_context(|| format!("built-in plugin {name} failed to load"))?;
        }
        // Uploaded plugins (stored by digest) and the operator's directory.
        for dir in std::iter::once(registry.store_dir().to_path_buf())
            .chain(config.file.plugins_dir.clone())
        {
            for (path, error) in registry.add_dir(&dir).await {
                tracing::warn!(path = %path.display(), "plugin not loaded: {error}");
            }
        }
        let settings = settings_map(&config);
        let pipelines = {
            let cx = LoadContext {
                registry: &registry,
                default_limits: rt.default_limits,
                max_memory_mib: rt.max_memory_mib,
                default_max_attempts: config.file.workers.max_attempts,
                settings: &settings,
            };
            Pipelines::load(&cx, config.file.pipelines_dir.clone()).map_err(|errors| {
                anyhow::anyhow!("invalid pipeline definitions:\n{}", join_errors(&errors))
            })?
        };
        let artifacts: Arc<dyn ArtifactStore> = Arc::new(
            LocalStore::new(data.join("files"))
                .with_context(|| format!("cannot create {}", data.join("files").display()))?,
        );
        let metrics = Arc::new(Metrics::new(store.backend()));
        Ok(Arc::new(App {
            keys: KeyCache::new(store.clone()),
            rate: crate::quotas::RateLimiter::new(&config.file.quotas),
            streams: crate::quotas::StreamLimiter::new(&config.file.quotas),
            config,
            store,
            runtime,
            registry,
            pipelines: Arc::new(pipelines),
            artifacts,
            wake: Arc::new(Notify::new()),
            settings,
            resolver,
            started: Instant::now(),
            shutdown: CancellationToken::new(),
            metrics,
        }))
    }

    /// What pipeline definitions are checked against.
    pub fn load_context(&self) -> LoadContext<'_> {
        let rt = &self.config.file.runtime;
        LoadContext {
            registry: &self.registry,
            default_limits: rt.default_limits,
            max_memory_mib: rt.max_memory_mib,
            default_max_attempts: self.config.file.workers.max_attempts,
            settings: &self.settings,
        }
    }

    /// Re-reads pipeline definitions; on error the old ones stay.
    pub fn reload_pipelines(&self) -> Result<usize, Vec<PipelineError>> {
        self.pipelines.reload(&self.load_context())
    }

    /// The job runner for this process's workers.
    pub fn runner(&self) -> anyhow::Result<Runner> {
        let file = &self.config.file;
        let fetcher = Fetcher::new(
            &file.outbound,
            self.resolver.clone(),
            file.uploads.max_bytes,
            file.youtube.resolver.clone(),
            Duration::from_secs(file.youtube.resolver_timeout_seconds),
        )
        .map_err(|e| anyhow::anyhow!("invalid [outbound] settings: {e}"))?;
        Ok(Runner {
            runtime: self.runtime.clone(),
            artifacts: self.artifacts.clone(),
            fetcher,
            outbound: outbound_factory(file.outbound.clone(), self.resolver.clone()),
            settings: self.settings.clone(),
            metrics: self.metrics.clone(),
        })
    }

    /// Starts this process's workers.
    pub fn spawn_workers(
        self: &Arc<Self>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let workers = Arc::new(Workers {
            store: self.store.clone(),
            runner: Arc::new(self.runner()?),
            pipelines: self.pipelines.clone(),
            settings: self.config.file.workers.clone(),
            id: Workers::new_id(),
            wake: self.wake.clone(),
            metrics: self.metrics.clone(),
        });
        Ok(tokio::spawn(workers.run(shutdown)))
    }

    /// Starts the leader's chores (lease rescue, pruning); one process in a cluster leads.
    pub fn spawn_housekeeping(&self) {
        tokio::spawn(crate::worker::housekeeping(
            self.store.clone(),
            self.artifacts.clone(),
            self.config.file.retention.clone(),
            self.shutdown.clone(),
        ));
    }
}

/// The policy-checked network access of a step that may reach `hosts`.
fn outbound_factory(base: OutboundPolicy, resolver: Arc<dyn NameResolver>) -> OutboundFactory {
    Arc::new(move |hosts: &[String]| {
        let mut policy = base.clone();
        policy.allowed_hosts = hosts.to_vec();
        match crate::egress::PolicyFilter::with_resolver(policy, resolver.clone()) {
            Ok(filter) => OutboundAccess::through(Arc::new(filter)),
            Err(e) => {
                tracing::error!(error = %e, "invalid outbound policy; the step gets no network");
                OutboundAccess::deny_all()
            }
        }
    })
}

fn settings_map(config: &Config) -> Map<String, Value> {
    let base = &config.file.youtube.thumbnail_base_url;
    let host = url::Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    Map::from_iter([
        ("thumbnail_base_url".to_owned(), Value::from(base.clone())),
        ("thumbnail_host".to_owned(), Value::from(host)),
    ])
}

fn join_errors(errors: &[PipelineError]) -> String {
    errors
        .iter()
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A running server (tests hold one; `serve` waits on it).
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Cancel to shut down gracefully.
    pub shutdown: CancellationToken,
    /// Finishes when the server and its workers have stopped.
    pub done: tokio::task::JoinHandle<()>,
    /// The shared state.
    pub app: Arc<App>,
}

/// Binds `addr`, serves the API, and runs workers unless `workers` is false.
pub async fn start(app: Arc<App>, addr: SocketAddr, workers: bool) -> anyhow::Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let shutdown = app.shutdown.clone();
    app.spawn_housekeeping();
    let worker_task = if workers {
        Some(app.spawn_workers(shutdown.clone())?)
    } else {
        None
    };
    let router = crate::api::router(app.clone());
    let stop = shutdown.clone();
    let http = app.config.file.http.clone();
    let done = tokio::spawn(async move {
        crate::http_server::serve(listener, router, http, stop).await;
        if let Some(task) = worker_task {
            let _ = task.await;
        }
    });
    tracing::info!(%addr, backend = app.store.backend(), workers, "framepipe listening");
    Ok(Running {
        addr,
        shutdown,
        done,
        app,
    })
}
