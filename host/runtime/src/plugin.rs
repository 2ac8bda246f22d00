//! Loading a plugin: check the binary, compile (or load from the cache), link, and ask the
//! plugin to describe itself.

use crate::bindings::{Descriptor, PluginPre, Port};
use crate::engine::Runtime;
use crate::error::LoadError;
use crate::inspect::{WitVersion, check_binary, check_world};
use crate::limits::StepLimits;
use crate::run::{CallSetup, NoopObserver};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{Component, Linker};

/// A checked, compiled plugin ready to run many times.
pub struct Plugin {
    pub(crate) pre: PluginPre<crate::state::StepState>,
    info: PluginInfo,
}

impl Plugin {
    /// What the plugin said of itself, plus what the host measured.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }
}

/// A port of a plugin, as it declared it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PortInfo {
    /// Port name.
    pub name: String,
    /// Media types.
    pub media_types: Vec<String>,
    /// What it is for.
    pub description: String,
    /// Whether it may be absent.
    pub optional: bool,
}

/// A plugin's description: from its `describe()`, and measured by the host.
#[derive(Debug, Clone, Serialize)]
pub struct PluginInfo {
    /// Name, `[a-z0-9-]`.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// What it does.
    pub description: String,
    /// JSON Schema of its config, if it gave one.
    pub config_schema: Option<Value>,
    /// Inputs.
    pub inputs: Vec<PortInfo>,
    /// Outputs.
    pub outputs: Vec<PortInfo>,
    /// Hosts it needs to reach.
    pub hosts: Vec<String>,
    /// Least memory it needs, MiB.
    pub min_memory_mib: u32,
    /// `sha256:<hex>` of the component bytes.
    pub digest: String,
    /// The `framepipe:plugin` version it targets.
    pub wit_version: String,
    /// Size of the component in bytes.
    pub size_bytes: u64,
    /// Time to compile (or load from the cache) in milliseconds.
    pub compile_ms: f64,
    /// Whether the compiled code came from the cache.
    pub cache_hit: bool,
}

/// `sha256:<hex>` of some bytes.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

impl Runtime {
    /// Checks, compiles (or loads from the cache), links and describes a component.
    pub async fn load(&self, bytes: &[u8]) -> Result<Arc<Plugin>, LoadError> {
        self.load_with_digest(bytes, digest(bytes)).await
    }

    /// [`Runtime::load`] for bytes whose [`digest`] the caller already has (an embedded
    /// plugin's, computed at build time): on a compile-cache hit the bytes are then read no
    /// further than their header, which keeps a large plugin's bytes out of memory.
    pub async fn load_with_digest(
        &self,
        bytes: &[u8],
        digest: String,
    ) -> Result<Arc<Plugin>, LoadError> {
        check_binary(bytes)?;
        debug_assert_eq!(
            digest,
            self::digest(bytes),
            "digest does not match the bytes"
        );
        let started = Instant::now();
        let key = digest.trim_start_matches("sha256:").to_owned();
        // Loading a compilation and compiling both block: keep them off the async workers.
        let inner = self.inner.clone();
        let cached = {
            let key = key.clone();
            tokio::task::spawn_blocking(move || {
                let cache = inner.cache.as_ref()?;
                cache.cached(&inner.engine, &key)
            })
            .await
            .map_err(|e| LoadError::Compile(format!("cache lookup failed: {e}")))?
        };
        let (component, cache_hit) = match cached {
            Some(component) => (component, true),
            None => {
                // Only a miss needs the bytes (copied: the task must own them).
                let inner = self.inner.clone();
                let bytes = bytes.to_vec();
                let component = tokio::task::spawn_blocking(move || match &inner.cache {
                    Some(cache) => cache.compile(&inner.engine, &key, &bytes),
                    None => Component::new(&inner.engine, &bytes)
                        .map_err(|e| LoadError::Compile(format!("{e:#}"))),
                })
                .await
                .map_err(|e| LoadError::Compile(format!("compile task failed: {e}")))??;
                (component, false)
            }
        };
        let compile_ms = started.elapsed().as_secs_f64() * 1e3;
        let wit_version = check_world(&component, &self.inner.engine)?;
        let pre = self
            .linker()
            .map_err(|e| LoadError::Compile(format!("building the linker: {e:#}")))?
            .instantiate_pre(&component)
            .map_err(|e| LoadError::UnsupportedImport(format!("{e:#}")))?;
        let pre = PluginPre::new(pre).map_err(|e| LoadError::MissingExport(format!("{e:#}")))?;
        let descriptor = self.describe(&pre).await?;
        let info = info_from(
            descriptor,
            digest,
            wit_version,
            bytes.len() as u64,
            compile_ms,
            cache_hit,
        )?;
        Ok(Arc::new(Plugin { pre, info }))
    }

    fn linker(&self) -> wasmtime::Result<Linker<crate::state::StepState>> {
        let mut linker = Linker::new(&self.inner.engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        crate::bindings::Plugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
            &mut linker,
            |s| s,
        )?;
        Ok(linker)
    }

    async fn describe(
        &self,
        pre: &PluginPre<crate::state::StepState>,
    ) -> Result<Descriptor, LoadError> {
        // describe() must be cheap: a tight budget catches a plugin that does work in it.
        let limits = StepLimits {
            memory_mib: self.inner.config.default_limits.memory_mib,
            cpu_ms: 2_000,
            deadline_ms: 5_000,
            output_bytes: 1 << 20,
            log_bytes: 64 << 10,
            ..StepLimits::default()
        };
        let setup = CallSetup::new(limits, Arc::new(NoopObserver));
        let (result, _stats) = self
            .call(pre, setup, |plugin, store| {
                Box::pin(async move { plugin.framepipe_plugin_step().call_describe(store).await })
            })
            .await;
        result.map_err(|f| LoadError::Describe(f.to_string()))
    }
}

fn port_info(p: Port) -> PortInfo {
    PortInfo {
        name: p.name,
        media_types: p.media_types,
        description: p.description,
        optional: p.optional,
    }
}

fn info_from(
    d: Descriptor,
    digest: String,
    wit: WitVersion,
    size_bytes: u64,
    compile_ms: f64,
    cache_hit: bool,
) -> Result<PluginInfo, LoadError> {
    let name_ok = (1..=64).contains(&d.name.len())
        && d.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return Err(LoadError::Describe(format!(
            "plugin name `{}` must be 1-64 characters of [a-z0-9-]",
            d.name
        )));
    }
    if d.version.split('.').count() != 3 || d.version.split('.').any(|p| p.parse::<u64>().is_err())
    {
        return Err(LoadError::Describe(format!(
            "plugin version `{}` is not X.Y.Z",
            d.version
        )));
    }
    let config_schema = if d.config_schema.trim().is_empty() {
        None
    } else {
        Some(
            serde_json::from_str(&d.config_schema)
                .map_err(|e| LoadError::Describe(format!("config schema is not JSON: {e}")))?,
        )
    };
    Ok(PluginInfo {
        name: d.name,
        version: d.version,
        description: d.description,
        config_schema,
        inputs: d.inputs.into_iter().map(port_info).collect(),
        outputs: d.outputs.into_iter().map(port_info).collect(),
        hosts: d.hosts,
        min_memory_mib: d.min_memory_mib,
        digest,
        wit_version: wit.to_string(),
        size_bytes,
        compile_ms,
        cache_hit,
    })
}
