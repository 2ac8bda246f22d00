//! framepipe's sandbox runtime: runs a pipeline step as a WebAssembly component under
//! hard per-instance limits.
//!
//! - [`Runtime`]: one wasmtime `Engine` (pooling allocator, epoch interruption, CPU time metering), a
//!   compile cache on disk, and a cap on instances running at once.
//! - [`Plugin`]: a checked, compiled component with its [`PluginInfo`] (from `describe()`).
//! - [`StepRequest`] / [`StepOutput`]: one run of a step: config, host-owned inputs read by
//!   range, artifacts written to a directory, per-run [`StepLimits`].
//! - [`StepFailure`]: every way a run can fail, typed, each with a machine-readable code;
//!   a limit hit names the limit and the observed value.
//!
//! The runtime knows nothing of queues, SQL or HTTP routes; the server wires those.
#![deny(missing_docs)]

mod bindings;
mod blob;
mod cache;
mod cpu;
mod engine;
mod error;
mod inspect;
mod limits;
mod outbound;
mod plugin;
mod run;
pub mod schema;
mod state;

pub use blob::{BlobSource, FileBlob, Input};
pub use engine::{Runtime, RuntimeConfig};
pub use error::{LoadError, PluginErrorKind, StepFailure};
pub use inspect::{HOST_WIT_VERSION, WitVersion};
pub use limits::StepLimits;
pub use outbound::{HttpBody, HttpRequestFilter, OutboundAccess, ResponseFuture};
pub use plugin::digest;
pub use plugin::{Plugin, PluginInfo, PortInfo};
pub use run::{
    ArtifactInfo, CancelFlag, LogLevel, NoopObserver, StepObserver, StepOutput, StepRequest,
    StepRun, StepStats,
};
pub use state::escape_control;
pub use wasmtime_wasi_http::Error as HttpError;
