//! The layer that talks to the host: describe, config, HTTP through `wasi:http`, the
//! artifact and the log.

use crate::config::{Config, SCHEMA};
use crate::select::{self, Fetch, FetchError, Fetched, MAX_BODY_BYTES};
use framepipe_plugin_sdk::{Context, Descriptor, Plugin, Port, StepError, http};
use serde_json::Value;

/// The plugin.
pub struct Thumbnail;

impl Plugin for Thumbnail {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new(
            "thumbnail",
            env!("CARGO_PKG_VERSION"),
            "Fetches a YouTube video's best thumbnail (maxres to default, webp then jpg).",
        )
        .config_schema(SCHEMA)
        .output(Port::new(
            "thumbnail.*",
            &["image/webp", "image/jpeg"],
            "The thumbnail: thumbnail.webp or thumbnail.jpg.",
        ))
        .host("i.ytimg.com")
        .min_memory_mib(16)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Value, StepError> {
        let config = config.validate().map_err(StepError::invalid_input)?;
        let total = config.candidates().len() as u64;
        let mut fetch = HostFetch {
            ctx,
            done: 0,
            total,
        };
        let chosen = select::select(&config, &mut fetch)?;
        ctx.write_artifact(
            chosen.format().artifact_name(),
            chosen.format().media_type(),
            &chosen.bytes,
        )?;
        ctx.progress(total, total);
        ctx.info(&format!(
            "thumbnail {} {}x{} from {}",
            chosen.candidate.size,
            chosen.picture.width,
            chosen.picture.height,
            chosen.candidate.url
        ));
        Ok(chosen.result())
    }
}

/// Requests through the SDK (`wasi:http`, checked by the host's outbound policy).
struct HostFetch<'a> {
    ctx: &'a Context,
    done: u64,
    total: u64,
}

impl Fetch for HostFetch<'_> {
    fn get(&mut self, url: &str) -> Result<Fetched, FetchError> {
        let response = http::get(url, MAX_BODY_BYTES).map_err(|e| {
            if e.denied {
                FetchError::Refused(e.message)
            } else {
                FetchError::Failed(e.message)
            }
        })?;
        self.done += 1;
        self.ctx.progress(self.done, self.total);
        Ok(Fetched {
            status: response.status,
            body: response.body,
        })
    }

    fn warn(&mut self, message: &str) {
        self.ctx.warn(message);
    }

    fn cancelled(&mut self) -> bool {
        self.ctx.is_cancelled()
    }
}

framepipe_plugin_sdk::export!(Thumbnail);
