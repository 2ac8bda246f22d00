//! One run of the step, independent of the SDK: which inputs are frames and in what order,
//! their timestamps from `frames.json`, detection and tracking frame by frame, annotated
//! images and the JSON result. The component (`plugin.rs`) only adapts [`Io`] to the host,
//! so this whole path is tested natively with an in-memory [`Io`].

use crate::decode::Detection;
use crate::draw;
use crate::image::{self, ImageError};
use crate::model::{self, Detector, Params};
use crate::track::{TrackParams, Tracker};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Instant;

/// Default least person score. On the fixtures (README), the weakest true person scored
/// 0.511 and the strongest false positive (a traffic cone) 0.449.
pub const DEFAULT_THRESHOLD: f32 = 0.5;
/// Default network input side.
pub const DEFAULT_INPUT_SIZE: usize = 416;
/// Default NMS overlap.
pub const DEFAULT_IOU: f32 = 0.5;
/// Default `max_frames`.
pub const DEFAULT_MAX_FRAMES: usize = 1000;
/// Highest `max_frames` accepted (the `frames` step's own cap).
pub const MAX_FRAMES_LIMIT: usize = 10_000;

/// Largest image file read whole (a 4K PNG is about 25 MB).
pub const MAX_IMAGE_BYTES: u64 = 48 << 20;
/// Largest `frames.json` read.
pub const MAX_INDEX_BYTES: u64 = 16 << 20;

/// Name of the single-image input.
pub const IMAGE_INPUT: &str = "image";
/// Name of the upstream `frames` step's result, when given.
pub const INDEX_INPUT: &str = "frames.json";

/// JSON Schema of [`Config`], as `describe` publishes it.
pub const SCHEMA: &str = r#"{"type":"object","additionalProperties":false,"properties":{
"threshold":{"type":"number","exclusiveMinimum":0,"maximum":1,"default":0.5,"description":"Least person score counted."},
"input_size":{"type":"integer","minimum":128,"maximum":640,"multipleOf":32,"default":416,"description":"Network input side in pixels: larger finds smaller people but is slower (320: about 0.55x, 640: about 3x the time of 416)."},
"iou":{"type":"number","exclusiveMinimum":0,"maximum":1,"default":0.5,"description":"Overlap above which non-maximum suppression drops the weaker of two boxes."},
"annotate":{"enum":["none","max","all"],"default":"max","description":"Annotated JPEGs to write: none, the frame with the most people (first such frame), or every frame. Each is annotated-<index>.jpg, index as in frame-<index>."},
"max_frames":{"type":"integer","minimum":1,"maximum":10000,"default":1000,"description":"Most frames processed: the first ones in index order; the rest are skipped (see processed_frames, total_frames)."}}}"#;

/// Which frames get an annotated copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Annotate {
    /// No annotated images.
    None,
    /// The first frame with the most people.
    Max,
    /// Every processed frame.
    All,
}

/// The step's config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Least person score counted.
    #[serde(default = "default_threshold")]
    pub threshold: f32,
    /// Network input side.
    #[serde(default = "default_input_size")]
    pub input_size: usize,
    /// NMS overlap.
    #[serde(default = "default_iou")]
    pub iou: f32,
    /// Annotated images to write.
    #[serde(default = "default_annotate")]
    pub annotate: Annotate,
    /// Most frames processed.
    #[serde(default = "default_max_frames")]
    pub max_frames: usize,
}

fn default_threshold() -> f32 {
    DEFAULT_THRESHOLD
}
fn default_input_size() -> usize {
    DEFAULT_INPUT_SIZE
}
fn default_iou() -> f32 {
    DEFAULT_IOU
}
fn default_annotate() -> Annotate {
    Annotate::Max
}
fn default_max_frames() -> usize {
    DEFAULT_MAX_FRAMES
}

impl Default for Config {
    fn default() -> Self {
        serde_json::from_str("{}").expect("every field has a default")
    }
}

