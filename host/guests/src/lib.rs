//! The WebAssembly components built from `plugins/` (and `examples/`), embedded.
//!
//! `build.rs` compiles them for `wasm32-wasip2`; this crate only hands out the bytes.

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// The component of that name, if this build embeds it.
pub fn get(name: &str) -> Option<&'static [u8]> {
    with_digest(name).map(|(bytes, _)| bytes)
}

/// The component of that name with its `sha256:` digest, computed when it was built: lets
/// a host find a cached compilation without reading the embedded bytes.
pub fn with_digest(name: &str) -> Option<(&'static [u8], &'static str)> {
    ALL.iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, bytes, digest)| (*bytes, *digest))
}

/// Plugins the server loads by default (test-only plugins such as `chaos` excluded).
pub const BUILTIN: &[&str] = &["noop", "checksum", "frames", "people-count", "thumbnail"];
