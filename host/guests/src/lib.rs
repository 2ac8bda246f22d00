//! The WebAssembly components built from `plugins/` (and `examples/`), embedded.
//!
//! `build.rs` compiles the components each `Cargo.toml` declares under
//! `[package.metadata.framepipe]`; this crate only hands out the bytes. Without the `embed`
//! feature nothing is built or embedded (a quick `cargo check`); `test-plugins` adds the
//! test-only components (`chaos`, the example).

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// The component of that name, if this build embeds it.
pub fn get(name: &str) -> Option<&'static [u8]> {
    with_digest(name).map(|(bytes, _)| bytes)
}

/// The component of that name with its `sha256:` digest, computed when it was built: lets
/// a host find a cached compilation without reading the embedded bytes.
pub fn with_digest(name: &str) -> Option<(&'static [u8], &'static str)> {
    ALL.iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, bytes, digest, _)| (*bytes, *digest))
}

/// The plugins the server loads by default: the embedded components declared
/// `component = "builtin"` (test-only ones such as `chaos` excluded).
pub fn builtin() -> impl Iterator<Item = &'static str> {
    ALL.iter()
        .filter(|(.., builtin)| *builtin)
        .map(|(name, ..)| *name)
}
