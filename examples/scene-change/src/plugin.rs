//! The SDK glue: descriptor, host inputs in, progress and cancellation, errors mapped to
//! WIT kinds.

use crate::analysis::{FRAMES_JSON, Failure, Input, Source, run};
use crate::config::{Config, SCHEMA};
use framepipe_plugin_sdk::{Context, Descriptor, Plugin, Port, StepError};
use serde_json::Value;

/// The `scene-change` plugin.
pub struct SceneChange;

/// Largest input read whole (a frame, or the upstream result).
const MAX_INPUT_BYTES: u64 = 32 << 20;

/// Memory for ordinary work: frames up to 1280x720 (3 MiB peak heap natively, see
/// tests/memory.rs; 3840x2160, the largest accepted, needs about 26 MiB).
const MIN_MEMORY_MIB: u32 = 16;

impl From<Failure> for StepError {
    fn from(e: Failure) -> Self {
        match e {
            Failure::Invalid(m) => StepError::invalid_input(m),
            Failure::Cancelled => StepError::cancelled(),
        }
    }
}

struct Inputs<'a> {
    ctx: &'a Context,
}

impl Source for Inputs<'_> {
    type Error = StepError;

    fn read(&mut self, name: &str) -> Result<Vec<u8>, StepError> {
        self.ctx
            .input(name)?
            .read_all(MAX_INPUT_BYTES)
            .map_err(|e| StepError::new(e.kind, format!("{name}: {}", e.message)))
    }

    fn progress(&mut self, done: usize, total: usize) {
        self.ctx.progress(done as u64, total as u64);
    }

    fn cancelled(&mut self) -> bool {
        self.ctx.is_cancelled()
    }
}

impl Plugin for SceneChange {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new(
            "scene-change",
            env!("CARGO_PKG_VERSION"),
            "Finds scene cuts (colour-histogram jumps) and measures motion over sampled frames.",
        )
        .config_schema(SCHEMA)
        .input(Port::new(
            "*",
            &["image/jpeg", "image/png"],
            "The frames, in the order of the number in their names (frame-0.jpg, frame-1.jpg, ...).",
        ))
        .input(
            Port::new(
                FRAMES_JSON,
                &["application/json"],
                "The frames step's result, for frame times.",
            )
            .optional(),
        )
        .min_memory_mib(MIN_MEMORY_MIB)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Value, StepError> {
        let inputs: Vec<Input> = ctx
            .input_names()
            .into_iter()
            .map(|name| {
                let media_type = ctx
                    .optional_input(&name)
                    .map(|b| b.media_type())
                    .unwrap_or_default();
                Input { name, media_type }
            })
            .collect();
        let result = run(&inputs, &config, &mut Inputs { ctx })?;
        ctx.info(&format!(
            "{} frames, {} cuts, mean motion {}",
            result["frames"],
            result["cuts"].as_array().map_or(0, Vec::len),
            result["mean_motion"]
        ));
        Ok(result)
    }
}

framepipe_plugin_sdk::export!(SceneChange);
