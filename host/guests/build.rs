//! Builds every WebAssembly plugin in `plugins/` (and the third-party examples in
//! `examples/`) for `wasm32-wasip2`, then copies the components into `OUT_DIR` so that
//! `src/lib.rs` can embed them. The guests get their own target directory next to the
//! host's, so debug and release host builds share one guest build.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Guest workspaces, relative to the repository root, and the components each produces.
const WORKSPACES: &[(&str, &[&str])] = &[
    (
        "plugins",
        &[
            "noop",
            "checksum",
            "chaos",
            "frames",
            "people-count",
            "thumbnail",
        ],
    ),
    ("examples", &["scene-change"]),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.join("../..").canonicalize().unwrap();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let target_dir = guest_target_dir(&out_dir);
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-env-changed=FRAMEPIPE_GUEST_TARGET_DIR");
    println!("cargo:rerun-if-env-changed=FRAMEPIPE_GUEST_BUILD_DIR");

    let mut listing = String::from(
        "/// Every component this crate embeds: name, bytes, `sha256:` digest.\npub static ALL: &[(&str, &[u8], &str)] = &[\n",
    );
    for (workspace, components) in WORKSPACES {
        let dir = root.join(workspace);
        println!("cargo:rerun-if-changed={}", dir.display());
        build_workspace(&dir, &target_dir);
        for name in *components {
            let built = target_dir
                .join("wasm32-wasip2/release")
                .join(format!("{}.wasm", name.replace('-', "_")));
            let copy = out_dir.join(format!("{name}.wasm"));
            let bytes = std::fs::read(&built)
                .unwrap_or_else(|e| panic!("{} was not built: {e}", built.display()));
            std::fs::write(&copy, &bytes).unwrap();
            let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            listing.push_str(&format!(
                "    ({name:?}, include_bytes!({:?}), \"sha256:{digest}\"),\n",
                copy.display().to_string()
            ));
        }
    }
    listing.push_str("];\n");
    std::fs::write(out_dir.join("components.rs"), listing).unwrap();
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

fn build_workspace(dir: &Path, target_dir: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir) // picks up the workspace's .cargo/config.toml (target, simd128)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(target_dir);
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
