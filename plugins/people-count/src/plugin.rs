//! The component's face: config, the `image` input, the JSON result and `annotated.jpg`.

use crate::draw;
use crate::image::{self, ImageError};
use crate::model::{Detector, INPUT_SIZES, Params};
use framepipe_plugin_sdk::{Context, Descriptor, Plugin, Port, StepError};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Instant;

/// Largest image file read whole (a 4K PNG is about 25 MB).
const MAX_FILE_BYTES: u64 = 48 << 20;

/// Default person score. Chosen on the fixtures (see the plugin's README): true people
/// there score 0.45 and up, the highest non-person candidates stay below it.
const DEFAULT_THRESHOLD: f32 = 0.4;

struct PeopleCount;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_threshold")]
    threshold: f32,
    #[serde(default = "default_input_size")]
    input_size: usize,
    #[serde(default = "default_iou")]
    iou: f32,
    #[serde(default)]
    annotate: bool,
}

fn default_threshold() -> f32 {
    DEFAULT_THRESHOLD
}
fn default_input_size() -> usize {
    416
}
fn default_iou() -> f32 {
    0.5
}

const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"properties":{
"threshold":{"type":"number","exclusiveMinimum":0,"maximum":1,"default":0.4,"description":"Least person score counted."},
"input_size":{"enum":[320,416,640],"default":416,"description":"Network input side: 640 finds smaller people, at about 2.5x the time and 1.7x the memory of 416."},
"iou":{"type":"number","exclusiveMinimum":0,"maximum":1,"default":0.5,"description":"Overlap above which non-maximum suppression drops the weaker of two boxes."},
"annotate":{"type":"boolean","default":false,"description":"Also write annotated.jpg with the boxes drawn."}}}"#;

impl Plugin for PeopleCount {
    type Config = Config;

    fn describe() -> Descriptor {
        Descriptor::new(
            "people-count",
            env!("CARGO_PKG_VERSION"),
            "Counts people in an image (JPEG or PNG) with the NanoDet-m detector.",
        )
        .config_schema(SCHEMA)
        .input(Port::new(
            "image",
            &["image/jpeg", "image/png"],
            "One frame to count people in.",
        ))
        .output(
            Port::new(
                "annotated.jpg",
                &["image/jpeg"],
                "The frame with a box around each person (when `annotate`).",
            )
            .optional(),
        )
        .min_memory_mib(MIN_MEMORY_MIB)
    }

    fn run(ctx: &mut Context, config: Config) -> Result<Value, StepError> {
        validate(&config)?;
        let bytes = ctx.input("image")?.read_all(MAX_FILE_BYTES)?;
        let mut img = image::decode(&bytes).map_err(|e| match e {
            ImageError::UnknownFormat => StepError::unsupported(format!("input `image`: {e}")),
            _ => StepError::invalid_input(format!("input `image`: {e}")),
        })?;
        drop(bytes);
        ctx.progress(1, 3);
        ctx.check_cancelled()?;

        let loaded = Instant::now();
        let detector = Detector::new(config.input_size)
            .map_err(|e| StepError::internal(format!("loading the model: {e:#}")))?;
        let load_ms = loaded.elapsed().as_secs_f64() * 1e3;
        ctx.progress(2, 3);
        ctx.check_cancelled()?;

        let started = Instant::now();
        let params = Params {
            threshold: config.threshold,
            iou: config.iou,
        };
        let found = detector
            .detect(&img, params)
            .map_err(|e| StepError::internal(format!("inference: {e:#}")))?;
        let inference_ms = started.elapsed().as_secs_f64() * 1e3;
        drop(detector);

        if config.annotate {
            draw::draw_boxes(&mut img, &found);
            let jpeg = draw::encode_jpeg(&img, 85).map_err(StepError::internal)?;
            ctx.write_artifact("annotated.jpg", "image/jpeg", &jpeg)?;
        }
        ctx.progress(3, 3);

        let round = |v: f32, places: i32| {
            let k = 10f64.powi(places);
            (f64::from(v) * k).round() / k
        };
        let detections: Vec<Value> = found
            .iter()
            .map(|d| {
                json!({ "x": round(d.x, 1), "y": round(d.y, 1), "w": round(d.w, 1), "h": round(d.h, 1),
                        "score": round(d.score, 3) })
            })
            .collect();
        Ok(json!({
            "person_count": found.len(),
            "detections": detections,
            "width": img.width,
            "height": img.height,
            "input_size": config.input_size,
            "threshold": config.threshold,
            "inference_ms": round(inference_ms as f32, 1),
            "model_load_ms": round(load_ms as f32, 1),
        }))
    }
}

/// Least memory for ordinary work: the model at 640 plus a 4K frame (see the README).
const MIN_MEMORY_MIB: u32 = 128;

fn validate(config: &Config) -> Result<(), StepError> {
    if !(config.threshold > 0.0 && config.threshold <= 1.0) {
        return Err(StepError::invalid_input(
            "config: threshold must be in (0, 1]",
        ));
    }
    if !(config.iou > 0.0 && config.iou <= 1.0) {
        return Err(StepError::invalid_input("config: iou must be in (0, 1]"));
    }
    if !INPUT_SIZES.contains(&config.input_size) {
        return Err(StepError::invalid_input(format!(
            "config: input_size must be one of {INPUT_SIZES:?}"
        )));
    }
    Ok(())
}

framepipe_plugin_sdk::export!(PeopleCount);
