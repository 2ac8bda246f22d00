//! The component's face: the descriptor, and [`run::Io`] over the SDK's [`Context`].

use crate::run::{self, Config, Failure, IMAGE_INPUT, INDEX_INPUT, SCHEMA};
use framepipe_plugin_sdk::{Context, Descriptor, Plugin, Port, StepError};
use serde_json::Value;

struct PeopleCount;

impl From<Failure> for StepError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::InvalidInput(m) => StepError::invalid_input(m),
            Failure::Unsupported(m) => StepError::unsupported(m),
            Failure::Cancelled => StepError::cancelled(),
            Failure::Internal(m) => StepError::internal(m),
        }
    }
}

/// [`run::Io`] over the host.
struct HostIo<'a> {
    ctx: &'a mut Context,
}

impl run::Io for HostIo<'_> {
    type Error = StepError;

    fn input_names(&self) -> Vec<String> {
        self.ctx.input_names()
    }

    fn read(&mut self, name: &str, limit: u64) -> Result<Vec<u8>, StepError> {
        self.ctx
            .input(name)?
            .read_all(limit)
            .map_err(|e| StepError::new(e.kind, format!("input `{name}`: {}", e.message)))
    }

    fn write_artifact(
        &mut self,
        name: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), StepError> {
        self.ctx.write_artifact(name, media_type, bytes)
    }

    fn progress(&mut self, processed: u64, total: u64) {
        self.ctx.progress(processed, total);
    }

    fn cancelled(&mut self) -> bool {
        self.ctx.is_cancelled()
    }

    fn warn(&mut self, message: &str) {
        self.ctx.warn(message);
    }
}

impl Plugin for PeopleCount {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new(
            "people-count",
            env!("CARGO_PKG_VERSION"),
            "Counts people in an image or in a video's sampled frames with the NanoDet-m detector.",
        )
        .config_schema(SCHEMA)
        .input(
            Port::new(
                IMAGE_INPUT,
                &["image/jpeg", "image/png"],
                "One image to count people in (instead of frame-<index> inputs).",
            )
            .optional(),
        )
        .input(
            Port::new(
                "frame-*",
                &["image/jpeg", "image/png"],
                "frame-<index>.jpg or .png from the frames step, processed in index order.",
            )
            .optional(),
        )
        .input(
            Port::new(
                INDEX_INPUT,
                &["application/json"],
                "The frames step's result: gives each frame's time (pts_seconds).",
            )
            .optional(),
        )
        .output(
            Port::new(
                "annotated-*",
                &["image/jpeg"],
                "annotated-<index>.jpg: a frame with a box around each person (see `annotate`).",
            )
            .optional(),
        )
        .min_memory_mib(MIN_MEMORY_MIB)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Value, StepError> {
        run::run(&mut HostIo { ctx }, &config)
    }
}

/// Least memory for ordinary work. The design notes (shared/design/MEDIA.md) measured a 51 MiB guest peak at 416 and
/// 88 MiB at 640 for one frame; frames are decoded one at a time, so a longer video adds
/// only its detections. The margin for a 4K frame (25 MB as RGB) is not measured yet.
const MIN_MEMORY_MIB: u32 = 128;

framepipe_plugin_sdk::export!(PeopleCount);