impl Config {
    /// Checks the ranges the schema states (the host may not have validated the config).
    pub fn validate(&self) -> Result<(), Failure> {
        let invalid = |m: String| Err(Failure::InvalidInput(format!("config: {m}")));
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return invalid(format!(
                "threshold must be in (0, 1], not {}",
                self.threshold
            ));
        }
        if !(self.iou > 0.0 && self.iou <= 1.0) {
            return invalid(format!("iou must be in (0, 1], not {}", self.iou));
        }
        if let Err(e) = model::check_input_size(self.input_size) {
            return invalid(e);
        }
        if !(1..=MAX_FRAMES_LIMIT).contains(&self.max_frames) {
            return invalid(format!(
                "max_frames must be from 1 to {MAX_FRAMES_LIMIT}, not {}",
                self.max_frames
            ));
        }
        Ok(())
    }
}

/// Why a run failed, before it is mapped to the host's error kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Bad config or inputs.
    InvalidInput(String),
    /// Valid but unsupported input (an image that is neither JPEG nor PNG).
    Unsupported(String),
    /// The job was cancelled.
    Cancelled,
    /// A bug, or the model failing.
    Internal(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Failure::Unsupported(m) => write!(f, "unsupported: {m}"),
            Failure::Cancelled => f.write_str("cancelled"),
            Failure::Internal(m) => write!(f, "internal: {m}"),
        }
    }
}

/// What a run needs from the host.
pub trait Io {
    /// The host's error type; run failures convert into it.
    type Error: From<Failure>;
    /// Names of the inputs given.
    fn input_names(&self) -> Vec<String>;
    /// Reads a whole input; fails when it is larger than `limit` bytes.
    fn read(&mut self, name: &str, limit: u64) -> Result<Vec<u8>, Self::Error>;
    /// Writes a whole artifact.
    fn write_artifact(
        &mut self,
        name: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), Self::Error>;
    /// Reports progress.
    fn progress(&mut self, processed: u64, total: u64);
    /// True once the job is cancelled.
    fn cancelled(&mut self) -> bool;
    /// A warning for the job's log.
    fn warn(&mut self, message: &str);
}

/// One image input to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInput {
    /// The input's name, e.g. `frame-12.jpg` or `image`.
    pub name: String,
    /// `<index>` of `frame-<index>`; 0 for `image`.
    pub index: u64,
}

/// `<index>` of an input named `frame-<index>` or `frame-<index>.<extension>`.
pub fn frame_index(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("frame-")?;
    let (digits, ext) = match rest.split_once('.') {
        Some((d, e)) => (d, Some(e)),
        None => (rest, None),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if ext.is_some_and(|e| e.is_empty() || e.contains('.')) {
        return None;
    }
    digits.parse().ok()
}

/// The image inputs among `names`, in processing order, and the names left unused.
///
/// Either one `image`, or `frame-<index>` inputs processed in numeric order of their
/// index (`frame-2` before `frame-10`). `frames.json` is not an image; any other name is
/// returned as unused.
pub fn select_frames(names: &[String]) -> Result<(Vec<FrameInput>, Vec<String>), Failure> {
    let mut frames = Vec::new();
    let mut unused = Vec::new();
    let mut image = false;
    for name in names {
        if let Some(index) = frame_index(name) {
            frames.push(FrameInput {
                name: name.clone(),
                index,
            });
        } else if name == IMAGE_INPUT {
            image = true;
        } else if name != INDEX_INPUT {
            unused.push(name.clone());
        }
    }
    if image && !frames.is_empty() {
        return Err(Failure::InvalidInput(format!(
            "give either one `{IMAGE_INPUT}` input or `frame-<index>` inputs, not both"
        )));
    }
    if image {
        frames.push(FrameInput {
            name: IMAGE_INPUT.to_owned(),
            index: 0,
        });
    }
    if frames.is_empty() {
        return Err(Failure::InvalidInput(format!(
            "no image input: give `{IMAGE_INPUT}` or `frame-<index>.jpg`/.png inputs"
        )));
    }
    frames.sort_by(|a, b| a.index.cmp(&b.index).then_with(|| a.name.cmp(&b.name)));
    if let Some(pair) = frames.windows(2).find(|w| w[0].index == w[1].index) {
        return Err(Failure::InvalidInput(format!(
            "inputs `{}` and `{}` have the same frame index",
            pair[0].name, pair[1].name
        )));
    }
    unused.sort();
    Ok((frames, unused))
}

/// The parts of the `frames` step's result this step uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FramesIndex {
    /// One entry per extracted frame.
    #[serde(default)]
    pub frames: Vec<FrameEntry>,
}

