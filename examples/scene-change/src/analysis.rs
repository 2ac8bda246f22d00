//! One run of the step without the SDK: input names in, frames read through a [`Source`],
//! result JSON out. The plugin glue gives it the host's inputs; tests give it memory.

use crate::config::Config;
use crate::decode::decode;
use crate::thumb::Thumb;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The input holding the upstream `frames` step's JSON result (for frame times).
pub const FRAMES_JSON: &str = "frames.json";

/// An input as the host names it.
#[derive(Debug, Clone)]
pub struct Input {
    /// The input's name, e.g. `frame-12.jpg`.
    pub name: String,
    /// Its media type as the host knows it.
    pub media_type: String,
}

/// Why a run stopped, before the glue maps it to a step error.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The config or an input is wrong; the message names it.
    Invalid(String),
    /// The job was cancelled.
    Cancelled,
}

/// Where the frames come from, and who says stop.
pub trait Source {
    /// The error type of the source (the plugin's `StepError`).
    type Error: From<Failure>;
    /// The whole bytes of input `name`.
    fn read(&mut self, name: &str) -> Result<Vec<u8>, Self::Error>;
    /// `done` of `total` frames analysed.
    fn progress(&mut self, done: usize, total: usize);
    /// True once the job has been cancelled.
    fn cancelled(&mut self) -> bool;
}

/// The image inputs in frame order: JPEG/PNG by media type or extension, sorted by the
/// number in their name (`frame-2.jpg` before `frame-10.jpg`), unnumbered ones last.
pub fn image_inputs(inputs: &[Input]) -> Vec<&Input> {
    let mut images: Vec<&Input> = inputs
        .iter()
        .filter(|i| i.name != FRAMES_JSON && is_image(i))
        .collect();
    images.sort_by_key(|i| (index(&i.name).is_none(), index(&i.name), i.name.clone()));
    images
}

fn is_image(input: &Input) -> bool {
    let ext = input
        .name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    input.media_type.starts_with("image/") || matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png"))
}

/// The last run of digits in the name before its extension: `frame-12.jpg` -> 12.
fn index(name: &str) -> Option<u64> {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let end = stem.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = stem[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    stem[start..end].parse().ok()
}

#[derive(Deserialize)]
struct FramesResult {
    frames: Vec<FrameEntry>,
}

#[derive(Deserialize)]
struct FrameEntry {
    artifact: String,
    pts_seconds: Option<f64>,
    requested_seconds: Option<f64>,
}

/// Frame times by artifact name, from the upstream result (shown time, else asked time).
fn frame_times(bytes: &[u8]) -> Result<HashMap<String, f64>, Failure> {
    let parsed: FramesResult = serde_json::from_slice(bytes)
        .map_err(|e| Failure::Invalid(format!("{FRAMES_JSON}: not a frames result: {e}")))?;
    Ok(parsed
        .frames
        .into_iter()
        .filter_map(|f| Some((f.artifact, f.pts_seconds.or(f.requested_seconds)?)))
        .collect())
}

/// Analyses the image inputs in order and returns the result JSON.
pub fn run<S: Source>(
    inputs: &[Input],
    config: &Config,
    source: &mut S,
) -> Result<Value, S::Error> {
    config.validate().map_err(Failure::Invalid)?;
    let images = image_inputs(inputs);
    if images.is_empty() {
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        return Err(Failure::Invalid(format!(
            "no image inputs: expected JPEG or PNG frames (frame-0.jpg, frame-1.jpg, ...) \
             from a frames step, got {names:?}"
        ))
        .into());
    }
    if images.len() > config.max_frames as usize {
        return Err(Failure::Invalid(format!(
            "{} frames given, more than max_frames {}",
            images.len(),
            config.max_frames
        ))
        .into());
    }
    let times = if inputs.iter().any(|i| i.name == FRAMES_JSON) {
        frame_times(&source.read(FRAMES_JSON)?)?
    } else {
        HashMap::new()
    };
    let entry = |name: &str, score: f64| json!({ "artifact": name, "time_seconds": times.get(name).map(|&t| round(t, 3)), "score": round(score, 4) });

    let (mut cuts, mut motion) = (Vec::new(), Vec::new());
    let mut motion_sum = 0.0;
    let mut previous = None;
    for (i, image) in images.iter().enumerate() {
        if source.cancelled() {
            return Err(Failure::Cancelled.into());
        }
        let bytes = source.read(&image.name)?;
        let picture =
            decode(&bytes).map_err(|e| Failure::Invalid(format!("{}: {e}", image.name)))?;
        drop(bytes);
        let thumb = Thumb::from_picture(&picture);
        drop(picture);
        let histogram = thumb.histogram();
        if let Some((prev_thumb, prev_hist)) = &previous {
            let moved = thumb.motion(prev_thumb);
            motion_sum += moved;
            motion.push(entry(&image.name, moved));
            let distance = histogram.distance(prev_hist);
            if distance > config.threshold {
                cuts.push(entry(&image.name, distance));
            }
        }
        previous = Some((thumb, histogram));
        source.progress(i + 1, images.len());
    }
    let mean_motion = if motion.is_empty() {
        0.0
    } else {
        motion_sum / motion.len() as f64
    };
    Ok(json!({
        "frames": images.len(),
        "cuts": cuts,
        "scenes": cuts.len() + 1,
        "motion": motion,
        "mean_motion": round(mean_motion, 4),
    }))
}

fn round(v: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (v * scale).round() / scale
}

#[cfg(test)]
mod tests;
