//! The plugin registry: every loaded component by name, version and digest.
//!
//! Built-in plugins come embedded in the binary; operators add more from a directory at
//! start or with `POST /api/plugins`. Uploaded components are stored by digest under
//! `<data-dir>/plugins/` so that every process (and the next start) finds them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use framepipe_runtime::{LoadError, Plugin, Runtime};
use semver::{Version, VersionReq};

/// Loaded plugins.
pub struct Registry {
    runtime: Arc<Runtime>,
    store_dir: PathBuf,
    by_name: RwLock<BTreeMap<String, Vec<Arc<Plugin>>>>,
}

/// Why a plugin reference in a pipeline names no loaded plugin.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// No plugin of that name (or digest).
    #[error("unknown plugin `{0}`{1}")]
    Unknown(String, String),
    /// Plugins of that name exist, none with a matching version.
    #[error("no version of plugin `{name}` matches `{req}` (loaded: {loaded})")]
    Version {
        /// Plugin name.
        name: String,
        /// The requirement written.
        req: String,
        /// Versions loaded.
        loaded: String,
    },
    /// The version requirement does not parse.
    #[error("bad version requirement `{0}` in `{1}`: {2}")]
    BadRequirement(String, String, String),
}

impl Registry {
    /// An empty registry storing uploads under `store_dir`.
    pub fn new(runtime: Arc<Runtime>, store_dir: PathBuf) -> Registry {
        Registry {
            runtime,
            store_dir,
            by_name: RwLock::new(BTreeMap::new()),
        }
    }

    /// Loads (checks, compiles or takes from the cache) and registers a component.
    /// The same digest loaded twice is registered once.
    pub async fn add(&self, bytes: &[u8]) -> Result<Arc<Plugin>, LoadError> {
        self.add_with_digest(bytes, framepipe_runtime::digest(bytes))
            .await
    }

    /// [`Registry::add`] for bytes whose digest is known (see
    /// [`framepipe_runtime::Runtime::load_with_digest`]).
    pub async fn add_with_digest(
        &self,
        bytes: &[u8],
        digest: String,
    ) -> Result<Arc<Plugin>, LoadError> {
        if let Some(existing) = self.by_digest(&digest) {
            return Ok(existing);
        }
        let plugin = self.runtime.load_with_digest(bytes, digest).await?;
        let info = plugin.info();
        tracing::info!(
            plugin = %info.name,
            version = %info.version,
            digest = %info.digest,
            compile_ms = info.compile_ms,
            cache_hit = info.cache_hit,
            "plugin loaded"
        );
        let mut map = self.by_name.write().unwrap();
        let versions = map.entry(plugin.info().name.clone()).or_default();
        if !versions
            .iter()
            .any(|p| p.info().digest == plugin.info().digest)
        {
            versions.push(plugin.clone());
            versions.sort_by_key(|p| parse_version(&p.info().version));
        }
        Ok(plugin)
    }

    /// Checks and registers an uploaded component, and keeps its bytes on disk.
    pub async fn add_and_store(&self, bytes: &[u8]) -> Result<Arc<Plugin>, LoadError> {
        let plugin = self.add(bytes).await?;
        let hex = plugin
            .info()
            .digest
            .trim_start_matches("sha256:")
            .to_owned();
        let path = self.store_dir.join(format!("{hex}.wasm"));
        if !path.exists() {
            let write = || -> std::io::Result<()> {
                std::fs::create_dir_all(&self.store_dir)?;
                let tmp = self.store_dir.join(format!(".{hex}.tmp"));
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, &path)
            };
            write().map_err(|e| LoadError::Cache(format!("storing {}: {e}", path.display())))?;
        }
        Ok(plugin)
    }

    /// Loads every `*.wasm` in a directory; returns what failed, by file.
    pub async fn add_dir(&self, dir: &Path) -> Vec<(PathBuf, String)> {
        let mut failures = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return failures;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        paths.sort();
        for path in paths {
            let result = match std::fs::read(&path) {
                Ok(bytes) => self
                    .add(&bytes)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = result {
                failures.push((path, e));
            }
        }
        failures
    }

    /// The directory uploads are stored in.
    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    /// Every loaded plugin, by name then version.
    pub fn all(&self) -> Vec<Arc<Plugin>> {
        self.by_name
            .read()
            .unwrap()
            .values()
            .flat_map(|v| v.iter().cloned())
            .collect()
    }

    /// The plugin with this digest (`sha256:<hex>`).
    pub fn by_digest(&self, digest: &str) -> Option<Arc<Plugin>> {
        self.all().into_iter().find(|p| p.info().digest == digest)
    }

    /// Resolves a reference: `name` (newest version), `name@<requirement>` (newest matching,
    /// `0.1` meaning `^0.1`), or `sha256:<hex>`.
    pub fn resolve(&self, reference: &str) -> Result<Arc<Plugin>, ResolveError> {
        if reference.starts_with("sha256:") {
            return self
                .by_digest(reference)
                .ok_or_else(|| ResolveError::Unknown(reference.to_owned(), String::new()));
        }
        let (name, req) = match reference.split_once('@') {
            Some((name, req)) => (name, Some(req)),
            None => (reference, None),
        };
        let map = self.by_name.read().unwrap();
        let Some(versions) = map.get(name) else {
            let known: Vec<&str> = map.keys().map(String::as_str).collect();
            return Err(ResolveError::Unknown(
                name.to_owned(),
                format!(" (loaded: {})", known.join(", ")),
            ));
        };
        let Some(req) = req else {
            return Ok(versions.last().cloned().expect("no empty version lists"));
        };
        let parsed = VersionReq::parse(req).map_err(|e| {
            ResolveError::BadRequirement(req.to_owned(), reference.to_owned(), e.to_string())
        })?;
        versions
            .iter()
            .rev()
            .find(|p| parse_version(&p.info().version).is_some_and(|v| parsed.matches(&v)))
            .cloned()
            .ok_or_else(|| ResolveError::Version {
                name: name.to_owned(),
                req: req.to_owned(),
                loaded: versions
                    .iter()
                    .map(|p| p.info().version.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

fn parse_version(v: &str) -> Option<Version> {
    Version::parse(v).ok()
}
