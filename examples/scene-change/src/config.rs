//! The step's config: fields, defaults, checks and the JSON Schema given in `describe()`.

use serde::Deserialize;

/// Default cut threshold on the histogram distance (0..1).
///
/// Measured with `examples/calibrate.rs` on frames sampled every 0.5 s at 320 px wide (what
/// `pipeline.toml` asks of `frames`) from the clips of Debian's `opencv-doc`: within one
/// shot the distance stayed at or below 0.04 (vtest.avi: a still camera, people walking),
/// 0.09 (Megamind.avi: animated, moving characters) and 0.20 (tree.avi: a hand sweeping
/// in front of the lens); cuts between shots of the same dim setting (Megamind.avi) scored
/// 0.33-0.38, cuts between different clips 0.72-0.95. 0.25 sits in the gap between 0.20
/// and 0.33. Few clips: raise it for footage with fast pans, lower it to catch cuts
/// between near-identical shots.
pub const DEFAULT_THRESHOLD: f64 = 0.25;

/// Default cap on the number of frames analysed (above the 600 that `pipeline.toml` asks
/// of `frames`).
pub const DEFAULT_MAX_FRAMES: u32 = 1000;

/// Highest `max_frames` accepted.
pub const MAX_FRAMES_LIMIT: u32 = 100_000;

/// The config object of a `scene-change` step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A cut is marked where the histogram distance to the previous frame exceeds this.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Refuse to analyse more image inputs than this.
    #[serde(default = "default_max_frames")]
    pub max_frames: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threshold: DEFAULT_THRESHOLD,
            max_frames: DEFAULT_MAX_FRAMES,
        }
    }
}

fn default_threshold() -> f64 {
    DEFAULT_THRESHOLD
}
fn default_max_frames() -> u32 {
    DEFAULT_MAX_FRAMES
}

/// The JSON Schema of [`Config`], for `describe()`.
pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "threshold": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.25,
                  "description": "a cut is marked where the colour-histogram distance to the previous frame exceeds this"},
    "max_frames": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1000,
                   "description": "refuse to analyse more frames than this"}
  }
}"#;

impl Config {
    /// Checks what serde cannot (the host checks the schema too, but a plugin must not
    /// rely on it: it may run under another host or with the schema check off).
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(format!(
                "threshold must be from 0 to 1, got {}",
                self.threshold
            ));
        }
        if !(1..=MAX_FRAMES_LIMIT).contains(&self.max_frames) {
            return Err(format!(
                "max_frames must be from 1 to {MAX_FRAMES_LIMIT}, got {}",
                self.max_frames
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_gives_the_defaults() {
        let c: Config = serde_json::from_str("{}").unwrap();
        assert_eq!(c.threshold, DEFAULT_THRESHOLD);
        assert_eq!(c.max_frames, DEFAULT_MAX_FRAMES);
        c.validate().unwrap();
    }

    #[test]
    fn unknown_fields_and_bad_ranges_are_refused() {
        assert!(serde_json::from_str::<Config>(r#"{"treshold":0.5}"#).is_err());
        let c: Config = serde_json::from_str(r#"{"threshold":1.5}"#).unwrap();
        assert!(c.validate().unwrap_err().contains("threshold"));
        let c: Config = serde_json::from_str(r#"{"max_frames":0}"#).unwrap();
        assert!(c.validate().unwrap_err().contains("max_frames"));
    }

    #[test]
    fn schema_is_json_and_matches_the_defaults() {
        let s: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        assert_eq!(s["additionalProperties"], false);
        let p = &s["properties"];
        assert_eq!(p["threshold"]["default"], DEFAULT_THRESHOLD);
        assert_eq!(p["max_frames"]["default"], DEFAULT_MAX_FRAMES);
        assert_eq!(p["max_frames"]["maximum"], MAX_FRAMES_LIMIT);
    }
}
