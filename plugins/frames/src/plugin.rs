//! The SDK glue: descriptor, config, host blob in, artifacts out, errors mapped to WIT kinds.

use crate::config::{Config, SCHEMA};
use crate::job::{Sink, run};
use crate::media::MediaError;
use framepipe_plugin_sdk::{Context, Descriptor, Plugin, Port, StepError};
use serde_json::Value;

/// The `frames` plugin.
pub struct Frames;

/// Measured guest peak for an exact seek in 1080p with JPEG output, rounded up (H.264: 34 MiB
/// natively; AV1: 41.4 MiB in the sandbox).
pub const MIN_MEMORY_MIB: u32 = 48;

impl From<MediaError> for StepError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::Invalid(m) => StepError::invalid_input(m),
            MediaError::Unsupported(m) => StepError::unsupported(m),
            MediaError::Cancelled => StepError::cancelled(),
        }
    }
}

struct Artifacts<'a> {
    ctx: &'a mut Context,
}

impl Sink for Artifacts<'_> {
    type Error = StepError;

    fn frame(
        &mut self,
        index: usize,
        total: usize,
        name: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), StepError> {
        self.ctx.write_artifact(name, media_type, bytes)?;
        self.ctx.progress(index as u64 + 1, total as u64);
        Ok(())
    }

    fn cancelled(&mut self) -> bool {
        self.ctx.is_cancelled()
    }
}

impl Plugin for Frames {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new(
            "frames",
            env!("CARGO_PKG_VERSION"),
            "Extracts frames (keyframe or exact) as JPEG or PNG from H.264, VP9, AV1 and MJPEG videos in MP4, Matroska/WebM or AVI.",
        )
        .config_schema(SCHEMA)
        .input(Port::new(
            "video",
            &["video/*"],
            "The video, read by range.",
        ))
        .output(Port::new(
            "frame-*",
            &["image/jpeg", "image/png"],
            "frame-<index>.jpg or .png, one per requested time.",
        ))
        .min_memory_mib(MIN_MEMORY_MIB)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Value, StepError> {
        let blob = ctx.input("video")?;
        let size = blob.size();
        let reader = blob.reader();
        let mut sink = Artifacts { ctx };
        run(reader, size, &config, &mut sink)
    }
}

framepipe_plugin_sdk::export!(Frames);
