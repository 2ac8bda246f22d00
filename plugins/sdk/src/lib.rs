//! Write a framepipe plugin with one trait impl and one macro call.
//!
//! ```ignore
//! use framepipe_plugin_sdk::{Context, Descriptor, Plugin, StepError};
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     type Config = serde_json::Value;
//!     fn describe() -> Descriptor {
//!         Descriptor::new("hello", env!("CARGO_PKG_VERSION"), "Says hello.")
//!     }
//!     fn run(ctx: &mut Context, _config: Self::Config) -> Result<serde_json::Value, StepError> {
//!         ctx.info("hello");
//!         Ok(serde_json::json!({"greeting": "hello"}))
//!     }
//! }
//!
//! framepipe_plugin_sdk::export!(Hello);
//! ```
//!
//! Build with `cargo build --release --target wasm32-wasip2`; the `.wasm` file is a
//! component that `framepipe plugin check` accepts.
#![deny(missing_docs)]

mod context;
mod error;
pub mod http;
mod io;
pub mod panic;

pub use context::{Context, LogLevel};
pub use error::{ErrorKind, StepError};
pub use io::{Artifact, Blob, BlobReader};
pub use panic::PanicNote;

/// The raw bindings generated from `wit/plugin.wit`. Plugin authors do not need them.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "framepipe_plugin_sdk::bindings",
        generate_all,
    });
}

use bindings::framepipe::plugin::types as wit;

/// A port (an input or an output) of a step, as a plugin declares it.
#[derive(Debug, Clone)]
pub struct Port {
    /// The port's name, e.g. `video`.
    pub name: String,
    /// Accepted or produced media types, e.g. `video/*`.
    pub media_types: Vec<String>,
    /// What the port is for.
    pub description: String,
    /// Whether the port may be absent.
    pub optional: bool,
}

impl Port {
    /// A required port.
    pub fn new(name: &str, media_types: &[&str], description: &str) -> Self {
        Port {
            name: name.to_owned(),
            media_types: media_types.iter().map(|s| (*s).to_owned()).collect(),
            description: description.to_owned(),
            optional: false,
        }
    }

    /// Marks the port optional.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

/// What a plugin is and what it needs. Built with [`Descriptor::new`] and its setters.
#[derive(Debug, Clone)]
pub struct Descriptor {
    /// Lowercase name, `[a-z0-9-]`.
    pub name: String,
    /// Semantic version of the plugin.
    pub version: String,
    /// One line saying what the plugin does.
    pub description: String,
    /// JSON Schema of the config object (empty: the plugin takes no config).
    pub config_schema: String,
    /// Inputs the plugin reads.
    pub inputs: Vec<Port>,
    /// Outputs the plugin writes.
    pub outputs: Vec<Port>,
    /// Hosts the plugin reaches over HTTP (`*`: whatever the pipeline grants).
    pub hosts: Vec<String>,
    /// Least memory, in MiB, the plugin needs.
    pub min_memory_mib: u32,
}

impl Descriptor {
    /// A descriptor with no ports, no config, no network and a 16 MiB memory need.
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        Descriptor {
            name: name.to_owned(),
            version: version.to_owned(),
            description: description.to_owned(),
            config_schema: String::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            hosts: Vec::new(),
            min_memory_mib: 16,
        }
    }

    /// Sets the JSON Schema of the config object.
    pub fn config_schema(mut self, schema: &str) -> Self {
        self.config_schema = schema.to_owned();
        self
    }

    /// Adds an input port.
    pub fn input(mut self, port: Port) -> Self {
        self.inputs.push(port);
        self
    }

    /// Adds an output port.
    pub fn output(mut self, port: Port) -> Self {
        self.outputs.push(port);
        self
    }

    /// Declares a host the plugin must reach over HTTP.
    pub fn host(mut self, host: &str) -> Self {
        self.hosts.push(host.to_owned());
        self
    }

    /// Declares the least memory the plugin needs, in MiB.
    pub fn min_memory_mib(mut self, mib: u32) -> Self {
        self.min_memory_mib = mib;
        self
    }
}

/// A framepipe plugin: implement this, then call [`export!`] with the type.
pub trait Plugin {
    /// The step's config, parsed from the pipeline's JSON. Use `serde_json::Value` to take any.
    type Config: serde::de::DeserializeOwned;

    /// Describes the plugin; cheap, no I/O.
    fn describe() -> Descriptor;

    /// Runs the step and returns its JSON result.
    fn run(ctx: &mut Context, config: Self::Config) -> Result<serde_json::Value, StepError>;
}

/// Bridges a [`Plugin`] to the generated bindings. Used by [`export!`].
#[doc(hidden)]
pub struct Shim<T>(core::marker::PhantomData<T>);

impl<T: Plugin> bindings::exports::framepipe::plugin::step::Guest for Shim<T> {
    fn describe() -> wit::Descriptor {
        let d = T::describe();
        let port = |p: Port| wit::Port {
            name: p.name,
            media_types: p.media_types,
            description: p.description,
            optional: p.optional,
        };
        wit::Descriptor {
            name: d.name,
            version: d.version,
            description: d.description,
            config_schema: d.config_schema,
            inputs: d.inputs.into_iter().map(port).collect(),
            outputs: d.outputs.into_iter().map(port).collect(),
            hosts: d.hosts,
            min_memory_mib: d.min_memory_mib,
        }
    }

    fn run(config: String) -> Result<String, wit::StepError> {
        let text = if config.trim().is_empty() {
            "{}"
        } else {
            config.as_str()
        };
        let config: T::Config = serde_json::from_str(text)
            .map_err(|e| StepError::invalid_input(format!("config: {e}")))?;
        let mut ctx = Context::new();
        let value = T::run(&mut ctx, config)?;
        serde_json::to_string(&value)
            .map_err(|e| StepError::internal(format!("result is not JSON: {e}")).into())
    }
}

/// Exports a [`Plugin`] implementation as the component's `step` interface.
#[macro_export]
macro_rules! export {
    ($plugin:ty) => {
        type __FramepipePluginShim = $crate::Shim<$plugin>;
        $crate::bindings::__export_plugin_world!(
            __FramepipePluginShim with_types_in $crate::bindings
        );
    };
}
