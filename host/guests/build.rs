//! Builds the WebAssembly components of `plugins/` and `examples/` for `wasm32-wasip2` and
//! copies them into `OUT_DIR` so that `src/lib.rs` can embed them.
//!
//! Each component declares itself once, in its own `Cargo.toml`:
//!
//! ```toml
//! [package.metadata.framepipe]
//! component = "builtin"   # loaded by the server; "test": embedded only for tests
//! tested-by = ["host/runtime/tests/sandbox.rs"]   # optional: host tests that run it
//! ```
//!
//! Everything else (the embedded list, the server's built-in plugins) is derived from that.
//! A component without a test fails the build: `#[test]` in its crate, a `tests/`
//! directory, or a `tested-by` file that names it. Embedding is the `embed` feature (on in
//! the server by default); `test-plugins` adds the test-only components. The guests get
//! their own target directory next to the host's, so debug and release host builds share
//! one guest build.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Guest workspaces, relative to the repository root.
const WORKSPACES: &[&str] = &["plugins", "examples"];

/// What `[package.metadata.framepipe]` says about one package.
struct Component {
    /// The package name, also the component's name (`people-count`).
    name: String,
    /// Loaded by the server (`builtin`), or embedded only for tests (`test`).
    builtin: bool,
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.join("../..").canonicalize().unwrap();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-env-changed=FRAMEPIPE_GUEST_TARGET_DIR");
    println!("cargo:rerun-if-env-changed=FRAMEPIPE_GUEST_BUILD_DIR");
    let embed = std::env::var_os("CARGO_FEATURE_EMBED").is_some();
    let with_tests = std::env::var_os("CARGO_FEATURE_TEST_PLUGINS").is_some();

    let mut listing = String::from(
        "/// Every component this build embeds: name, bytes, `sha256:` digest, built-in (loaded by the server).\npub static ALL: &[(&str, &[u8], &str, bool)] = &[\n",
    );
    let target_dir = guest_target_dir(&out_dir);
    for workspace in WORKSPACES {
        let dir = root.join(workspace);
        println!("cargo:rerun-if-changed={}", dir.display());
        let components: Vec<Component> = components(&root, &dir)
            .into_iter()
            .filter(|c| embed && (c.builtin || with_tests))
            .collect();
        if components.is_empty() {
            continue;
        }
        build_workspace(&dir, &target_dir, &components);
        for c in &components {
            let built = target_dir
                .join("wasm32-wasip2/release")
                .join(format!("{}.wasm", c.name.replace('-', "_")));
            let copy = out_dir.join(format!("{}.wasm", c.name));
            let bytes = std::fs::read(&built)
                .unwrap_or_else(|e| panic!("{} was not built: {e}", built.display()));
            std::fs::write(&copy, &bytes).unwrap();
            let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            listing.push_str(&format!(
                "    ({:?}, include_bytes!({:?}), \"sha256:{digest}\", {}),\n",
                c.name,
                copy.display().to_string(),
                c.builtin
            ));
        }
    }
    listing.push_str("];\n");
    std::fs::write(out_dir.join("components.rs"), listing).unwrap();
}

/// The components a guest workspace declares, each checked to have a test.
fn components(root: &Path, workspace: &Path) -> Vec<Component> {
    let manifest = read_toml(&workspace.join("Cargo.toml"));
    let members = manifest["workspace"]["members"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no workspace.members", workspace.display()));
    let mut found = Vec::new();
    for member in members {
        let dir = workspace.join(member.as_str().expect("member paths are strings"));
        let package = read_toml(&dir.join("Cargo.toml"));
        let package = &package["package"];
        let Some(meta) = package.get("metadata").and_then(|m| m.get("framepipe")) else {
            continue; // a library (the SDK, a decoder), not a component
        };
        let name = package["name"].as_str().unwrap().to_owned();
        let builtin = match meta.get("component").and_then(|c| c.as_str()) {
            Some("builtin") => true,
            Some("test") => false,
            other => panic!(
                "{}: [package.metadata.framepipe] component must be \"builtin\" or \"test\", not {other:?}",
                dir.display()
            ),
        };
        let tested_by: Vec<&str> = meta
            .get("tested-by")
            .and_then(|t| t.as_array())
            .map(|a| a.iter().filter_map(|f| f.as_str()).collect())
            .unwrap_or_default();
        check_tested(root, &dir, &name, &tested_by);
        found.push(Component { name, builtin });
    }
    found
}

/// Fails the build when a component has no test: `#[test]` in its crate, a `tests/`
/// directory, or a `tested-by` host test file that names it in quotes.
fn check_tested(root: &Path, dir: &Path, name: &str, tested_by: &[&str]) {
    if dir.join("tests").is_dir() || contains_test(&dir.join("src")) {
        return;
    }
    let quoted = format!("\"{name}\"");
    for file in tested_by {
        let path = root.join(file);
        println!("cargo:rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{name}: tested-by {}: {e}", path.display()));
        if text.contains(&quoted) {
            return;
        }
    }
    panic!(
        "the component {name} ({}) has no test: add #[test]s or a tests/ directory to it, or name the host test files that run it in `tested-by` under [package.metadata.framepipe]",
        dir.display()
    );
}

/// Whether any `.rs` file under `dir` holds a `#[test]`.
fn contains_test(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        let path = e.path();
        if path.is_dir() {
            contains_test(&path)
        } else {
            path.extension().is_some_and(|x| x == "rs")
                && std::fs::read_to_string(&path).is_ok_and(|t| t.contains("#[test]"))
        }
    })
}

fn read_toml(path: &Path) -> toml::Table {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// `$FRAMEPIPE_GUEST_TARGET_DIR`, else `wasm-guests` beside the host's target directory.
fn guest_target_dir(out_dir: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("FRAMEPIPE_GUEST_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // OUT_DIR is <target>/[<triple>/]<profile>/build/<pkg>-<hash>/out.
    let build = out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .unwrap();
    let profile_dir = build.parent().unwrap();
    let mut target = profile_dir.parent().unwrap().to_path_buf();
    if target.join("CACHEDIR.TAG").exists() || target.ends_with("target") {
        return target.join("wasm-guests");
    }
    // Cross-compiled host: one more level (the triple).
    target.pop();
    target.join("wasm-guests")
}

/// Builds the given components of one guest workspace (their dependencies come along).
fn build_workspace(dir: &Path, target_dir: &Path, components: &[Component]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir) // picks up the workspace's .cargo/config.toml (target, simd128)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(target_dir);
    for c in components {
        cmd.args(["-p", &c.name]);
    }
    // The host build's flags, wrappers and target must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_BUILD_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "PROFILE",
        "OPT_LEVEL",
        "DEBUG",
        "TARGET",
        "HOST",
    ] {
        cmd.env_remove(var);
    }
    // Several checkouts can share the guests' intermediate artifacts (cargo's build
    // directory) while each keeps its own components: the host build's own build
    // directory is locked while this script runs, so the guests get one of their own.
    if let Some(build_dir) = std::env::var_os("FRAMEPIPE_GUEST_BUILD_DIR") {
        cmd.env("CARGO_BUILD_BUILD_DIR", build_dir);
    }
    let status = cmd.status().expect("running cargo for the wasm guests");
    if !status.success() {
        panic!(
            "building the wasm guests in {} failed (is the target installed? `rustup target add wasm32-wasip2`)",
            dir.display()
        );
    }
}
