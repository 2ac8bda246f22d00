//! The smallest useful step: echoes its config and the names of its inputs.
//! Used to check a pipeline end to end and to measure per-step overhead.

use framepipe_plugin_sdk::{Context, Descriptor, Plugin, Port, StepError};
use serde_json::{Value, json};

struct Noop;

impl Plugin for Noop {
    type Config = Value;

    fn describe() -> Descriptor {
        Descriptor::new(
            "noop",
            env!("CARGO_PKG_VERSION"),
            "Does nothing; echoes its config.",
        )
        .config_schema(r#"{"type":"object"}"#)
        .input(Port::new("input", &["*/*"], "Any input; not read.").optional())
        .min_memory_mib(1)
    }

    fn run(ctx: &mut Context, config: Value) -> Result<Value, StepError> {
        Ok(json!({ "echo": config, "inputs": ctx.input_names() }))
    }
}

framepipe_plugin_sdk::export!(Noop);
