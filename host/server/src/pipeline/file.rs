//! The pipeline file format, as written (TOML with positions kept for error messages).
//!
//! ```toml
//! name = "frame-at"                 # unique, [a-z0-9-]
//! description = "One frame of a video at a time."
//! lane = "preview"                  # queue lane (default "default")
//! priority = 10                     # higher runs first within the lane
//! max_attempts = 3
//! accepts = ["upload", "url"]       # job input kinds: upload, url, youtube, none
//!
//! [params.at_seconds]               # what a client may pass in `params`
//! type = "number"
//! default = 0
//! minimum = 0
//!
//! [[steps]]
//! name = "frame"
//! plugin = "frames@0.1"             # name, name@version-requirement, or sha256:<digest>
//! inputs = { video = "$input" }     # "$input", "<step>.<artifact>", "<step>.*", "<step>.result"
//! config = { at_seconds = "$params.at_seconds" }
//! hosts = []                        # hosts the step may reach (with the plugin's own needs)
//! limits = { memory_mib = 64, deadline_ms = 30000 }
//!
//! [[steps.fallback]]                # tried in order when the step above fails
//! plugin = "..."
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A whole pipeline file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub lane: Option<Spanned<String>>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub max_attempts: Option<Spanned<u32>>,
    #[serde(default)]
    pub accepts: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub params: BTreeMap<String, Spanned<ParamFile>>,
    pub steps: Spanned<Vec<StepFile>>,
}

/// A parameter a client may set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamFile {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub default: Option<toml::Value>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub minimum: Option<f64>,
    #[serde(default)]
    pub maximum: Option<f64>,
    #[serde(default, rename = "enum")]
    pub choices: Option<Vec<String>>,
    #[serde(default)]
    pub description: String,
}

/// One step: a plugin run, with optional fallbacks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    pub name: Spanned<String>,
    pub plugin: Spanned<String>,
    #[serde(default)]
    pub config: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub inputs: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub hosts: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub limits: Option<Spanned<LimitsFile>>,
    #[serde(default)]
    pub fallback: Vec<FallbackFile>,
}

/// An alternative run of a step (same fields as a step, without a name or fallbacks).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackFile {
    pub plugin: Spanned<String>,
    #[serde(default)]
    pub config: Option<Spanned<toml::Table>>,
    #[serde(default)]
    pub inputs: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub hosts: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub limits: Option<Spanned<LimitsFile>>,
}

/// Per-step limits; each one left out takes the server's default.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub memory_mib: Option<u32>,
    pub cpu_ms: Option<u64>,
    pub deadline_ms: Option<u64>,
    pub output_bytes: Option<u64>,
    pub log_bytes: Option<u64>,
    pub max_artifacts: Option<u32>,
    pub max_handles: Option<u32>,
    pub max_media_type_bytes: Option<u32>,
}

/// A plugin run as written: the step itself or one of its fallbacks.
pub struct RunFile<'a> {
    pub plugin: &'a Spanned<String>,
    pub config: &'a Option<Spanned<toml::Table>>,
    pub inputs: &'a BTreeMap<String, Spanned<String>>,
    pub hosts: &'a Option<Spanned<Vec<String>>>,
    pub limits: &'a Option<Spanned<LimitsFile>>,
}

impl StepFile {
    /// The step's own run, then its fallbacks.
    pub fn runs(&self) -> Vec<RunFile<'_>> {
        let mut runs = vec![RunFile {
            plugin: &self.plugin,
            config: &self.config,
            inputs: &self.inputs,
            hosts: &self.hosts,
            limits: &self.limits,
        }];
        runs.extend(self.fallback.iter().map(|f| RunFile {
            plugin: &f.plugin,
            config: &f.config,
            inputs: &f.inputs,
            hosts: &f.hosts,
            limits: &f.limits,
        }));
        runs
    }
}
