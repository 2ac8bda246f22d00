//! The step's config: parsing rules, validation, the JSON Schema, and the times it asks for.

use crate::encode::Format;
use serde::Deserialize;

/// How a requested time maps to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The keyframe at or before the time: one picture decoded, fast.
    #[default]
    Keyframe,
    /// The frame shown at the time: decoded from the keyframe before it.
    Exact,
}

/// The config object of a `frames` step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `keyframe` (default) or `exact`.
    #[serde(default)]
    pub mode: Mode,
    /// One frame at this time, in seconds.
    pub at_seconds: Option<f64>,
    /// This many frames spread evenly over the video.
    pub count: Option<u32>,
    /// One frame every this many seconds, from 0.
    pub every_seconds: Option<f64>,
    /// `jpeg` (default) or `png`.
    #[serde(default = "default_format")]
    pub format: Format,
    /// JPEG quality 1-100.
    #[serde(default = "default_quality")]
    pub quality: u8,
    /// Scale frames down to at most this width.
    pub max_width: Option<u32>,
    /// Refuse to produce more frames than this.
    #[serde(default = "default_max_frames")]
    pub max_frames: u32,
}

fn default_format() -> Format {
    Format::Jpeg
}
fn default_quality() -> u8 {
    85
}
fn default_max_frames() -> u32 {
    100
}

/// Highest `max_frames` accepted.
pub const MAX_FRAMES_LIMIT: u32 = 10_000;

/// The JSON Schema of [`Config`], for `describe()`.
pub const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "mode": {"enum": ["keyframe", "exact"], "default": "keyframe",
             "description": "keyframe: nearest keyframe at or before the time (fast); exact: the frame shown at the time"},
    "at_seconds": {"type": "number", "minimum": 0, "description": "one frame at this time"},
    "count": {"type": "integer", "minimum": 1, "description": "this many frames, spread evenly"},
    "every_seconds": {"type": "number", "exclusiveMinimum": 0, "description": "one frame every this many seconds from 0"},
    "format": {"enum": ["jpeg", "png"], "default": "jpeg"},
    "quality": {"type": "integer", "minimum": 1, "maximum": 100, "default": 85},
    "max_width": {"type": "integer", "minimum": 1, "maximum": 8192},
    "max_frames": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}
  },
  "oneOf": [
    {"required": ["at_seconds"], "not": {"anyOf": [{"required": ["count"]}, {"required": ["every_seconds"]}]}},
    {"required": ["count"], "not": {"anyOf": [{"required": ["at_seconds"]}, {"required": ["every_seconds"]}]}},
    {"required": ["every_seconds"], "not": {"anyOf": [{"required": ["at_seconds"]}, {"required": ["count"]}]}}
  ]
}"#;

impl Config {
    /// Checks what serde cannot: exactly one selector, ranges, the frame cap.
    pub fn validate(&self) -> Result<(), String> {
        let chosen = [
            self.at_seconds.is_some(),
            self.count.is_some(),
            self.every_seconds.is_some(),
        ];
        if chosen.iter().filter(|c| **c).count() != 1 {
            return Err("give exactly one of at_seconds, count or every_seconds".into());
        }
        if let Some(t) = self.at_seconds
            && (!t.is_finite() || t < 0.0)
        {
            return Err(format!("at_seconds must be a time of 0 or more, not {t}"));
        }
        if let Some(k) = self.every_seconds
            && (!k.is_finite() || k <= 0.0)
        {
            return Err(format!("every_seconds must be more than 0, not {k}"));
        }
        if self.count == Some(0) {
            return Err("count must be at least 1".into());
        }
        if !(1..=100).contains(&self.quality) {
            return Err(format!(
                "quality must be from 1 to 100, not {}",
                self.quality
            ));
        }
        if let Some(w) = self.max_width
            && !(1..=8192).contains(&w)
        {
            return Err(format!("max_width must be from 1 to 8192, not {w}"));
        }
        if !(1..=MAX_FRAMES_LIMIT).contains(&self.max_frames) {
            return Err(format!(
                "max_frames must be from 1 to {MAX_FRAMES_LIMIT}, not {}",
                self.max_frames
            ));
        }
        if let Some(n) = self.count
            && n > self.max_frames
        {
            return Err(format!(
                "count {n} is more than max_frames {}",
                self.max_frames
            ));
        }
        Ok(())
    }

    /// The times to extract, in seconds, for a video of `duration` seconds.
    pub fn times(&self, duration: f64) -> Result<Vec<f64>, String> {
        if let Some(t) = self.at_seconds {
            if t >= duration {
                return Err(format!(
                    "at_seconds {t} is past the end of the video ({duration:.3} s)"
                ));
            }
            return Ok(vec![t]);
        }
        if let Some(n) = self.count {
            // The middle of each of n equal slices: no frame at the very start or end,
            // where fades and black frames are.
            return Ok((0..n)
                .map(|i| duration * (f64::from(i) + 0.5) / f64::from(n))
                .collect());
        }
        let step = self.every_seconds.unwrap_or(1.0);
        let n = (duration / step).ceil();
        if n > f64::from(self.max_frames) {
            return Err(format!(
                "every_seconds {step} over {duration:.3} s gives {n} frames, more than max_frames {}",
                self.max_frames
            ));
        }
        Ok((0..n as u32)
            .map(|i| f64::from(i) * step)
            .filter(|t| *t < duration)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Config, String> {
        let c: Config = serde_json::from_str(json).map_err(|e| e.to_string())?;
        c.validate()?;
        Ok(c)
    }

    #[test]
    fn selectors_and_limits() {
        assert!(parse(r#"{"at_seconds": 1}"#).is_ok());
        assert!(parse(r#"{}"#).is_err());
        assert!(parse(r#"{"at_seconds": 1, "count": 2}"#).is_err());
        assert!(parse(r#"{"count": 101}"#).is_err());
        assert!(parse(r#"{"count": 5, "colour": 1}"#).is_err());
        assert!(parse(r#"{"count": 5, "quality": 0}"#).is_err());
        assert!(parse(r#"{"count": 5, "format": "gif"}"#).is_err());
        let c = parse(r#"{"every_seconds": 0.1, "max_frames": 50}"#).unwrap();
        assert!(c.times(10.0).is_err());
        let c = parse(r#"{"every_seconds": 2.5}"#).unwrap();
        assert_eq!(c.times(10.0).unwrap(), vec![0.0, 2.5, 5.0, 7.5]);
        let c = parse(r#"{"count": 2, "mode": "exact"}"#).unwrap();
        assert_eq!(c.times(10.0).unwrap(), vec![2.5, 7.5]);
        assert!(parse(r#"{"at_seconds": 11}"#).unwrap().times(10.0).is_err());
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        assert_eq!(schema["type"], "object");
    }
}
