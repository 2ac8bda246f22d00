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

/// Plugins the server loads by default (test-only plugins such as `chaos` excluded).
pub const BUILTIN: &[&str] = &["noop", "checksum", "frames", "people-count", "thumbnail"];