/// One frame of [`FramesIndex`].
#[derive(Debug, Clone, Deserialize)]
pub struct FrameEntry {
    /// The artifact's name, e.g. `frame-0.jpg`.
    pub artifact: String,
    /// Presentation time of the decoded frame, in seconds.
    #[serde(default)]
    pub pts_seconds: Option<f64>,
}

impl FramesIndex {
    /// Parses `frames.json`.
    pub fn parse(bytes: &[u8]) -> Result<FramesIndex, Failure> {
        serde_json::from_slice(bytes)
            .map_err(|e| Failure::InvalidInput(format!("input `{INDEX_INPUT}`: {e}")))
    }

    /// Artifact name to presentation time, for entries that have one.
    pub fn times(&self) -> HashMap<&str, f64> {
        self.frames
            .iter()
            .filter_map(|f| Some((f.artifact.as_str(), f.pts_seconds?)))
            .collect()
    }
}

/// One processed frame.
#[derive(Debug, Clone)]
pub struct FrameResult {
    /// The input's name.
    pub artifact: String,
    /// Its index (`frame-<index>`).
    pub index: u64,
    /// Presentation time from `frames.json`, if known.
    pub time_seconds: Option<f64>,
    /// Image size.
    pub width: usize,
    /// Image size.
    pub height: usize,
    /// People found, best first, in the image's pixels.
    pub detections: Vec<Detection>,
}

/// Runs the step: detects people in every selected frame with one model instance.
pub fn run<I: Io>(io: &mut I, config: &Config) -> Result<Value, I::Error> {
    let started = Instant::now();
    config.validate()?;
    let (frames, unused) = select_frames(&io.input_names())?;
    if !unused.is_empty() {
        io.warn(&format!("inputs ignored: {}", unused.join(", ")));
    }
    let index = if io.input_names().iter().any(|n| n == INDEX_INPUT) {
        let bytes = io.read(INDEX_INPUT, MAX_INDEX_BYTES)?;
        FramesIndex::parse(&bytes)?
    } else {
        FramesIndex::default()
    };
    let times = index.times();
    let total_frames = frames.len();
    let todo = &frames[..total_frames.min(config.max_frames)];
    if todo.len() < total_frames {
        io.warn(&format!(
            "processing the first {} of {total_frames} frames (max_frames)",
            todo.len()
        ));
    }
    io.progress(0, todo.len() as u64);
    if io.cancelled() {
        return Err(Failure::Cancelled.into());
    }

    let loaded = Instant::now();
    let detector = Detector::new(config.input_size)
        .map_err(|e| Failure::Internal(format!("loading the model: {e:#}")))?;
    let model_load_ms = loaded.elapsed().as_secs_f64() * 1e3;
    let params = Params {
        threshold: config.threshold,
        iou: config.iou,
    };

    // The tracker measures time in seconds when every frame has one, else in frames.
    let timed = todo.iter().all(|f| times.contains_key(f.name.as_str()));
    let frames_started = Instant::now();
    let mut tracker = Tracker::new(TrackParams::default());
    let mut results: Vec<FrameResult> = Vec::with_capacity(todo.len());
    let mut annotated = Vec::new();
    for (done, frame) in todo.iter().enumerate() {
        if io.cancelled() {
            return Err(Failure::Cancelled.into());
        }
        let bytes = io.read(&frame.name, MAX_IMAGE_BYTES)?;
        let mut img = decode(&frame.name, &bytes)?;
        drop(bytes);
        let detections = detector
            .detect(&img, params)
            .map_err(|e| Failure::Internal(format!("inference on `{}`: {e:#}", frame.name)))?;
        let time_seconds = times.get(frame.name.as_str()).copied();
        tracker.update(
            &detections,
            if timed {
                time_seconds.unwrap_or_default()
            } else {
                done as f64
            },
        );
        if config.annotate == Annotate::All {
            annotated.push(annotate(io, &mut img, frame.index, &detections)?);
        }
        results.push(FrameResult {
            artifact: frame.name.clone(),
            index: frame.index,
            time_seconds,
            width: img.width,
            height: img.height,
            detections,
        });
        io.progress(done as u64 + 1, todo.len() as u64);
    }
    let frames_ms = frames_started.elapsed().as_secs_f64() * 1e3;
    drop(detector);

    if config.annotate == Annotate::Max {
        // The first frame with the most people, read again: keeping its pixels during the
        // loop would cost a frame's memory for the whole run.
        if let Some(best) = results.iter().rev().max_by_key(|r| r.detections.len()) {
            let bytes = io.read(&best.artifact, MAX_IMAGE_BYTES)?;
            let mut img = decode(&best.artifact, &bytes)?;
            drop(bytes);
            annotated.push(annotate(io, &mut img, best.index, &best.detections)?);
        }
    }

    let wall_seconds = started.elapsed().as_secs_f64();
    let processed = results.len();
    Ok(summary(
        config,
        &results,
        Summary {
            total_frames,
            unique_people: tracker.confirmed(processed),
            annotated,
            wall_seconds,
            model_load_ms,
            frames_ms,
        },
    ))
}

