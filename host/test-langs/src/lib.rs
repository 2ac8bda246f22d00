//! The Python and JavaScript plugins that tests and benchmarks run, built on demand.
//!
//! Unlike the Rust guests (`framepipe-guests`, built by a `build.rs`), these need
//! toolchains from PyPI and npm that a Rust developer may not have, so they are built
//! when a test asks for one, not when the workspace compiles: `cargo build` works without
//! Python or Node, and a test that needs them fails saying how to install them
//! (`bash tests/plugin-toolchains.sh install`, which `.ci/run` runs). Never skipped.
//!
//! A build takes 15-30 s (componentize-py snapshots CPython, ComponentizeJS SpiderMonkey),
//! so the component is kept in `$HOME/.cache/framepipe/lang-guests/` under a digest of
//! everything that goes into it: the plugin's sources, the SDK's, and the toolchain
//! versions (the toolchain script). A warm run rebuilds nothing; a changed source
//! rebuilds that plugin only. Test binaries running at once take a file lock per plugin.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A plugin language with an SDK in `sdk/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// componentize-py over `sdk/python`; the app module is `app`.
    Python,
    /// ComponentizeJS over `sdk/js`; the app module is `app.js`.
    Js,
}

impl Lang {
    fn toolchain(self) -> &'static str {
        match self {
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }

    fn sdk(self) -> &'static str {
        match self {
            Lang::Python => "sdk/python",
            Lang::Js => "sdk/js",
        }
    }
}

/// The plugins this crate knows, by name: language and directory (from the repository root).
pub const PLUGINS: &[(&str, Lang, &str)] = &[
    (
        "python-frame-stats",
        Lang::Python,
        "examples/python-frame-stats",
    ),
    ("js-frame-colors", Lang::Js, "examples/js-frame-colors"),
    (
        "python-hostile",
        Lang::Python,
        "tests/lang-plugins/python-hostile",
    ),
    ("js-hostile", Lang::Js, "tests/lang-plugins/js-hostile"),
];

/// Why a plugin could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No plugin of that name in [`PLUGINS`].
    #[error("no language plugin named {0:?}")]
    Unknown(String),
    /// The toolchain is not installed; the message says how to install it.
    #[error("{0}")]
    MissingToolchain(String),
    /// The build ran and failed.
    #[error("building {name} failed ({status}):\n{output}")]
    Failed {
        /// The plugin.
        name: String,
        /// The exit status.
        status: String,
        /// What the build printed.
        output: String,
    },
    /// Reading sources or writing the cache failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BuildError {
    let context = context.into();
    move |source| BuildError::Io { context, source }
}

/// The repository root (this crate is `host/test-langs`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The installed toolchain directory for `lang`, or the toolchain script's message saying
/// how to install it.
pub fn toolchain(lang: Lang) -> Result<PathBuf, BuildError> {
    let out = Command::new("bash")
        .arg(repo_root().join("tests/plugin-toolchains.sh"))
        .args(["path", lang.toolchain()])
        .output()
        .map_err(io("running tests/plugin-toolchains.sh"))?;
    if !out.status.success() {
        return Err(BuildError::MissingToolchain(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// The component of plugin `name`, built now unless a build of the same sources is cached.
pub fn component(name: &str) -> Result<Vec<u8>, BuildError> {
    let path = component_path(name)?;
    std::fs::read(&path).map_err(io(format!("reading {}", path.display())))
}

/// Like [`component`], but the path of the cached `.wasm` file.
pub fn component_path(name: &str) -> Result<PathBuf, BuildError> {
    let &(_, lang, dir) = PLUGINS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| BuildError::Unknown(name.to_owned()))?;
    let root = repo_root();
    let tools = toolchain(lang)?;
    let digest = sources_digest(&root, &[dir, lang.sdk(), "tests/plugin-toolchains.sh"])?;
    let cache = cache_dir();
    std::fs::create_dir_all(&cache).map_err(io(format!("creating {}", cache.display())))?;
    let out = cache.join(format!("{name}-{}.wasm", &digest[..16]));
    let lock_path = cache.join(format!("{name}.lock"));
    let lock = std::fs::File::create(&lock_path)
        .map_err(io(format!("creating {}", lock_path.display())))?;
    lock.lock().map_err(io("locking the build"))?;
    if out.exists() {
        return Ok(out);
    }
    let partial = out.with_extension("partial.wasm");
    let app_dir = root.join(dir);
    let mut cmd = match lang {
        Lang::Python => {
            let mut c = Command::new(tools.join("bin/python"));
            c.env("PYTHONPATH", root.join("sdk/python/src"))
                .args(["-m", "framepipe_plugin", "build", "app", "-o"])
                .arg(&partial);
            c
        }
        Lang::Js => {
            let mut c = Command::new("node");
            c.env("FRAMEPIPE_JS_MODULES", &tools)
                .arg(root.join("sdk/js/bin/framepipe-js.js"))
                .args(["build", "app.js", "-o"])
                .arg(&partial);
            c
        }
    };
    let result = cmd
        .current_dir(&app_dir)
        .output()
        .map_err(io(format!("running the {} build", lang.toolchain())))?;
    if !result.status.success() || !partial.exists() {
        return Err(BuildError::Failed {
            name: name.to_owned(),
            status: result.status.to_string(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&result.stdout),
                String::from_utf8_lossy(&result.stderr)
            ),
        });
    }
    std::fs::rename(&partial, &out).map_err(io(format!("writing {}", out.display())))?;
    Ok(out)
}

fn cache_dir() -> PathBuf {
    match std::env::var_os("FRAMEPIPE_LANG_GUESTS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
            .join(".cache/framepipe/lang-guests"),
    }
}

/// A digest of every source file under `paths` (build output and caches left out).
fn sources_digest(root: &Path, paths: &[&str]) -> Result<String, BuildError> {
    let mut files = Vec::new();
    for p in paths {
        collect(&root.join(p), &mut files)?;
    }
    files.sort();
    let mut hash = Sha256::new();
    for f in files {
        let rel = f.strip_prefix(root).unwrap_or(&f);
        hash.update(rel.to_string_lossy().as_bytes());
        hash.update([0]);
        hash.update(std::fs::read(&f).map_err(io(format!("reading {}", f.display())))?);
        hash.update([0]);
    }
    Ok(hex::encode(hash.finalize()))
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), BuildError> {
    let meta = std::fs::metadata(path).map_err(io(format!("reading {}", path.display())))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(path).map_err(io(format!("listing {}", path.display())))? {
        let entry = entry.map_err(io(format!("listing {}", path.display())))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let skip = matches!(
            name.as_ref(),
            "node_modules" | "__pycache__" | "test" | "tests"
        ) || name.ends_with(".wasm")
            || name.ends_with(".egg-info")
            || name.starts_with('.');
        if !skip {
            collect(&entry.path(), out)?;
        }
    }
    Ok(())
}
