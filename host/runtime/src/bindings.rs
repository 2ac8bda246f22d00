//! Host-side bindings generated from `wit/plugin.wit`, kept in one module.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "framepipe:plugin/host.blob": crate::state::BlobHandle,
        "framepipe:plugin/host.artifact": crate::state::ArtifactHandle,
    },
});

pub use framepipe::plugin::host::{IoError, LogLevel};
pub use framepipe::plugin::types::{Descriptor, ErrorKind, Port};