/// Decodes one image input, naming it in errors.
fn decode(name: &str, bytes: &[u8]) -> Result<image::Rgb, Failure> {
    image::decode(bytes).map_err(|e| match e {
        ImageError::UnknownFormat => Failure::Unsupported(format!("input `{name}`: {e}")),
        _ => Failure::InvalidInput(format!("input `{name}`: {e}")),
    })
}

/// Draws `detections` on `img`, writes `annotated-<index>.jpg` and returns its name.
fn annotate<I: Io>(
    io: &mut I,
    img: &mut image::Rgb,
    index: u64,
    detections: &[Detection],
) -> Result<String, I::Error> {
    draw::draw_boxes(img, detections);
    let jpeg = draw::encode_jpeg(img, 85).map_err(Failure::Internal)?;
    let name = format!("annotated-{index}.jpg");
    io.write_artifact(&name, "image/jpeg", &jpeg)?;
    Ok(name)
}

/// Run-wide figures for [`summary`].
struct Summary {
    total_frames: usize,
    unique_people: usize,
    annotated: Vec<String>,
    wall_seconds: f64,
    model_load_ms: f64,
    frames_ms: f64,
}

fn round(v: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (v * k).round() / k
}

/// The result JSON.
fn summary(config: &Config, results: &[FrameResult], s: Summary) -> Value {
    let processed = results.len();
    let counts = results.iter().map(|r| r.detections.len());
    let max = counts.clone().max().unwrap_or(0);
    let average = if processed == 0 {
        0.0
    } else {
        counts.sum::<usize>() as f64 / processed as f64
    };
    let frames: Vec<Value> = results
        .iter()
        .map(|r| {
            let detections: Vec<Value> = r
                .detections
                .iter()
                .map(|d| {
                    json!({
                        "x": round(f64::from(d.x), 1),
                        "y": round(f64::from(d.y), 1),
                        "w": round(f64::from(d.w), 1),
                        "h": round(f64::from(d.h), 1),
                        "score": round(f64::from(d.score), 3),
                    })
                })
                .collect();
            json!({
                "artifact": r.artifact,
                "time_seconds": r.time_seconds,
                "width": r.width,
                "height": r.height,
                "count": r.detections.len(),
                "detections": detections,
            })
        })
        .collect();
    let fps = if s.wall_seconds > 0.0 {
        processed as f64 / s.wall_seconds
    } else {
        0.0
    };
    let ms_per_frame = if processed == 0 {
        0.0
    } else {
        s.frames_ms / processed as f64
    };
    json!({
        "person_count": max,
        "average": round(average, 2),
        "unique_people": s.unique_people,
        "processed_frames": processed,
        "total_frames": s.total_frames,
        "fps": round(fps, 2),
        "model": "nanodet-m",
        "input_size": config.input_size,
        "threshold": round(f64::from(config.threshold), 4),
        "model_load_ms": round(s.model_load_ms, 1),
        "ms_per_frame": round(ms_per_frame, 1),
        "frames": frames,
        "annotated": s.annotated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn frame_indices_are_parsed_strictly() {
        assert_eq!(frame_index("frame-0.jpg"), Some(0));
        assert_eq!(frame_index("frame-12.png"), Some(12));
        assert_eq!(frame_index("frame-007.jpg"), Some(7));
        assert_eq!(frame_index("frame-3"), Some(3));
        for bad in [
            "frame-.jpg",
            "frame-x.jpg",
            "frame--1.jpg",
            "frame-1.",
            "frame-1.tar.gz",
            "frames.json",
            "image",
            "Frame-1.jpg",
            "frame-99999999999999999999999.jpg",
        ] {
            assert_eq!(frame_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn frames_are_ordered_by_numeric_index() {
        let (frames, unused) = select_frames(&names(&[
            "frame-10.jpg",
            "frames.json",
            "frame-2.jpg",
            "notes.txt",
            "frame-1.png",
            "frame-0.jpg",
        ]))
        .unwrap();
        let order: Vec<&str> = frames.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            order,
            ["frame-0.jpg", "frame-1.png", "frame-2.jpg", "frame-10.jpg"]
        );
        assert_eq!(unused, ["notes.txt"]);
    }

    #[test]
    fn the_single_image_input_still_works() {
        let (frames, unused) = select_frames(&names(&["image"])).unwrap();
        assert_eq!(
            frames,
            [FrameInput {
                name: "image".into(),
                index: 0
            }]
        );
        assert!(unused.is_empty());
    }

    #[test]
    fn bad_input_sets_are_refused() {
        for set in [
            &["image", "frame-0.jpg"][..],
            &["frames.json"][..],
            &[][..],
            &["frame-1.jpg", "frame-01.png"][..],
        ] {
            assert!(
                matches!(select_frames(&names(set)), Err(Failure::InvalidInput(_))),
                "{set:?}"
            );
        }
    }

    #[test]
    fn frames_json_maps_artifacts_to_times() {
        let index = FramesIndex::parse(
            br#"{"frames":[{"artifact":"frame-0.jpg","pts_seconds":0.0,"keyframe":true},
                {"artifact":"frame-1.jpg","pts_seconds":2.5},{"artifact":"frame-2.jpg"}],
                "fps":10.0,"duration_seconds":79.5,"codec":"h264"}"#,
        )
        .unwrap();
        let times = index.times();
        assert_eq!(times.get("frame-0.jpg"), Some(&0.0));
        assert_eq!(times.get("frame-1.jpg"), Some(&2.5));
        assert_eq!(times.get("frame-2.jpg"), None);
        assert!(FramesIndex::parse(b"[1,2]").is_err());
        assert!(FramesIndex::parse(br#"{"frames":[{"pts_seconds":1}]}"#).is_err());
    }

    #[test]
    fn config_defaults_match_the_schema() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let props = &schema["properties"];
        let config = Config::default();
        assert_eq!(
            props["threshold"]["default"].as_f64().unwrap() as f32,
            config.threshold
        );
        assert_eq!(
            props["input_size"]["default"].as_u64().unwrap() as usize,
            config.input_size
        );
        assert_eq!(props["iou"]["default"].as_f64().unwrap() as f32, config.iou);
        assert_eq!(props["annotate"]["default"], "max");
        assert_eq!(config.annotate, Annotate::Max);
        assert_eq!(
            props["max_frames"]["default"].as_u64().unwrap() as usize,
            config.max_frames
        );
        assert_eq!(
            props["max_frames"]["maximum"].as_u64().unwrap() as usize,
            MAX_FRAMES_LIMIT
        );
        assert_eq!(schema["additionalProperties"], false);
        config.validate().unwrap();
    }

    #[test]
    fn config_is_checked() {
        let parse = |s: &str| serde_json::from_str::<Config>(s);
        assert!(parse(r#"{"annotate":"some"}"#).is_err());
        assert!(parse(r#"{"annotate":true}"#).is_err());
        assert!(parse(r#"{"colour":"red"}"#).is_err());
        assert_eq!(
            parse(r#"{"annotate":"all"}"#).unwrap().annotate,
            Annotate::All
        );
        for bad in [
            r#"{"input_size":400}"#,
            r#"{"input_size":96}"#,
            r#"{"input_size":672}"#,
            r#"{"threshold":0}"#,
            r#"{"threshold":1.5}"#,
            r#"{"max_frames":0}"#,
            r#"{"max_frames":10001}"#,
        ] {
            assert!(parse(bad).unwrap().validate().is_err(), "{bad}");
        }
        for good in [128, 160, 320, 416, 608, 640] {
            let c = parse(&format!(r#"{{"input_size":{good}}}"#)).unwrap();
            c.validate().unwrap();
        }
    }
}
