//! The WebAssembly components built from `plugins/` (and `examples/`), embedded.
//!
//! `build.rs` compiles them for `wasm32-wasip2`; this crate only hands out the bytes.

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// The component of that name, if this build embeds it.
pub fn get(name: &str) -> Option<&'static [u8]> {
    ALL.iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bytes)| *bytes)
}

/// The `sha256:` digest of the component of that name, computed when it was built: lets
/// a host find a cached compilation without reading the embedded bytes.
pub fn digest(name: &str) -> Option<&'static str> {
    DIGESTS.iter().find(|(n, _)| *n == name).map(|(_, d)| *d)
}

/// Plugins the server loads by default (test-only plugins such as `chaos` excluded).
pub const BUILTIN: &[&str] = &["noop", "checksum", "frames", "people-count", "thumbnail"];
