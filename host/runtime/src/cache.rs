//! Compiled components cached on disk, keyed by the component's sha256 digest and the
//! engine's compatibility hash, so a restart loads a large plugin in milliseconds.

use crate::error::LoadError;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

pub(crate) struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    pub(crate) fn open(dir: &Path, engine: &Engine) -> Result<Self, LoadError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| LoadError::Cache(format!("creating {}: {e}", dir.display())))?;
        // DefaultHasher is stable within one build of the host; a different host build
        // just compiles again under a new key.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = format!("{:016x}", hasher.finish());
        Ok(CompileCache {
            dir: dir.to_owned(),
            engine_key,
        })
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", self.engine_key))
    }

    /// The cached compilation of the component with this digest, if there is a usable one.
    pub(crate) fn cached(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path(digest);
        if !path.exists() {
            return None;
        }
        match deserialize_file(engine, &path) {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "discarding unusable cache entry");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Compiles the component and stores the compilation under its digest.
    pub(crate) fn compile(
        &self,
        engine: &Engine,
        digest: &str,
        bytes: &[u8],
    ) -> Result<Component, LoadError> {
        let path = self.path(digest);
        let compiled = engine
            .precompile_component(bytes)
            .map_err(|e| LoadError::Compile(format!("{e:#}")))?;
        // Write to a temporary name unique to this writer, then rename: readers never see
        // a partial file, and concurrent writers of the same entry (same bytes) do not clash.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
        std::fs::write(&tmp, &compiled)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| LoadError::Cache(format!("writing {}: {e}", path.display())))?;
        deserialize_file(engine, &path).map_err(|e| LoadError::Cache(e.to_string()))
    }
}

/// Loads a precompiled component.
#[allow(unsafe_code)]
fn deserialize_file(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: the file is one this cache wrote itself (atomically, under a key that includes
    // the engine's compatibility hash) in a directory owned by the server; wasmtime checks
    // the header and version. Untrusted bytes never reach this function: they are compiled.
    unsafe { Component::deserialize_file(engine, path) }
}
